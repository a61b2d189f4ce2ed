import type { IndiMessage, ParserLimits, XmlParseError } from '@indi-ts/indi-xml'
import { buildMessageBytes, IndiError, IndiParser } from '@indi-ts/indi-xml'
import { type AbortOptions, type Connection, drainedWithin } from '@indi-ts/transport'
import { BinaryMessageStream, type BinaryStreamOptions } from './link.js'

/**
 * INDI messages both ways over one connection, whatever the encoding: what a server or driver
 * codes against so that a peer can be XML or binary. `BinaryMessageStream` and
 * `XmlMessageStream` implement it; `openMessageStream` picks one.
 */
export interface MessageStream extends AsyncIterable<IndiMessage> {
  /** For logs: the connection's label. */
  readonly label: string
  /** Settles once the connection has closed (see `Connection.closed`). */
  readonly closed: Promise<Error | undefined>
  /** Queues one message; false once past the high-water mark (then await `drained()`). */
  send(message: IndiMessage): boolean
  /** Sends and, when needed, waits for the connection to drain (with a deadline). */
  write(message: IndiMessage, options?: AbortOptions): Promise<void>
  /** Resolves when sending may continue; `ERR_INDI_SLOW_PEER` after the deadline. */
  drained(options?: AbortOptions): Promise<void>
  /** Flushes what was sent and closes the connection. */
  close(options?: AbortOptions): Promise<void>
  /** Stops now; see `Connection.destroy`. */
  destroy(reason?: Error): void
}

/** Options of `XmlMessageStream`. */
export interface XmlStreamOptions {
  /** indi-xml parser limits (element sizes …). */
  limits?: ParserLimits
  /** See `BinaryWriterOptions.drainTimeoutMs`. Default 60 000 ms. */
  drainTimeoutMs?: number
  /** Malformed or oversize XML: the parser has skipped it and goes on. Default: ignored. */
  onError?: (error: XmlParseError) => void
  /** A well-formed element INDI does not define. Default: ignored. */
  onUnknown?: (tag: string, bytes: Uint8Array) => void
  /** Wrap BLOB base64 every N characters (libindi: 72). See indi-xml `BuildOptions`. */
  blobLineLength?: number
}

/**
 * `MessageStream` over INDI XML (indi-xml's parser and builder): the same API as
 * `BinaryMessageStream`, for peers that are not indi-ts. Bad XML never ends the stream: the
 * parser resynchronises and reports it to `onError`.
 */
export class XmlMessageStream implements MessageStream {
  private iterating = false
  private readonly drainTimeoutMs: number

  constructor(
    readonly connection: Connection,
    private readonly options: XmlStreamOptions = {},
  ) {
    this.drainTimeoutMs = options.drainTimeoutMs ?? 60_000
  }

  get label(): string {
    return this.connection.label
  }

  get closed(): Promise<Error | undefined> {
    return this.connection.closed
  }

  /**
   * Incoming messages. A second iteration throws.
   * @throws IndiError `ERR_INDI_CLOSED` when iterated twice; the connection's error unchanged.
   */
  [Symbol.asyncIterator](): AsyncIterator<IndiMessage> {
    if (this.iterating) throw new IndiError('ERR_INDI_CLOSED', `${this.label}: XML stream already iterated`)
    this.iterating = true
    return this.read()
  }

  private async *read(): AsyncGenerator<IndiMessage, void, undefined> {
    const parser = new IndiParser(this.options.limits)
    const { onError, onUnknown } = this.options
    const handle = function* (events: ReturnType<IndiParser['push']>): Generator<IndiMessage> {
      for (const ev of events) {
        if (ev.kind === 'message') yield ev.message
        else if (ev.kind === 'error') onError?.(ev.error)
        else onUnknown?.(ev.tag, ev.bytes)
      }
    }
    for await (const chunk of this.connection) yield* handle(parser.push(chunk))
    yield* handle(parser.end())
  }

  send(message: IndiMessage): boolean {
    const { blobLineLength } = this.options
    return this.connection.send(
      buildMessageBytes(message, blobLineLength === undefined ? undefined : { blobLineLength }),
    )
  }

  async write(message: IndiMessage, options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    if (!this.send(message)) await this.drained(options)
  }

  drained(options: AbortOptions = {}): Promise<void> {
    return drainedWithin(this.connection, this.drainTimeoutMs, options)
  }

  close(options?: AbortOptions): Promise<void> {
    return this.connection.close(options)
  }

  destroy(reason?: Error): void {
    this.connection.destroy(reason)
  }
}

/**
 * A `MessageStream` of the given protocol, e.g. from `sniffProtocol`:
 * `const { protocol, connection } = await sniffProtocol(conn); const s = openMessageStream(connection, protocol)`.
 * The binary one sends its preamble at once.
 */
export function openMessageStream(
  connection: Connection,
  protocol: 'binary' | 'xml',
  options: BinaryStreamOptions & XmlStreamOptions = {},
): MessageStream {
  return protocol === 'binary'
    ? new BinaryMessageStream(connection, options)
    : new XmlMessageStream(connection, options)
}
