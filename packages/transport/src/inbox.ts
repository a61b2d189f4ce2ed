import type { AbortOptions } from './connection.js'

/**
 * The read side shared by every Connection in this package: a FIFO of received chunks with one
 * pulling iterator. The source pushes; when `bytes` reaches the high-water mark the source is
 * asked to pause (`onLow`/`onHigh` callbacks), so buffering stays near one high-water mark.
 *
 * Internal: exported through `@indi-ts/transport/node` for transports built on it, not part of the
 * stable surface.
 */
export class Inbox {
  /** Unread chunks; `head` indexes the next one so a pull never shifts the array (O(1)). */
  private chunks: Uint8Array[] = []
  private head = 0
  /** Bytes currently queued and not yet pulled. */
  bytes = 0
  /** True once the source signalled a clean end of input. */
  ended = false
  /** Set when the source failed; the iterator throws it after nothing is left to deliver. */
  error: Error | undefined = undefined
  /** True after `discard()`: everything pushed from now on is dropped. */
  discarding = false
  private waiter: { resolve: (r: IteratorResult<Uint8Array>) => void; reject: (e: Error) => void } | undefined
  private locked = false

  constructor(
    private readonly label: string,
    private readonly highWaterMark: number,
    /** Called when `bytes` dropped below the high-water mark after a pull (resume the source). */
    private readonly onLow: () => void,
  ) {}

  /** True when the source should pause. */
  get full(): boolean {
    return this.bytes >= this.highWaterMark
  }

  /** True when no more chunks will arrive (end, error or discard). */
  get finished(): boolean {
    return this.ended || this.error !== undefined || this.discarding
  }

  /** Adds a chunk from the source. Returns false once at or over the high-water mark. */
  push(chunk: Uint8Array): boolean {
    if (this.finished || chunk.length === 0) return !this.full
    const w = this.waiter
    if (w !== undefined && this.bytes === 0) {
      // Fast path: a reader is parked, hand the chunk over without queueing it.
      this.waiter = undefined
      w.resolve({ value: chunk, done: false })
      return true
    }
    this.chunks.push(chunk)
    this.bytes += chunk.length
    return this.bytes < this.highWaterMark
  }

  /** Clean end of input: the iterator finishes after the queued chunks. */
  end(): void {
    if (this.finished) return
    this.ended = true
    this.settleWaiter()
  }

  /**
   * The source broke: the iterator throws `error`. With `keep` the chunks already queued are
   * delivered first (a crashed driver's last words still reach the server); otherwise dropped.
   */
  fail(error: Error, keep = false): void {
    if (this.error !== undefined || this.discarding) return
    this.error = error
    if (!keep) this.clear()
    this.settleWaiter()
  }

  /** We stopped reading: drop what is queued and anything that still arrives; the iterator ends. */
  discard(): void {
    if (this.discarding) return
    this.discarding = true
    this.clear()
    this.settleWaiter()
  }

  private clear(): void {
    const had = this.bytes
    this.chunks = []
    this.head = 0
    this.bytes = 0
    if (had > 0) this.onLow()
  }

  private settleWaiter(): void {
    const w = this.waiter
    if (w === undefined || this.bytes > 0) return
    this.waiter = undefined
    if (this.error !== undefined) w.reject(this.error)
    else w.resolve({ value: undefined, done: true })
  }

  /** Takes the head chunk off the queue. */
  private shift(): Uint8Array {
    const chunk = this.chunks[this.head]!
    this.chunks[this.head] = EMPTY
    this.head++
    return chunk
  }

  /** Pulls the next chunk, or waits for one. */
  next(): Promise<IteratorResult<Uint8Array>> {
    if (this.bytes > 0) {
      let chunk = this.shift()
      // A backlog of small chunks (INDI elements sent one by one) is handed over as one chunk:
      // one copy of a few KiB costs far less than one promise per element (300-byte messages
      // through the in-memory pair: about 1 µs each, see transport-tcp bench/throughput.mjs).
      if (chunk.length < GATHER_BYTES && this.head < this.chunks.length) {
        let n = chunk.length
        let end = this.head
        while (end < this.chunks.length && n + this.chunks[end]!.length <= GATHER_BYTES) {
          n += this.chunks[end]!.length
          end++
        }
        if (end > this.head) {
          const parts = [chunk]
          while (this.head < end) parts.push(this.shift())
          const joined = new Uint8Array(n)
          let at = 0
          for (const p of parts) {
            joined.set(p, at)
            at += p.length
          }
          chunk = joined
        }
      }
      if (this.head === this.chunks.length) {
        this.chunks = []
        this.head = 0
      } else if (this.head > 1024 && this.head * 2 > this.chunks.length) {
        // Compact now and then so a long-lived backlog does not keep a huge sparse array.
        this.chunks = this.chunks.slice(this.head)
        this.head = 0
      }
      this.bytes -= chunk.length
      if (this.bytes < this.highWaterMark) this.onLow()
      return Promise.resolve({ value: chunk, done: false })
    }
    if (this.error !== undefined) return Promise.reject(this.error)
    if (this.finished) return Promise.resolve({ value: undefined, done: true })
    if (this.waiter !== undefined) {
      return Promise.reject(new TypeError(`${this.label}: next() called while a read is pending`))
    }
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject }
    })
  }

  /** The one iterator a Connection hands out; a second one while the first is active throws. */
  iterator(): AsyncIterableIterator<Uint8Array> {
    if (this.locked) {
      throw new TypeError(`${this.label}: the connection is already being iterated`)
    }
    this.locked = true
    let done = false
    const release = (): IteratorResult<Uint8Array> => {
      if (!done) {
        done = true
        this.locked = false
      }
      return { value: undefined, done: true }
    }
    const it: AsyncIterableIterator<Uint8Array> = {
      next: () => {
        if (done) return Promise.resolve({ value: undefined, done: true })
        return this.next().then(
          (r) => (r.done === true ? release() : r),
          (e: unknown) => {
            release()
            throw e
          },
        )
      },
      // Breaking out of a for-await loop releases the lock without closing the connection, so a
      // handshake reader can hand the rest of the stream to another consumer.
      return: () => Promise.resolve(release()),
      [Symbol.asyncIterator]: () => it,
    }
    return it
  }
}

const EMPTY = new Uint8Array(0)
/** Small queued chunks are joined up to this size when pulled. */
const GATHER_BYTES = 64 * 1024

/**
 * Waits for `ready()` to turn true, re-checked each time `subscribe` fires. Used by drained() and
 * end(): rejects with `failed()` when it returns an error, or with `signal.reason` on abort.
 */
export class Waiters {
  private list: Array<() => void> = []

  get size(): number {
    return this.list.length
  }

  /** Re-checks every waiter (call after any change of buffered bytes or state). */
  wake(): void {
    if (this.list.length === 0) return
    const list = this.list
    this.list = []
    for (const w of list) w()
  }

  wait(ready: () => boolean, failed: () => Error | undefined, { signal }: AbortOptions = {}): Promise<void> {
    // An aborted signal wins over everything, even a wait that would resolve at once.
    if (signal?.aborted === true) return Promise.reject(signal.reason)
    const err = failed()
    if (err !== undefined) return Promise.reject(err)
    if (ready()) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.list.indexOf(check)
        if (i >= 0) this.list.splice(i, 1)
        reject(signal!.reason)
      }
      const check = (): void => {
        const e = failed()
        if (e !== undefined || ready()) {
          signal?.removeEventListener('abort', onAbort)
          if (e !== undefined) reject(e)
          else resolve()
        } else {
          this.list.push(check)
        }
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.list.push(check)
    })
  }
}
