import type { Connection } from '@indi-ts/transport'

/** Counters of an {@link ImportOutbox}. */
export interface OutboxStats {
  /** Messages handed to the local server. */
  delivered: number
  /** Messages replaced by a newer one for the same property while the server was pushing back. */
  conflated: number
  /** Messages thrown away because the backlog passed its byte bound (oldest first). */
  dropped: number
  /** Bytes waiting now. */
  backlogBytes: number
}

/**
 * What the import side writes to the local server. Messages of one turn of the event loop leave in
 * one `send()`. While the server pushes back (`send()` false: its clients are slow), messages wait
 * in a backlog keyed by property, where a newer set*, def* or BLOB replaces the queued one
 * (conflation), and which is bounded in bytes (oldest dropped). NATS delivery is never awaited:
 * a slow local server costs conflation, counted, never a stalled NATS subscription.
 * @internal
 */
export class ImportOutbox {
  private batch: Uint8Array[] = []
  private batchBytes = 0
  private flushQueued = false
  private congested = false
  private readonly backlog = new Map<string, Uint8Array>()
  private seq = 0
  readonly stats: OutboxStats = { delivered: 0, conflated: 0, dropped: 0, backlogBytes: 0 }

  constructor(
    private readonly conn: Connection,
    private readonly maxBacklogBytes: number,
  ) {}

  /**
   * Queues one element. `key` names what it supersedes (e.g. the set of one property); undefined
   * for messages that must all arrive (`message`, `delProperty`).
   */
  push(bytes: Uint8Array, key?: string): void {
    if (!this.congested) {
      this.batch.push(bytes)
      this.batchBytes += bytes.byteLength
      if (!this.flushQueued) {
        this.flushQueued = true
        queueMicrotask(this.flush)
      }
      return
    }
    const k = key ?? `#${++this.seq}`
    const old = this.backlog.get(k)
    if (old !== undefined) {
      // Delete first: the newer value goes to the back, after what was queued in between.
      this.backlog.delete(k)
      this.stats.backlogBytes -= old.byteLength
      this.stats.conflated++
    }
    this.backlog.set(k, bytes)
    this.stats.backlogBytes += bytes.byteLength
    while (this.stats.backlogBytes > this.maxBacklogBytes && this.backlog.size > 1) {
      const [oldest, b] = this.backlog.entries().next().value as [string, Uint8Array]
      this.backlog.delete(oldest)
      this.stats.backlogBytes -= b.byteLength
      this.stats.dropped++
    }
  }

  /** Forgets queued updates of `device` (it was deleted: they are moot). */
  purge(keyPrefix: string): void {
    for (const [k, b] of this.backlog) {
      if (k.startsWith(keyPrefix)) {
        this.backlog.delete(k)
        this.stats.backlogBytes -= b.byteLength
      }
    }
  }

  private readonly flush = (): void => {
    this.flushQueued = false
    if (this.batch.length === 0) return
    const chunk = this.batch.length === 1 ? this.batch[0]! : Buffer.concat(this.batch, this.batchBytes)
    this.stats.delivered += this.batch.length
    this.batch = []
    this.batchBytes = 0
    if (!this.conn.send(chunk)) {
      this.congested = true
      void this.waitDrained()
    }
  }

  private async waitDrained(): Promise<void> {
    try {
      await this.conn.drained()
    } catch {
      return // the link is gone: nothing more will be sent
    }
    this.congested = false
    const items = [...this.backlog.values()]
    this.backlog.clear()
    this.stats.backlogBytes = 0
    for (const b of items) this.push(b)
  }
}
