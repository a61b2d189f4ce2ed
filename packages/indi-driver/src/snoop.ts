import { BoundedQueue } from '@indi-ts/indi-queue'
import type { SnoopEvent } from './events.js'

/** What to snoop: everything, one device, or one vector of a device. */
export interface SnoopFilter {
  device?: string
  vector?: string
  /** Re-send the getProperties after this long without matching traffic (ms); off by default. */
  refreshAfterMs?: number
  /** Events buffered for the iterator; when full the oldest is dropped (counted). Default 256. */
  buffer?: number
}

/** Read-only bookkeeping of one active subscription (`driver.snoops`). */
export interface SnoopInfo {
  readonly device: string | undefined
  readonly vector: string | undefined
  readonly refreshAfterMs: number | undefined
  /** When matching traffic last arrived. */
  readonly lastSeen: Date | undefined
  /** Events received and dropped (iterator not read). */
  readonly received: number
  readonly dropped: number
}

interface Hooks {
  onCancel(s: SnoopSubscription): void
  onRefresh(s: SnoopSubscription): void
  onDrop(): void
}

/**
 * One snoop: an async iterable of SnoopEvents for the matching device/vector. Iterate it, or just
 * use the driver's `onSnoop` hook / 'snoop' listeners (then nobody needs to read it: old events
 * are dropped rather than kept). `cancel()` stops it.
 */
export class SnoopSubscription implements AsyncIterable<SnoopEvent> {
  readonly device: string | undefined
  readonly vector: string | undefined
  readonly refreshAfterMs: number | undefined
  readonly #ch: BoundedQueue<SnoopEvent>
  readonly #hooks: Hooks
  #lastSeen: Date | undefined
  #received = 0
  #dropped = 0
  #timer: NodeJS.Timeout | undefined
  #cancelled = false
  /** Between driver shutdown and a new run(): no refresh timer. */
  #paused = false

  /** @internal Created by `driver.snoop()`. */
  constructor(filter: SnoopFilter, hooks: Hooks) {
    this.device = filter.device
    this.vector = filter.vector
    this.refreshAfterMs = filter.refreshAfterMs
    this.#ch = new BoundedQueue(filter.buffer ?? 256)
    this.#hooks = hooks
    this.#arm()
  }

  /** Whether an element about (device, name) is for this subscription. */
  matches(device: string | undefined, name: string | undefined): boolean {
    if (this.#cancelled) return false
    if (this.device === undefined) return true
    if (device !== this.device) return false
    return this.vector === undefined || name === undefined || name === this.vector
  }

  get cancelled(): boolean {
    return this.#cancelled
  }

  /** Stops the subscription: the iterator ends, refreshes stop. (No "unsnoop" exists in INDI.) */
  cancel(): void {
    if (this.#cancelled) return
    this.#cancelled = true
    this.#end()
    this.#hooks.onCancel(this)
  }

  info(): SnoopInfo {
    return {
      device: this.device,
      vector: this.vector,
      refreshAfterMs: this.refreshAfterMs,
      lastSeen: this.#lastSeen,
      received: this.#received,
      dropped: this.#dropped,
    }
  }

  /** @internal */
  _push(ev: SnoopEvent): void {
    this.#lastSeen = new Date()
    this.#received++
    if (!this.#ch.closed && !this.#ch.tryPut(ev)) {
      // Full because nobody reads: keep the newest (snooped state supersedes older state).
      this.#ch.tryGet()
      this.#ch.tryPut(ev)
      this.#dropped++
      this.#hooks.onDrop()
    }
    this.#arm()
  }

  /** @internal Driver shut down: the iterator ends; the filter stays for a later run(). */
  _end(): void {
    this.#paused = true
    this.#end()
  }

  /** @internal The driver runs (again). */
  _resume(): void {
    this.#paused = false
    this.#arm()
  }

  #end(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#ch.close()
  }

  #arm(): void {
    if (this.refreshAfterMs === undefined || this.#cancelled || this.#paused) return
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#hooks.onRefresh(this)
      this.#arm()
    }, this.refreshAfterMs)
    this.#timer.unref?.()
  }

  [Symbol.asyncIterator](): AsyncIterator<SnoopEvent> {
    return this.#ch.values()
  }
}
