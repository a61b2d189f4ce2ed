import { type AbortOptions, BaseQueue, RESOLVED } from './base.js'
import { QueueClosedError, QueueFullError } from './errors.js'
import { Waiter, WaitList } from './waiters.js'

/**
 * What a subscriber does with an item that arrives while it is full:
 * - `'wait'`: backpressure; the publisher waits until this subscriber has room (lossless).
 * - `'drop-oldest'`: the oldest queued items are dropped (counted in `dropped`) to make room.
 * - `'conflate'`: a queued item with the same `keyOf` key is replaced in place by the new one,
 *   keeping its position (latest property state wins; counted in `conflated`). With no such item,
 *   `conflateFallback` decides.
 * - `'disconnect'`: the subscriber is closed with `QueueFullError` (`ERR_INDI_QUEUE_FULL`) and removed.
 */
export type OverflowPolicy = 'wait' | 'drop-oldest' | 'conflate' | 'disconnect'

/** Options of {@link FanOut}: functions shared by all subscribers, called at most once per item. */
export interface FanOutOptions<T> {
  /**
   * Size of an item (e.g. encoded bytes): a finite number ≥ 0. Required for subscribers with a
   * `maxBytes` bound; called once per published item when given.
   */
  sizeOf?: (item: T) => number
  /**
   * Conflation key (e.g. `device + '\0' + name` of a set*Vector), or undefined for items that must
   * never be conflated (messages, deletions, BLOBs). Required for `'conflate'` subscribers; called
   * once per published item while at least one of them exists.
   */
  keyOf?: (item: T) => string | undefined
}

/** Options of {@link FanOut.subscribe}. */
export interface SubscribeOptions {
  /** Full-queue policy. Default `'wait'`. */
  policy?: OverflowPolicy
  /** Maximum queued items: an integer ≥ 1 or Infinity. Default 1024. */
  capacity?: number
  /** Maximum summed `sizeOf` of queued items. Default Infinity. Needs `FanOutOptions.sizeOf`. */
  maxBytes?: number
  /** For `'conflate'`: what to do when nothing could be conflated. Default `'drop-oldest'`. */
  conflateFallback?: 'drop-oldest' | 'disconnect'
  /** Aborting it closes the subscriber, as `close()` does. */
  signal?: AbortSignal
  /** Names the subscriber in errors and logs, e.g. the client's connection label. */
  label?: string
}

/** A publish() blocked on a full 'wait' subscriber. @internal */
class Publication<T> extends Waiter {
  constructor(
    readonly fanOut: FanOut<T>,
    readonly item: T,
    readonly size: number,
  ) {
    super()
  }
  protected aborted(): void {
    // The next publication may be smaller and fit now.
    this.fanOut.release()
  }
}

let nextLabel = 1

/**
 * One consumer of a {@link FanOut}: its own bounded queue and overflow policy. Read it with
 * `for await`, `get()` or `tryGet()`. Counters obey, at any time,
 * `received === delivered + dropped + conflated + size`.
 */
export class Subscriber<T> extends BaseQueue<T> {
  /** The full-queue policy chosen at subscribe time. */
  readonly policy: OverflowPolicy
  /** From `SubscribeOptions.label`, or `subscriber-N`. */
  readonly label: string
  /** The item bound. */
  readonly capacity: number
  /** Items the fan-out gave this subscriber. */
  received = 0
  /** Items dropped: by `'drop-oldest'`, and those discarded by `close()` or a disconnect. */
  dropped = 0
  /** Queued items replaced by a newer item with the same key (`'conflate'`). */
  conflated = 0
  /** The `QueueFullError` that disconnected this subscriber, if it was disconnected. */
  error: QueueFullError | undefined

  private readonly fanOut: FanOut<T>
  private readonly fallback: 'drop-oldest' | 'disconnect'
  /** Conflation index: key → sequence number of the newest queued item with that key. */
  private readonly keys: Map<string, number> | undefined
  private readonly onAbort: (() => void) | undefined
  private readonly signal: AbortSignal | undefined

  /** @internal Use `FanOut.subscribe()`. */
  constructor(fanOut: FanOut<T>, options: SubscribeOptions, byteBounded: boolean) {
    const capacity = options.capacity ?? 1024
    const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY
    if (!(capacity === Number.POSITIVE_INFINITY || (Number.isInteger(capacity) && capacity >= 1))) {
      throw new RangeError(`capacity must be an integer >= 1 or Infinity, got ${capacity}`)
    }
    if (!(maxBytes >= 0)) throw new RangeError(`maxBytes must be a number >= 0, got ${maxBytes}`)
    super(capacity, maxBytes, byteBounded)
    this.fanOut = fanOut
    this.capacity = capacity
    this.policy = options.policy ?? 'wait'
    this.label = options.label ?? `subscriber-${nextLabel++}`
    this.fallback = options.conflateFallback ?? 'drop-oldest'
    this.keys = this.policy === 'conflate' ? new Map() : undefined
    const signal = options.signal
    if (signal !== undefined) {
      this.signal = signal
      this.onAbort = () => this.close()
      signal.addEventListener('abort', this.onAbort, { once: true })
    }
  }

  /**
   * Leaves the fan-out now: queued items are discarded (counted in `dropped`), a blocked `get()`
   * rejects with `QueueClosedError`, and iteration ends. Breaking out of a `for await` loop over
   * the subscriber calls this too, so a forgotten 'wait' subscriber cannot stall the publisher.
   * Idempotent.
   */
  override close(): void {
    this.leave()
    this.dropped += this.discardAll()
    super.close()
  }

  /** Leaves the fan-out and fails readers with `reason` (default `QueueClosedError`). */
  override destroy(reason?: Error): void {
    if (this.state === 2) return
    this.leave()
    this.dropped += this.ring.length
    super.destroy(reason)
  }

  /** @internal Graceful end from `FanOut.close()`: the consumer drains what is queued. */
  end(): void {
    this.detachSignal()
    super.close()
  }

  /** @internal Room for an item of `size` for a 'wait' subscriber (a waiting reader always has room). */
  fits(size: number): boolean {
    return this.consumers.head !== null || this.hasRoom(size)
  }

  /** @internal Called by the fan-out for every item, `key` computed only for 'conflate'. */
  deliver(item: T, size: number, key: string | undefined): void {
    this.received++
    if (this.handOff(item)) return
    if (this.hasRoom(size)) {
      this.append(item, size, key)
      return
    }
    switch (this.policy) {
      case 'wait':
        // FanOut checked room before delivering; reaching here means sizeOf changed its mind.
        this.append(item, size, key)
        return
      case 'drop-oldest':
        this.dropAndAppend(item, size, key)
        return
      case 'disconnect':
        this.disconnect()
        return
      case 'conflate':
        if (key !== undefined && this.replace(key, item, size)) return
        if (this.fallback === 'disconnect') this.disconnect()
        else this.dropAndAppend(item, size, key)
        return
    }
  }

  protected override afterTake(): void {
    if (this.policy === 'wait') this.fanOut.release()
  }

  protected override iteratorReturned(): void {
    this.close()
  }

  private append(item: T, size: number, key: string | undefined): void {
    this.pushItem(item, size)
    const keys = this.keys
    if (keys === undefined || key === undefined) return
    keys.set(key, this.headSeq + this.ring.length - 1)
    // Entries of items already taken are stale; prune them once they outnumber the queue, so
    // the index stays O(queue size) even with unbounded key spaces (amortised O(1) per item).
    if (keys.size > 2 * this.ring.length + 64) {
      for (const [k, seq] of keys) if (seq < this.headSeq) keys.delete(k)
    }
  }

  private replace(key: string, item: T, size: number): boolean {
    const seq = this.keys!.get(key)
    if (seq === undefined || seq < this.headSeq) return false
    const offset = seq - this.headSeq
    if (this.sizes !== undefined) {
      const old = this.sizes.at(offset)
      // Replacing with a bigger item must not break the byte bound; then append instead.
      if (this.queuedBytes - old + size > this.maxBytes) return false
      this.sizes.set(offset, size)
      this.queuedBytes += size - old
    }
    this.ring.set(offset, item)
    this.conflated++
    return true
  }

  private dropAndAppend(item: T, size: number, key: string | undefined): void {
    while (this.ring.length > 0 && !this.hasRoom(size)) {
      this.removeHead()
      this.dropped++
    }
    this.append(item, size, key)
  }

  private disconnect(): void {
    const err = new QueueFullError(this.label, this.ring.length, this.queuedBytes)
    this.error = err
    this.dropped++ // the item that did not fit
    this.destroy(err)
  }

  private leave(): void {
    this.detachSignal()
    this.fanOut.remove(this)
  }

  private detachSignal(): void {
    if (this.onAbort !== undefined) this.signal?.removeEventListener('abort', this.onAbort)
  }
}

/**
 * One producer, many subscribers, each with its own bounded queue and overflow policy. Subscribers
 * join and leave at any time; a subscriber receives the items delivered while it is subscribed.
 *
 * Routers should not await per message: `if (!fanOut.offer(item)) await fanOut.publish(item)`.
 * `offer` delivers synchronously unless a 'wait' subscriber is full; `publish` waits for room, and
 * publications are delivered in the order they were made, to every subscriber or none.
 */
export class FanOut<T> {
  private readonly subs: Subscriber<T>[] = []
  private readonly waitSubs: Subscriber<T>[] = []
  private readonly pending = new WaitList<Publication<T>>()
  private readonly sizeOf: ((item: T) => number) | undefined
  private readonly keyOf: ((item: T) => string | undefined) | undefined
  private conflaters = 0
  private isClosed = false
  private releasing = false

  constructor(options: FanOutOptions<T> = {}) {
    this.sizeOf = options.sizeOf
    this.keyOf = options.keyOf
  }

  /** Current subscribers. */
  get subscriberCount(): number {
    return this.subs.length
  }

  /** `publish()` calls blocked on a full 'wait' subscriber. */
  get waitingPublishers(): number {
    return this.pending.length
  }

  /** True once `close()` or `destroy()` was called. */
  get closed(): boolean {
    return this.isClosed
  }

  /**
   * Adds a subscriber. Throws `QueueClosedError` on a closed fan-out, TypeError when the options
   * need a `sizeOf`/`keyOf` the fan-out lacks, RangeError for bad bounds.
   */
  subscribe(options: SubscribeOptions = {}): Subscriber<T> {
    if (this.isClosed) throw new QueueClosedError('fan-out is closed')
    const byteBounded = options.maxBytes !== undefined && options.maxBytes !== Number.POSITIVE_INFINITY
    if (byteBounded && this.sizeOf === undefined) {
      throw new TypeError('a subscriber with maxBytes needs FanOut({ sizeOf })')
    }
    if (options.policy === 'conflate' && this.keyOf === undefined) {
      throw new TypeError("a 'conflate' subscriber needs FanOut({ keyOf })")
    }
    if (options.signal?.aborted) throw options.signal.reason
    const sub = new Subscriber<T>(this, options, byteBounded)
    this.subs.push(sub)
    if (sub.policy === 'wait') this.waitSubs.push(sub)
    if (sub.policy === 'conflate') this.conflaters++
    return sub
  }

  /**
   * Delivers `item` to every subscriber now, applying each one's policy, and returns true; or
   * returns false, delivering nothing, when a 'wait' subscriber is full or earlier `publish()`
   * calls are still waiting (so items never overtake each other). Allocates nothing itself.
   * Throws `QueueClosedError` on a closed fan-out, RangeError for a bad `sizeOf(item)`.
   */
  offer(item: T): boolean {
    if (this.isClosed) throw new QueueClosedError('fan-out is closed')
    if (this.pending.head !== null) return false
    const size = this.measure(item)
    const ws = this.waitSubs
    for (let i = 0; i < ws.length; i++) if (!ws[i]!.fits(size)) return false
    this.deliverAll(item, size)
    return true
  }

  /**
   * Delivers `item` to every subscriber, first waiting until every 'wait' subscriber has room.
   * Returns an already-resolved shared promise when no waiting was needed. Rejects with
   * `signal.reason` when aborted (the item then reaches no one), with `QueueClosedError` if the
   * fan-out is or becomes closed, and with RangeError for a bad `sizeOf(item)`.
   */
  publish(item: T, options?: AbortOptions): Promise<void> {
    const signal = options?.signal
    if (signal?.aborted) return Promise.reject(signal.reason)
    if (this.isClosed) return Promise.reject(new QueueClosedError('fan-out is closed'))
    let size: number
    try {
      size = this.measure(item)
    } catch (err) {
      return Promise.reject(err)
    }
    if (this.pending.head === null) {
      const ws = this.waitSubs
      let fits = true
      for (let i = 0; i < ws.length && fits; i++) fits = ws[i]!.fits(size)
      if (fits) {
        this.deliverAll(item, size)
        return RESOLVED
      }
    }
    const p = new Publication<T>(this, item, size)
    const promise = new Promise<void>((resolve, reject) => {
      p.resolve = resolve as (v: never) => void
      p.reject = reject
    })
    this.pending.push(p)
    p.arm(signal)
    return promise
  }

  /**
   * Ends the fan-out gracefully: each subscriber may still read what it has queued, then its
   * iteration ends; blocked `publish()` calls reject with `QueueClosedError`. Idempotent.
   */
  close(): void {
    if (this.isClosed) return
    this.isClosed = true
    this.rejectPending(undefined)
    for (const sub of this.subs.splice(0)) sub.end()
    this.waitSubs.length = 0
    this.conflaters = 0
  }

  /** Ends now: every subscriber is destroyed with `reason` (see `Subscriber.destroy`). */
  destroy(reason?: Error): void {
    this.isClosed = true
    this.rejectPending(reason)
    for (const sub of this.subs.slice()) sub.destroy(reason)
  }

  /** @internal Delivers blocked publications, oldest first, while every 'wait' subscriber has room. */
  release(): void {
    if (this.pending.head === null || this.releasing) return
    this.releasing = true
    try {
      const ws = this.waitSubs
      for (let p = this.pending.head; p !== null; p = this.pending.head) {
        for (let i = 0; i < ws.length; i++) if (!ws[i]!.fits(p.size)) return
        p.detach()
        this.deliverAll(p.item, p.size)
        ;(p.resolve as () => void)()
      }
    } finally {
      this.releasing = false
    }
  }

  /** @internal Called by a subscriber that closes or is disconnected. */
  remove(sub: Subscriber<T>): void {
    const i = this.subs.indexOf(sub)
    if (i < 0) return
    this.subs.splice(i, 1)
    if (sub.policy === 'conflate') this.conflaters--
    if (sub.policy === 'wait') {
      this.waitSubs.splice(this.waitSubs.indexOf(sub), 1)
      // A full 'wait' subscriber leaving may be all that held the publisher back.
      if (this.pending.head !== null) this.release()
    }
  }

  private deliverAll(item: T, size: number): void {
    const key = this.conflaters > 0 ? this.keyOf!(item) : undefined
    const subs = this.subs
    // Backwards, so a subscriber disconnected (spliced out) during its delivery skips no other.
    for (let i = subs.length - 1; i >= 0; i--) subs[i]!.deliver(item, size, key)
  }

  private measure(item: T): number {
    if (this.sizeOf === undefined) return 0
    const size = this.sizeOf(item)
    if (!(size >= 0 && size !== Number.POSITIVE_INFINITY)) {
      throw new RangeError(`sizeOf(item) must be a finite number >= 0, got ${size}`)
    }
    return size
  }

  private rejectPending(cause: Error | undefined): void {
    for (let p = this.pending.head; p !== null; p = this.pending.head) {
      p.detach()
      p.reject(new QueueClosedError('fan-out is closed', cause === undefined ? undefined : { cause }))
    }
  }
}
