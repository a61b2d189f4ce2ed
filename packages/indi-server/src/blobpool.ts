import { Buffer } from 'node:buffer'
import type { FrameRefs } from './outbox.js'

/**
 * Reuses the buffers BLOB elements are assembled in (IndiFramer's `blobBuffers`).
 *
 * Why: a camera sends frames of one size over and over, and every 8 MiB frame is an ~11 MB
 * element. Allocated afresh, each one is external memory that V8 frees only at a full GC (the
 * scavenges that external-memory pressure triggers promote them first), so a server forwarding
 * BLOBs to a slow client peaked at ~159 MiB RSS with ~32 MiB live; reusing them, ~128 MiB
 * (bench/ slow-client workload, medians of 3).
 *
 * How: every holder of a pooled buffer counts as one reference: the router while it routes the
 * frames of one read, each outbox entry, each write a connection has not finished. A buffer goes
 * back to the free list when the count drops to zero. A holder that cannot tell when it is done
 * (a transport that does not call `send`'s `released`) never gives its reference back, and the
 * buffer is simply left to the garbage collector: the pool never reuses memory that someone may
 * still read.
 */
export class BlobBufferPool implements FrameRefs {
  /**
   * Buffers handed out and not yet back, with their reference counts. Weak: a buffer whose framer
   * gave up on its element (too large, peer gone mid-BLOB) is never held, and is collected.
   */
  private readonly refs = new WeakMap<ArrayBufferLike, number>()
  private free: Buffer[] = []
  private freeBytes = 0
  /**
   * Buffers handed out and not back yet (including any a framer gave up on): while it is 0, no
   * frame can lie in a pooled buffer and the router skips looking.
   */
  outstanding = 0
  /** Buffers handed out from the free list. */
  reused = 0
  /** Buffers allocated because none free fitted. */
  allocated = 0

  constructor(
    /** Smaller BLOB elements get a buffer of their own, as without a pool. */
    readonly minBytes = 1024 * 1024,
    /** At most this many bytes are kept free between BLOBs. */
    readonly maxFreeBytes = 64 * 1024 * 1024,
    /** At most this many buffers are kept free. */
    readonly maxFree = 4,
  ) {}

  /**
   * IndiFramer's `blobBuffers.take`: a free buffer of `wanted` (the size the BLOB announced) to
   * 1.5 × that, or else of `bytes` to 1.5 × `bytes`, or a new one of `bytes`.
   */
  take(bytes: number, wanted = bytes): Buffer {
    if (Math.max(bytes, wanted) < this.minBytes) return Buffer.allocUnsafe(bytes)
    let best = this.fit(wanted)
    if (best < 0 && wanted !== bytes) best = this.fit(bytes)
    if (best < 0 && bytes < this.minBytes) return Buffer.allocUnsafe(bytes)
    let buf: Buffer
    if (best >= 0) {
      buf = this.free[best]!
      this.free.splice(best, 1)
      this.freeBytes -= buf.length
      this.reused++
    } else {
      buf = Buffer.allocUnsafe(bytes)
      this.allocated++
    }
    this.refs.set(buf.buffer, 0)
    this.outstanding++
    return buf
  }

  /** Index of the smallest free buffer of `bytes` to 1.5 × `bytes`, or -1. */
  private fit(bytes: number): number {
    let best = -1
    for (let i = 0; i < this.free.length; i++) {
      const n = this.free[i]!.length
      // At most 1.5 × the size: a frame that fills less than half of its buffer would be copied
      // by an outbox that holds it (Outbox's retain()), and would pin memory it does not use.
      if (n >= bytes && n <= bytes * 1.5 && (best < 0 || n < this.free[best]!.length)) best = i
    }
    return best
  }

  /** IndiFramer's `blobBuffers.give`: a buffer from `take` that no frame came out of. */
  give(buf: Buffer): void {
    if (this.refs.get(buf.buffer) === 0) this.release(buf)
  }

  /** Adds a reference when `bytes` lies in a pooled buffer; returns whether it does. */
  hold(bytes: Uint8Array): boolean {
    const n = this.refs.get(bytes.buffer)
    if (n === undefined) return false
    this.refs.set(bytes.buffer, n + 1)
    return true
  }

  /** Drops a reference taken with `hold`; the last one puts the buffer back on the free list. */
  release(bytes: Uint8Array): void {
    const ab = bytes.buffer
    const n = this.refs.get(ab)
    if (n === undefined) return
    if (n > 1) {
      this.refs.set(ab, n - 1)
      return
    }
    // n is 1 (the last holder) or 0 (give(): taken, never held).
    this.refs.delete(ab)
    this.outstanding--
    const buf = Buffer.from(ab)
    if (buf.length > this.maxFreeBytes) return
    while (this.free.length >= this.maxFree || this.freeBytes + buf.length > this.maxFreeBytes) {
      // Keep the larger buffers: evict the smallest free one while it is smaller than this one.
      let small = 0
      for (let i = 1; i < this.free.length; i++)
        if (this.free[i]!.length < this.free[small]!.length) small = i
      if (this.free[small]!.length >= buf.length) return
      this.freeBytes -= this.free[small]!.length
      this.free.splice(small, 1)
    }
    this.free.push(buf)
    this.freeBytes += buf.length
  }

  /** Buffers waiting on the free list. */
  get freeCount(): number {
    return this.free.length
  }
}
