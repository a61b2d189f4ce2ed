import type { Connection } from '@indi-ts/transport'

/**
 * What an outbox holds: a RawFrame from the framer (shared by reference between every recipient)
 * or a message the server built itself. Only `tag`, `device` and `name` are read, for conflation.
 */
export interface OutItem {
  readonly tag: string
  readonly device: string | undefined
  readonly name: string | undefined
  readonly bytes: Uint8Array
}

/** Delivery counters of one peer, for tests and monitoring. */
export interface PeerCounters {
  /** Messages handed to the connection. */
  readonly delivered: number
  /** Queued set*Vector messages replaced by a newer one for the same property before being sent. */
  readonly conflated: number
  /** Messages not queued: streaming BLOBs past `-d`, or messages to a stalled driver past `-m`. */
  readonly dropped: number
}

/** Bounds of one outbox, in bytes. */
export interface OutboxLimits {
  /**
   * Over this many bytes queued here (not yet handed to the connection), the outbox holds back
   * reading from producers (see the README's slow-client policy). What the connection holds is
   * not counted: at most its own high-water mark plus one write, since nothing more is handed
   * over until it drains. So one large frame (a BLOB) can be written while the next is read,
   * and bytes held per peer stay under highWater + one frame + the connection's mark.
   */
  readonly highWater: number
  /** At or below this many bytes queued here, a congested outbox stops holding producers back. */
  readonly lowWater: number
  /**
   * A backlog over this many bytes (while the connection pushes back) starts conflation. A fast
   * peer whose socket momentarily pushes back stays below it and gets every message.
   */
  readonly conflateAt: number
}

/**
 * Reference counts for frames whose bytes lie in shared, reusable buffers (BlobBufferPool): an
 * outbox holds a reference for each such frame until the frame is dropped, copied into a batch, or
 * written out by its connection (`send`'s `released`).
 */
export interface FrameRefs {
  /** Reusable buffers are at least this big: smaller backing buffers are never looked up. */
  readonly minBytes: number
  /** Adds a reference when `bytes` lies in a reusable buffer; returns whether it does. */
  hold(bytes: Uint8Array): boolean
  /** Drops a reference taken with `hold` (a no-op for bytes outside reusable buffers). */
  release(bytes: Uint8Array): void
}

/** The server side of an outbox. */
export interface OutboxHost {
  /** Flush `outbox` once the current routing pass is over (coalescing many frames into one write). */
  schedule(outbox: Outbox): void
  /** The outbox crossed its high-water mark (true) or drained below its low-water mark (false). */
  congestion(outbox: Outbox, congested: boolean): void
}

// One write gathers at most this much, so a huge backlog is not copied into one giant buffer.
// indiserver writes at most 48 KiB per call; 256 KiB measured faster on loopback.
const FLUSH_BYTES = 256 * 1024

// Frames of a backlog may share a source buffer up to this size (a socket read is 64 KiB).
const SHARE_SOURCE_BYTES = 256 * 1024

/**
 * A peer's byte-bounded, coalescing output queue. `push` never waits: it appends a reference and
 * asks the host for a flush at the end of the tick, where all queued frames become one `send()`.
 * When `send()` returns false, nothing more is handed over until `drained()`; meanwhile frames
 * queue here, where they can still be conflated.
 */
export class Outbox implements PeerCounters {
  delivered = 0
  conflated = 0
  dropped = 0
  /** Whether the host asked for a flush that has not run yet. */
  scheduled = false
  /** Over the high-water mark (and not yet back under the low-water mark). */
  congested = false
  /** Congested for longer than the stall deadline: no longer holds producers back. */
  stalled = false
  /** The stall deadline timer, owned by the host. */
  stallTimer: ReturnType<typeof setTimeout> | undefined
  /** The outbox no longer accepts or sends anything. */
  closed = false
  /** `performance.now()` of the last time the peer took bytes while congested. */
  lastProgress = 0

  // The queue: q[head..] are waiting; conflated entries become holes (undefined).
  private q: (OutItem | undefined)[] = []
  private head = 0
  private live = 0
  private holes = 0
  // Absolute index of q[0], so `latest` survives re-slicing the array.
  private base = 0
  // While backlogged: newest queued set*Vector per (tag, device, name), as an absolute index.
  // Made on the first conflation: most peers never fall that far behind (a Map is ~250 bytes).
  private latest: Map<string, number> | undefined
  private pending = 0
  // Bytes of queued frames of at least `highWater` bytes each (BLOBs): not counted toward
  // `conflateAt`, so one BLOB queued behind the one being written does not conflate a reading peer.
  private largePending = 0
  private waiting = false
  private conflating = false
  private lastSource: ArrayBufferLike | undefined

  constructor(
    readonly connection: Connection,
    private readonly host: OutboxHost,
    readonly limits: OutboxLimits,
    /** A client's outbox (true) or a driver's (false): they hold back different readers. */
    readonly forClient: boolean,
    /** Reference counting for frames in reused BLOB buffers, when the server pools them. */
    private readonly refs?: FrameRefs,
  ) {}

  /** Whether `bytes` may lie in a reusable buffer (checked before any lookup: the hot path). */
  private shared(bytes: Uint8Array): boolean {
    return this.refs !== undefined && bytes.buffer.byteLength >= this.refs.minBytes
  }

  /** Bytes queued here, not yet handed to the connection. */
  get queuedBytes(): number {
    return this.pending
  }

  /** Messages queued here. */
  get queuedMessages(): number {
    return this.live
  }

  /** How far behind the peer is: queued here plus buffered in the connection. */
  get behind(): number {
    return this.pending + this.connection.bufferedBytes
  }

  /**
   * Appends one message; never waits and never copies on the fast path. Once the peer is
   * backlogged past `conflateAt` (its connection pushing back), a set*Vector replaces the queued
   * one for the same property: conflation, O(1) per message, until the backlog is gone. Large
   * frames (a BLOB) do not count toward `conflateAt`, but one always replaces a queued large
   * set*Vector of the same property while the connection pushes back: a peer that is behind
   * never has two BLOBs of one property queued (older queued BLOBs are dropped early).
   */
  push(item: OutItem): void {
    if (this.closed) return
    if (this.waiting) {
      const src = item.bytes.buffer
      // A small view of a big read chunk would pin the chunk while it waits. Copy it when deeply
      // backlogged, or when it is the only frame queued from its chunk (a filtering client);
      // runs of frames from one chunk share it (measured: copying every frame cost ~10 % of a flood).
      if (this.conflating || src !== this.lastSource) item = retain(item)
      // Only a read-sized source is remembered: holding a BLOB's own buffer here would keep it
      // alive after conflation dropped that BLOB (one BLOB, e.g. 11 MB, pinned per slow client).
      this.lastSource = src.byteLength <= SHARE_SOURCE_BYTES ? src : undefined
      if (!this.conflating && this.pending - this.largePending > this.limits.conflateAt) {
        this.conflating = true
        this.compact()
      }
      // 115 = 's': every set*Vector, and no other known INDI tag, starts with it.
      if (
        item.tag.charCodeAt(0) === 115 &&
        (this.conflating || item.bytes.byteLength >= this.limits.highWater)
      ) {
        const key = keyOf(item)
        this.latest ??= new Map()
        const latest = this.latest
        const prev = latest.get(key)
        if (prev !== undefined) this.removeAt(prev - this.base)
        latest.set(key, this.base + this.q.length)
      }
    }
    if (this.shared(item.bytes)) this.refs!.hold(item.bytes)
    this.q.push(item)
    this.live++
    this.pending += item.bytes.byteLength
    if (item.bytes.byteLength >= this.limits.highWater) this.largePending += item.bytes.byteLength
    if (!this.waiting && !this.scheduled) {
      this.scheduled = true
      this.host.schedule(this)
    }
    if (!this.congested && this.pending > this.limits.highWater) {
      this.congested = true
      this.host.congestion(this, true)
    }
    // Holes cost 8 bytes each: squeeze them out once they outnumber the live messages.
    if (this.holes > 1024 && this.holes > this.live) this.compact()
  }

  /**
   * Full conflation pass: keeps only the newest queued set*Vector per (tag, device, name), older
   * BLOBs of a property included; def*, delProperty, message, new* are never dropped. Also removes
   * holes. Returns the number of messages removed.
   */
  compact(): number {
    const q = this.q
    const seen = new Set<string>()
    let removed = 0
    for (let i = q.length - 1; i >= this.head; i--) {
      const it = q[i]
      if (it === undefined || it.tag.charCodeAt(0) !== 115) continue
      const key = keyOf(it)
      if (seen.has(key)) {
        this.removeAt(i)
        removed++
      } else seen.add(key)
    }
    const kept: OutItem[] = []
    for (let r = this.head; r < q.length; r++) {
      const it = q[r]
      if (it !== undefined) kept.push(it)
    }
    this.base += q.length
    this.q = kept
    this.head = 0
    this.holes = 0
    this.latest?.clear()
    const large = this.limits.highWater
    for (let i = 0; i < kept.length; i++) {
      const it = kept[i]!
      if (it.tag.charCodeAt(0) === 115 && (this.conflating || it.bytes.byteLength >= large)) {
        this.latest ??= new Map()
        this.latest.set(keyOf(it), this.base + i)
      }
    }
    return removed
  }

  /** Hands queued messages to the connection, many per `send()`, until it pushes back. */
  flush(): void {
    this.scheduled = false
    if (this.closed) return
    const q = this.q
    while (!this.waiting && this.head < q.length) {
      let end = this.head
      let total = 0
      let count = 0
      let largeSent = 0
      let single: OutItem | undefined
      while (end < q.length) {
        const it = q[end]
        if (it !== undefined) {
          const n = it.bytes.byteLength
          if (total > 0 && total + n > FLUSH_BYTES) break
          total += n
          if (n >= this.limits.highWater) largeSent += n
          count++
          single = it
        }
        end++
      }
      let chunk: Uint8Array
      let released: (() => void) | undefined
      if (count === 1) {
        chunk = single!.bytes
        // The connection gives the reference back once it has written (or dropped) the frame.
        if (this.shared(chunk)) {
          const bytes = chunk
          released = () => this.refs!.release(bytes)
        }
      } else {
        const buf = Buffer.allocUnsafe(total)
        let off = 0
        for (let i = this.head; i < end; i++) {
          const b = q[i]?.bytes
          if (b === undefined) continue
          buf.set(b, off)
          off += b.byteLength
          if (this.shared(b)) this.refs!.release(b)
        }
        chunk = buf
      }
      // Release what was sent; when everything went, truncating the array below does it at once.
      if (end < q.length) for (let i = this.head; i < end; i++) q[i] = undefined
      this.delivered += count
      this.live -= count
      this.head = end
      this.pending -= total
      this.largePending -= largeSent
      if (count > 0 && !this.connection.send(chunk, released)) {
        this.waiting = true
        this.connection.drained().then(this.onDrained, this.onDrainFailed)
      }
    }
    if (this.head === q.length) {
      this.base += q.length
      q.length = 0
      this.head = 0
      this.holes = 0
      this.latest = undefined
      this.conflating = false
      this.lastSource = undefined
    } else if (this.head > 1024 && this.head * 2 > q.length) {
      this.base += this.head
      this.q = q.slice(this.head)
      this.head = 0
    }
    if (this.congested && this.pending <= this.limits.lowWater) {
      this.congested = false
      this.host.congestion(this, false)
    }
  }

  private removeAt(pos: number): void {
    const old = pos >= this.head ? this.q[pos] : undefined
    if (old === undefined) return
    this.q[pos] = undefined
    if (this.shared(old.bytes)) this.refs!.release(old.bytes)
    this.live--
    this.holes++
    this.pending -= old.bytes.byteLength
    if (old.bytes.byteLength >= this.limits.highWater) this.largePending -= old.bytes.byteLength
    this.conflated++
  }

  /** Drops everything queued; the outbox accepts nothing more. */
  close(): void {
    this.closed = true
    if (this.refs !== undefined)
      for (let i = this.head; i < this.q.length; i++) {
        const it = this.q[i]
        if (it !== undefined && this.shared(it.bytes)) this.refs.release(it.bytes)
      }
    this.q = []
    this.head = 0
    this.live = 0
    this.pending = 0
    this.largePending = 0
    this.latest = undefined
    this.lastSource = undefined
    if (this.stallTimer !== undefined) clearTimeout(this.stallTimer)
    this.stallTimer = undefined
  }

  private readonly onDrained = (): void => {
    this.waiting = false
    this.lastProgress = performance.now()
    this.flush()
  }

  // The connection ended: its reader notices too and the host tears the peer down from there.
  private readonly onDrainFailed = (): void => {
    this.waiting = false
    // Nothing will ever drain: stop holding back every peer's reads (this client's own commands
    // included) until the stall timer fires. Its reader still delivers what it had sent.
    if (this.congested) {
      this.congested = false
      this.host.congestion(this, false)
    }
  }
}

/**
 * A frame may be a small view into a large read chunk; while it waits in a backlog, that would pin
 * the whole chunk. Copy such views so the bytes counted are the bytes held (keeps `-m` honest).
 */
function keyOf(item: OutItem): string {
  return `${item.tag}\u0000${item.device ?? ''}\u0000${item.name ?? ''}`
}

function retain(item: OutItem): OutItem {
  const b = item.bytes
  if (b.byteLength * 2 >= b.buffer.byteLength) return item
  // new Uint8Array(view) copies; Buffer#slice would not.
  return { tag: item.tag, device: item.device, name: item.name, bytes: new Uint8Array(b) }
}
