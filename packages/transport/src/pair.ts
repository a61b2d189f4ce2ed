import type { AbortOptions, Connection } from './connection.js'
import { closedError, resetError } from './errors.js'
import { Inbox, Waiters } from './inbox.js'

/** Options of {@link connectionPair}. */
export interface ConnectionPairOptions {
  /**
   * Bytes a side may have sent and its peer not yet read before `send()` returns false.
   * Default 65 536 (64 KiB): about what a loopback socket buffers before write() would block.
   */
  highWaterMark?: number
  /** Labels of the two ends, for logs and errors. Default `['memory:a', 'memory:b']`. */
  labels?: [string, string]
}

/** 64 KiB: the default high-water mark of the in-memory pair. */
export const DEFAULT_HIGH_WATER_MARK = 64 * 1024

/**
 * Two connected in-memory ends: bytes sent on one are iterated on the other, in order, as the
 * same `Uint8Array` objects (zero copy: do not modify a chunk after sending it).
 *
 * Backpressure is real: `send()` returns false while the peer holds `highWaterMark` unread bytes,
 * and `drained()` resolves once the peer's iterator has pulled enough. `end()` half-closes,
 * `close()` ends and stops reading (a peer that sends afterwards gets ERR_INDI_CONNECTION_RESET),
 * `destroy(err)` breaks both ends: the peer's reads, drained() and `closed` report
 * ERR_INDI_CONNECTION_RESET with `err` as its cause.
 *
 * Driver and server tests run on this pair; it passes the same compliance suite as TCP and stdio.
 */
export function connectionPair(options: ConnectionPairOptions = {}): [Connection, Connection] {
  const hwm = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK
  if (!(hwm > 0)) throw new RangeError(`highWaterMark must be > 0, got ${hwm}`)
  const [la, lb] = options.labels ?? ['memory:a', 'memory:b']
  const a = new MemoryConnection(la, hwm)
  const b = new MemoryConnection(lb, hwm)
  a.peer = b
  b.peer = a
  return [a, b]
}

class MemoryConnection implements Connection {
  peer!: MemoryConnection
  /** What the peer sent us; its fill level is the peer's `bufferedBytes`. */
  readonly inbox: Inbox
  /** drained()/end() calls of this side, woken when the peer pulls from its inbox. */
  readonly writers = new Waiters()
  private writeEnded = false
  /** Why our write side cannot go on (destroyed, or the peer stopped reading). */
  private writeError: Error | undefined = undefined
  private destroyed = false
  private settled = false
  private settle!: (e: Error | undefined) => void
  readonly closed: Promise<Error | undefined>

  constructor(
    readonly label: string,
    private readonly hwm: number,
  ) {
    this.inbox = new Inbox(label, hwm, () => this.peer.writers.wake())
    this.closed = new Promise((resolve) => {
      this.settle = resolve
    })
  }

  send(chunk: Uint8Array): boolean {
    if (this.writeEnded || this.writeError !== undefined) return false
    if (this.peer.inbox.discarding) {
      // TCP would answer a write to a closed socket with RST; do the same so bugs surface.
      this.breakWrite(resetError(this.label, 'the peer closed the connection'))
      return false
    }
    return this.peer.inbox.push(chunk)
  }

  get bufferedBytes(): number {
    return this.writeError !== undefined ? 0 : this.peer.inbox.bytes
  }

  drained(options?: AbortOptions): Promise<void> {
    return this.writers.wait(
      () => this.peer.inbox.bytes < this.hwm,
      () => this.writeError ?? (this.writeEnded ? closedError(this.label) : undefined),
      options,
    )
  }

  end(options?: AbortOptions): Promise<void> {
    // Fail before touching state: an aborted end() leaves the connection as it was.
    if (options?.signal?.aborted === true) return Promise.reject(options.signal.reason)
    if (!this.writeEnded && this.writeError === undefined) {
      this.writeEnded = true
      this.peer.inbox.end()
      this.peer.checkClosed()
      this.checkClosed()
    }
    // "Flushed" for memory means the peer holds less than a high-water mark unread, the way a
    // socket's end() completes once the kernel buffer has taken the bytes.
    return this.writers.wait(
      () => this.peer.inbox.bytes < this.hwm,
      () => this.writeError,
      options,
    )
  }

  async close(options?: AbortOptions): Promise<void> {
    try {
      await this.end(options)
    } catch (e) {
      // An aborted close still has to release the connection: force it.
      if (options?.signal?.aborted === true && e === options.signal.reason) this.destroy()
      throw e
    }
    const dropped = this.inbox.bytes > 0
    this.inbox.discard()
    if (dropped) this.peer.breakWrite(resetError(this.peer.label, 'the peer closed with data unread'))
    else this.peer.writers.wake()
    this.checkClosed()
  }

  destroy(reason?: Error): void {
    if (this.destroyed) return
    this.destroyed = true
    if (reason === undefined) this.inbox.discard()
    else this.inbox.fail(reason)
    this.writeError ??= reason ?? closedError(this.label)
    this.writers.wake()
    this.peer.peerDestroyed(reason)
    this.finish(reason)
  }

  /** The peer destroyed its end: whatever it sent and we did not read is lost. */
  private peerDestroyed(reason: Error | undefined): void {
    if (this.settled) return
    const err = resetError(this.label, 'the peer destroyed the connection', reason)
    this.inbox.fail(err)
    this.writeError ??= err
    this.writers.wake()
    this.finish(err)
  }

  private breakWrite(err: Error): void {
    if (this.writeError !== undefined) return
    this.writeError = err
    this.writers.wake()
    if (!this.settled && this.inbox.finished) this.finish(err)
  }

  private checkClosed(): void {
    if (!this.settled && (this.writeEnded || this.writeError !== undefined) && this.inbox.finished) {
      this.finish(this.writeError ?? this.inbox.error)
    }
  }

  private finish(err: Error | undefined): void {
    if (this.settled) return
    this.settled = true
    this.settle(err)
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.inbox.iterator()
  }
}
