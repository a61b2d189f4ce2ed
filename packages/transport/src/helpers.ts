import type { AbortOptions, Connection } from './connection.js'
import { slowPeerError } from './errors.js'

/**
 * Reads a connection to its end and returns every chunk received, in order. Rejects with the
 * error that broke the connection. Meant for tests and small exchanges: nothing bounds memory.
 */
export async function collect(conn: Connection): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = []
  for await (const chunk of conn) chunks.push(chunk)
  return chunks
}

/** Options of {@link writeAll}. */
export interface WriteAllOptions extends AbortOptions {
  /**
   * Longest wait, in milliseconds, for the peer to take our bytes each time `send()` returned
   * false; past it writeAll rejects with ERR_INDI_SLOW_PEER. Default: no deadline.
   */
  drainTimeoutMs?: number
}

/**
 * Sends every chunk, waiting on `drained()` whenever `send()` returns false, so memory stays
 * bounded by the connection's high-water mark. Resolves once the last chunk was accepted (not
 * when the peer read it). Rejects with `signal.reason` on abort, ERR_INDI_SLOW_PEER past
 * `drainTimeoutMs`, or the connection's error (ERR_INDI_CLOSED, ERR_INDI_CONNECTION_RESET).
 */
export async function writeAll(
  conn: Connection,
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  options: WriteAllOptions = {},
): Promise<void> {
  const { signal, drainTimeoutMs } = options
  signal?.throwIfAborted()
  for await (const chunk of chunks) {
    if (conn.send(chunk)) continue
    if (drainTimeoutMs === undefined) await conn.drained({ signal })
    else await drainedWithin(conn, drainTimeoutMs, { signal })
  }
}

/**
 * `conn.drained()` with a deadline: rejects with IndiError ERR_INDI_SLOW_PEER when the peer has
 * not taken our bytes within `timeoutMs` milliseconds (the connection is left as it is: the
 * caller decides whether to destroy it). Rejects with `signal.reason` if `signal` aborts first.
 * Waiting forever on a stuck peer deadlocks a server, so every wait should have a deadline.
 */
export async function drainedWithin(
  conn: Connection,
  timeoutMs: number,
  { signal }: AbortOptions = {},
): Promise<void> {
  signal?.throwIfAborted()
  const ac = new AbortController()
  const timer = setTimeout(() => ac.abort(slowPeerError(conn.label, timeoutMs)), timeoutMs)
  const forward = (): void => ac.abort(signal!.reason)
  signal?.addEventListener('abort', forward, { once: true })
  try {
    await conn.drained({ signal: ac.signal })
  } finally {
    clearTimeout(timer)
    signal?.removeEventListener('abort', forward)
  }
}
