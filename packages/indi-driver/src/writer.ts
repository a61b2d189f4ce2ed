import { IndiError } from '@indi-ts/indi-xml'
import { drainedWithin } from '@indi-ts/transport'
import type { Logger } from './logger.js'
import type { OutMeta, Peer } from './peer.js'

interface TextItem {
  text: string
  readonly chunks: undefined
  size: number
  readonly meta: OutMeta
}
interface StreamItem {
  readonly text: undefined
  /** Produced lazily, so a BLOB's base64 exists one chunk at a time. */
  readonly chunks: Iterable<Uint8Array>
  readonly size: number
  readonly meta: OutMeta
  /** The same message as one binary-link frame, for peers on a binary link (built at most once). */
  readonly frame: (() => Uint8Array) | undefined
}
type Item = TextItem | StreamItem

export interface WriterOptions {
  /** Bytes queued (not yet handed to connections) above which senders wait. */
  highWaterMark: number
  /** Queued bytes that trigger an immediate flush instead of waiting for the next macrotask. */
  flushBytes: number
  /** How long a connection may stay over its own high-water mark before it is dropped (ms). */
  drainTimeoutMs: number
  logger: Logger
  peers: () => readonly Peer[]
  /** A peer the writer gave up on (slow): the driver decides what that means. */
  onDeadPeer: (peer: Peer, error: IndiError) => void
}

/**
 * The driver's ONE bounded writer queue (seed-dev-notes: every send goes through writerque).
 * Small messages are coalesced: text accumulates and goes out as one write per macrotask or per
 * `flushBytes`, which is what makes ~10⁵–10⁶ messages/s possible. A BLOB is a stream item: its
 * base64 chunks are pulled only as each connection drains, and messages queued behind it wait,
 * so XML never interleaves.
 */
export class Writer {
  readonly #o: WriterOptions
  readonly #items: Item[] = []
  #bytes = 0
  #scheduled = false
  #pumping = false
  #roomWaiters: Array<() => void> = []
  #idleWaiters: Array<() => void> = []

  constructor(options: WriterOptions) {
    this.#o = options
  }

  /** Bytes queued and not yet handed to a connection. */
  get bufferedBytes(): number {
    return this.#bytes
  }

  /** True when a sender should wait before queueing more. */
  get full(): boolean {
    return this.#bytes >= this.#o.highWaterMark
  }

  /** Queue a text message regardless of the bound (callers check `full` first or have waited). */
  pushText(text: string, meta: OutMeta): void {
    // Consecutive messages with the same routing (one vector's meta object is shared by all its
    // sends) join one item: no object per message, and fewer survivors for the GC.
    const last = this.#items[this.#items.length - 1]
    if (last !== undefined && last.meta === meta && last.chunks === undefined) {
      last.text += text
      last.size += text.length
    } else this.#items.push({ text, chunks: undefined, size: text.length, meta })
    this.#bytes += text.length
    this.#schedule()
  }

  /** Queue a stream (a BLOB); `size` is an estimate used for the bound. */
  pushStream(chunks: Iterable<Uint8Array>, size: number, meta: OutMeta, frame?: () => Uint8Array): void {
    this.#items.push({ text: undefined, chunks, size, meta, frame })
    this.#bytes += size
    this.#schedule()
  }

  /** Resolves when there is room under the high-water mark, or rejects with signal.reason. */
  async room(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted()
    while (this.full) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          this.#roomWaiters = this.#roomWaiters.filter((w) => w !== wake)
          reject(signal!.reason)
        }
        const wake = (): void => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        }
        this.#roomWaiters.push(wake)
        signal?.addEventListener('abort', onAbort, { once: true })
      })
    }
  }

  /** Resolves once everything queued so far has been handed to the connections. */
  flush(): Promise<void> {
    if (this.#items.length === 0 && !this.#pumping) return Promise.resolve()
    const p = new Promise<void>((resolve) => this.#idleWaiters.push(resolve))
    if (!this.#pumping) void this.#pump()
    return p
  }

  /** Drops everything queued and releases waiters (shutdown after the deadline). */
  discard(): void {
    this.#items.length = 0
    this.#bytes = 0
    this.#wake()
  }

  #schedule(): void {
    if (this.#pumping) return
    if (this.#bytes >= this.#o.flushBytes) {
      void this.#pump()
    } else if (!this.#scheduled) {
      this.#scheduled = true
      // setImmediate, not queueMicrotask: a loop of `await send()` would otherwise flush after
      // every message, and coalescing is what the throughput figure in bench/ depends on.
      setImmediate(() => {
        this.#scheduled = false
        if (!this.#pumping) void this.#pump()
      })
    }
  }

  #wake(): void {
    if (!this.full && this.#roomWaiters.length > 0) {
      const ws = this.#roomWaiters
      this.#roomWaiters = []
      for (const w of ws) w()
    }
    if (this.#items.length === 0 && !this.#pumping && this.#idleWaiters.length > 0) {
      const ws = this.#idleWaiters
      this.#idleWaiters = []
      for (const w of ws) w()
    }
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return
    this.#pumping = true
    try {
      while (this.#items.length > 0) {
        const head = this.#items[0]!
        if (head.chunks !== undefined) {
          this.#items.shift()
          await this.#writeStream(head)
          this.#bytes -= head.size
        } else {
          let n = 0
          while (n < this.#items.length && this.#items[n]!.chunks === undefined) n++
          const batch = this.#items.splice(0, n) as TextItem[]
          const blocked = this.#writeBatch(batch)
          for (const it of batch) this.#bytes -= it.size
          this.#wake()
          if (blocked.length > 0) await this.#drain(blocked)
        }
        this.#wake()
      }
    } catch (e) {
      this.#o.logger.error('writer failed', { error: e })
    } finally {
      this.#pumping = false
      this.#wake()
    }
  }

  /** Writes a batch of text items to each peer that wants them; returns peers over their mark. */
  #writeBatch(batch: readonly TextItem[]): Peer[] {
    const blocked: Peer[] = []
    for (const peer of this.#o.peers()) {
      if (peer.dead) continue
      let text = ''
      for (let i = 0; i < batch.length; i++) {
        const it = batch[i]!
        if (peer.wants(it.meta)) text += it.text
      }
      if (text.length === 0) continue
      if (!peer.conn.send(Buffer.from(text, 'utf8'))) blocked.push(peer)
    }
    return blocked
  }

  async #writeStream(item: StreamItem): Promise<void> {
    let peers = this.#o.peers().filter((p) => !p.dead && p.wants(item.meta))
    if (item.frame !== undefined && peers.some((p) => p.binaryLink !== undefined)) {
      // Binary-link peers take the whole BLOB as one frame of raw bytes (no base64 at all).
      const frame = item.frame()
      const blocked = peers.filter((p) => p.binaryLink !== undefined && !p.binaryLink.send(frame))
      peers = peers.filter((p) => p.binaryLink === undefined)
      if (blocked.length > 0) await this.#drain(blocked)
    }
    if (peers.length === 0) return
    for (const chunk of item.chunks) {
      const blocked: Peer[] = []
      for (const p of peers) if (!p.dead && !p.conn.send(chunk)) blocked.push(p)
      if (blocked.length > 0) await this.#drain(blocked)
    }
  }

  /** Waits for each blocked peer, at most drainTimeoutMs; a peer still blocked is given up. */
  async #drain(peers: readonly Peer[]): Promise<void> {
    await Promise.all(
      peers.map(async (p) => {
        try {
          await drainedWithin(p.conn, this.#o.drainTimeoutMs)
        } catch (e) {
          if (p.dead) return
          p.dead = true
          const slow =
            e instanceof IndiError && e.code === 'ERR_INDI_SLOW_PEER'
              ? e
              : new IndiError('ERR_INDI_CONNECTION_RESET', `${p.label} ended while we were writing`, {
                  cause: e,
                })
          this.#o.onDeadPeer(p, slow)
        }
      }),
    )
  }
}
