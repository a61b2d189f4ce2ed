import type { IndiMessage } from '@indi-ts/indi-xml'
import { IndiError } from '@indi-ts/indi-xml'
import { type AbortOptions, type Connection, drainedWithin } from '@indi-ts/transport'
import { BinaryDecoder, encodeFrame, type FrameLimits, LINK_PREAMBLE } from './framing.js'
import type { MessageStream } from './stream.js'

/** Options of `binaryReader`. */
export interface BinaryReaderOptions extends FrameLimits, AbortOptions {}

/**
 * Reads INDI messages from a binary link. Expects the peer's 8-byte preamble first.
 *
 * The iteration ends when the peer ends cleanly between frames. A bad preamble (for example an
 * XML peer), an oversize or corrupt frame, or input ending inside a frame cannot be recovered
 * from in a length-prefixed stream: the connection is destroyed with that error and the
 * iteration throws it (`ERR_INDI_BINARY_HANDSHAKE`, `ERR_INDI_BINARY_TOO_LARGE`,
 * `ERR_INDI_BINARY_MALFORMED`). Connection errors and `signal.reason` are thrown unchanged.
 * Reads are pulled: while nobody iterates, nothing is read, so the peer is back-pressured.
 */
export async function* binaryReader(
  connection: Connection,
  options: BinaryReaderOptions = {},
): AsyncGenerator<IndiMessage, void, undefined> {
  const { signal } = options
  signal?.throwIfAborted()
  const decoder = new BinaryDecoder(options)
  const onAbort = (): void => connection.destroy(signal?.reason)
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    for await (const chunk of connection) {
      let messages: IndiMessage[]
      try {
        messages = decoder.push(chunk)
      } catch (error) {
        connection.destroy(error as Error)
        throw error
      }
      for (const m of messages) yield m
    }
    try {
      decoder.end()
    } catch (error) {
      connection.destroy(error as Error)
      throw error
    }
  } catch (error) {
    if (signal?.aborted) throw signal.reason
    throw error
  } finally {
    signal?.removeEventListener('abort', onAbort)
  }
}

/** Options of `binaryWriter`. */
export interface BinaryWriterOptions {
  /**
   * How long `write()` waits for the peer to drain before failing with `ERR_INDI_SLOW_PEER`, in ms.
   * Default 60 000: long enough for a 100 MB BLOB on a slow link, short enough that a frozen
   * peer does not hold a sender forever.
   */
  drainTimeoutMs?: number
}

/**
 * Writes INDI messages to a binary link, one frame per message. Sends the 8-byte preamble at
 * construction, so create it as soon as the link is up (both sides do).
 */
export class BinaryWriter {
  private readonly drainTimeoutMs: number
  /** Frames sent so far. */
  framesSent = 0
  /** Bytes sent so far, preamble and length fields included. */
  bytesSent = 0

  constructor(
    readonly connection: Connection,
    options: BinaryWriterOptions = {},
  ) {
    this.drainTimeoutMs = options.drainTimeoutMs ?? 60_000
    connection.send(LINK_PREAMBLE)
    this.bytesSent += LINK_PREAMBLE.length
  }

  /**
   * Queues one message. Returns false once the connection is past its high-water mark: stop
   * and await `drained()` (or use `write()`), exactly like `Connection.send`.
   * @throws IndiError `ERR_INDI_INVALID_VALUE` for a message that is not valid INDI.
   */
  send(message: IndiMessage): boolean {
    const frame = encodeFrame(message)
    this.framesSent++
    this.bytesSent += frame.length
    return this.connection.send(frame)
  }

  /**
   * Sends one message and, when the connection is over its high-water mark, waits until it
   * drains, at most `drainTimeoutMs`.
   * @throws IndiError `ERR_INDI_SLOW_PEER` after the drain deadline; rejects with `signal.reason`
   * when aborted, or with the connection's error when it ends first.
   */
  async write(message: IndiMessage, options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    if (!this.send(message)) await this.drained(options)
  }

  /**
   * Resolves when sending may continue, at most `drainTimeoutMs` later.
   * @throws IndiError `ERR_INDI_SLOW_PEER` after the deadline; `signal.reason` when aborted.
   */
  drained(options: AbortOptions = {}): Promise<void> {
    return drainedWithin(this.connection, this.drainTimeoutMs, options)
  }

  /** Flushes and closes the connection. */
  close(options?: AbortOptions): Promise<void> {
    return this.connection.close(options)
  }
}

/** Creates a `BinaryWriter` (sends the preamble now). */
export function binaryWriter(connection: Connection, options?: BinaryWriterOptions): BinaryWriter {
  return new BinaryWriter(connection, options)
}

/** Options of `BinaryMessageStream`. */
export interface BinaryStreamOptions extends FrameLimits, BinaryWriterOptions {}

/**
 * Both directions of a binary link over one `Connection`: iterate it for incoming messages
 * (once), `send`/`write` outgoing ones. The preamble is sent at construction.
 */
export class BinaryMessageStream implements MessageStream {
  private readonly writer: BinaryWriter
  private iterating = false

  constructor(
    readonly connection: Connection,
    private readonly options: BinaryStreamOptions = {},
  ) {
    this.writer = new BinaryWriter(connection, options)
  }

  /** For logs: the connection's label. */
  get label(): string {
    return this.connection.label
  }

  /** Settles once the connection has closed (see `Connection.closed`). */
  get closed(): Promise<Error | undefined> {
    return this.connection.closed
  }

  /**
   * Incoming messages; see `binaryReader` for the errors. A second iteration throws.
   * @throws IndiError `ERR_INDI_CLOSED` when iterated twice.
   */
  [Symbol.asyncIterator](): AsyncIterator<IndiMessage> {
    if (this.iterating)
      throw new IndiError('ERR_INDI_CLOSED', `${this.label}: binary stream already iterated`)
    this.iterating = true
    return binaryReader(this.connection, this.options)
  }

  /** See `BinaryWriter.send`. */
  send(message: IndiMessage): boolean {
    return this.writer.send(message)
  }

  /** See `BinaryWriter.write`. */
  write(message: IndiMessage, options?: AbortOptions): Promise<void> {
    return this.writer.write(message, options)
  }

  /** See `BinaryWriter.drained`. */
  drained(options?: AbortOptions): Promise<void> {
    return this.writer.drained(options)
  }

  /** Flushes what was sent and closes the connection. */
  close(options?: AbortOptions): Promise<void> {
    return this.connection.close(options)
  }

  /** Stops now; see `Connection.destroy`. */
  destroy(reason?: Error): void {
    this.connection.destroy(reason)
  }
}
