import { IndiError } from '@indi-ts/indi-xml'
import type { AbortOptions, Connection } from '@indi-ts/transport'
import { ForwardingConnection } from './forwarding.js'
import { LINK_PREAMBLE } from './framing.js'

/** What `sniffProtocol` found. */
export interface SniffResult {
  /** `'binary'` when the first byte is the preamble's 0x89, else `'xml'` (including an empty stream). */
  protocol: 'binary' | 'xml'
  /** The same connection, whose iteration yields the sniffed bytes first. Use it instead of the original. */
  connection: Connection
}

/**
 * Reads the first chunk of a connection to tell a binary-link peer from an INDI XML peer, so one
 * listening port can serve both: binary peers send the preamble (first byte 0x89) before
 * anything else, and XML clients open with `<getProperties …>`.
 *
 * Waits for the peer's first bytes; give a `signal` with a deadline for peers that may stay
 * silent. On abort it rejects with `signal.reason` and the caller should destroy the connection.
 * @throws the connection's error when it breaks before sending anything.
 */
export async function sniffProtocol(
  connection: Connection,
  options: AbortOptions = {},
): Promise<SniffResult> {
  const { signal } = options
  signal?.throwIfAborted()
  const it = connection[Symbol.asyncIterator]()
  let first: IteratorResult<Uint8Array>
  do {
    let onAbort: (() => void) | undefined
    try {
      first = await Promise.race([
        it.next(),
        new Promise<never>((_, reject) => {
          onAbort = () => reject(signal?.reason)
          signal?.addEventListener('abort', onAbort, { once: true })
        }),
      ])
    } finally {
      if (onAbort) signal?.removeEventListener('abort', onAbort)
    }
  } while (!first.done && first.value.length === 0)
  const prefix = first.done ? undefined : first.value
  const protocol = prefix !== undefined && prefix[0] === LINK_PREAMBLE[0] ? 'binary' : 'xml'
  return { protocol, connection: new PrefixedConnection(connection, it, prefix, first.done === true) }
}

/** A connection whose reading was started by someone else: yields the bytes already read first. */
class PrefixedConnection extends ForwardingConnection {
  private iterated = false
  constructor(
    inner: Connection,
    private readonly it: AsyncIterator<Uint8Array>,
    private prefix: Uint8Array | undefined,
    private ended: boolean,
  ) {
    super(inner)
  }
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (this.iterated) throw new IndiError('ERR_INDI_CLOSED', `${this.label}: already being iterated`)
    this.iterated = true
    return {
      next: async () => {
        const p = this.prefix
        if (p !== undefined) {
          this.prefix = undefined
          return { value: p, done: false }
        }
        if (this.ended) return { value: undefined, done: true }
        return this.it.next()
      },
      return: async () => {
        this.prefix = undefined
        await this.it.return?.()
        return { value: undefined, done: true }
      },
    }
  }
}
