import { QueueClosedError } from './errors.js'
import { Ring } from './ring.js'
import { Waiter, WaitList } from './waiters.js'

/** Options of every call that can wait. */
export interface AbortOptions {
  /** Aborting rejects the pending call with `signal.reason`, unchanged, and removes its waiter. */
  signal?: AbortSignal
}

/** Shared so the hot path of `put()`/`publish()` allocates no promise. */
export const RESOLVED: Promise<void> = Promise.resolve()
const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true as const })

const OPEN = 0
const CLOSED = 1
const DESTROYED = 2

/** A blocked consumer: a `get()` or one step of an async iteration. @internal */
class ConsumerWaiter<T> extends Waiter {
  constructor(
    /** true: resolve `{ value, done }` (iteration); false: resolve the item (`get`). */
    readonly iter: boolean,
  ) {
    super()
  }
  deliver(item: T): void {
    this.detach()
    const resolve = this.resolve as (v: unknown) => void
    resolve(this.iter ? { value: item, done: false } : item)
  }
  protected aborted(): void {}
}

/** A blocked producer holding the item it could not queue yet. @internal */
class ProducerWaiter<T> extends Waiter {
  constructor(
    readonly queue: BaseQueue<T>,
    readonly item: T,
    readonly size: number,
  ) {
    super()
  }
  protected aborted(): void {
    // The aborted producer may have been the head that did not fit; a smaller one behind it may.
    this.queue.releaseProducers()
  }
}

/**
 * The machinery shared by every queue here: a FIFO of items bounded by count and/or summed size,
 * FIFO lists of blocked producers and consumers, close/destroy, and async iteration.
 *
 * Invariants that keep order and fairness: consumers wait only while no item is queued, so `put`
 * hands an item straight to the first waiting consumer; producers wait only while the first of
 * them does not fit, and a new `put` never overtakes a waiting one.
 */
export abstract class BaseQueue<T> implements AsyncIterable<T> {
  /** @internal */ protected readonly ring = new Ring<T>()
  /** Per-item sizes, parallel to `ring`; only when byte-bounded, so sizeOf runs once per item. */
  /** @internal */ protected readonly sizes: Ring<number> | undefined
  /** @internal */ protected queuedBytes = 0
  /** @internal */ protected readonly maxItems: number
  /** @internal */ protected readonly maxBytes: number
  /** @internal */ protected readonly consumers = new WaitList<ConsumerWaiter<T>>()
  /** @internal */ protected readonly producers = new WaitList<ProducerWaiter<T>>()
  /** @internal */ protected state: 0 | 1 | 2 = OPEN
  /** @internal */ protected reason: Error | undefined
  /** Items ever removed from the head of `ring`: the sequence number of the current head item. */
  /** @internal */ protected headSeq = 0
  private taken = 0

  /** @internal */
  protected constructor(maxItems: number, maxBytes: number, byteBounded: boolean) {
    this.maxItems = maxItems
    this.maxBytes = maxBytes
    this.sizes = byteBounded ? new Ring<number>() : undefined
  }

  /** Items queued now (not counting items held by blocked producers). */
  get size(): number {
    return this.ring.length
  }

  /** Summed `sizeOf` of the queued items; 0 when the queue has no byte bound. */
  get bytes(): number {
    return this.queuedBytes
  }

  /** True once `close()` or `destroy()` was called. Queued items may still be read after `close()`. */
  get closed(): boolean {
    return this.state !== OPEN
  }

  /** Items handed to consumers so far (by `get`, `tryGet` or iteration). */
  get delivered(): number {
    return this.taken
  }

  /** Calls blocked in `get()` or iteration. Aborted calls are removed at once. */
  get waitingConsumers(): number {
    return this.consumers.length
  }

  /** Calls blocked in `put()` (or `publish()` for a fan-out). Aborted calls are removed at once. */
  get waitingProducers(): number {
    return this.producers.length
  }

  /**
   * Removes and returns the oldest item; waits while the queue is empty.
   *
   * The hot path (an item is queued) allocates only the returned promise and adds no listener.
   * Rejects with `signal.reason` when aborted (before or while waiting), with `QueueClosedError`
   * (`ERR_INDI_CLOSED`) once the queue is closed and drained, and with the destroy reason after
   * `destroy(reason)`.
   */
  get(options?: AbortOptions): Promise<T> {
    return this.nextItem(options?.signal, false) as Promise<T>
  }

  /**
   * Removes and returns the oldest item, or `undefined` when none is queued. Never waits, never
   * throws, never allocates. If `T` may be `undefined`, check `size` first.
   */
  tryGet(): T | undefined {
    if (this.ring.length > 0) return this.take()
    const w = this.producers.head
    if (w !== null) return this.takeFromProducer(w)
    return undefined
  }

  /**
   * Async iteration of the items in FIFO order. The loop ends once the queue is closed and
   * drained; it throws the reason after `destroy(reason)`, or `signal.reason` when aborted.
   * Breaking out of the loop leaves the queue open and its remaining items in place.
   */
  values(options?: AbortOptions): AsyncIterableIterator<T> {
    const signal = options?.signal
    const it: AsyncIterableIterator<T> = {
      next: () => this.nextItem(signal, true) as Promise<IteratorResult<T>>,
      return: () => {
        this.iteratorReturned()
        return Promise.resolve(DONE)
      },
      [Symbol.asyncIterator]: () => it,
    }
    return it
  }

  /** Same as `values()`: `for await (const item of queue)`. */
  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this.values()
  }

  /**
   * Closes the queue gracefully: no more items are accepted, blocked producers reject with
   * `QueueClosedError` (their items are not queued), queued items can still be read, and then
   * `get()` rejects with `QueueClosedError` while iteration ends. Idempotent.
   */
  close(): void {
    if (this.state !== OPEN) return
    this.state = CLOSED
    this.rejectProducers(undefined)
    // Consumers only wait while nothing is queued, so every one of them is past the end.
    for (let w = this.consumers.head; w !== null; w = this.consumers.head) {
      w.detach()
      if (w.iter) (w.resolve as (v: unknown) => void)(DONE)
      else w.reject(new QueueClosedError())
    }
  }

  /**
   * Stops now: discards queued items, blocked and later producers reject with `QueueClosedError`
   * (whose `cause` is `reason`), and blocked and later consumers (`get` and iteration) reject with
   * `reason`, so they learn why. Default reason: a `QueueClosedError`. Idempotent.
   */
  destroy(reason?: Error): void {
    if (this.state === DESTROYED) return
    const err = reason ?? new QueueClosedError('queue destroyed')
    this.discardAll()
    this.state = DESTROYED
    this.reason = err
    this.rejectProducers(err)
    for (let w = this.consumers.head; w !== null; w = this.consumers.head) {
      w.detach()
      w.reject(err)
    }
  }

  // ---- internals shared with the subclasses -------------------------------------------------

  /** True when an item of `size` bytes may be queued now. An empty queue takes any size. */
  /** @internal */
  protected hasRoom(size: number): boolean {
    const n = this.ring.length
    return n < this.maxItems && (n === 0 || this.queuedBytes + size <= this.maxBytes)
  }

  /** Appends to the ring. The caller has checked the bound (or decided to exceed it). */
  /** @internal */
  protected pushItem(item: T, size: number): void {
    this.ring.push(item)
    if (this.sizes !== undefined) {
      this.sizes.push(size)
      this.queuedBytes += size
    }
  }

  /** Hands `item` to the first waiting consumer, if any. */
  /** @internal */
  protected handOff(item: T): boolean {
    const w = this.consumers.head
    if (w === null) return false
    this.taken++
    w.deliver(item)
    return true
  }

  /** Removes the head item without counting it as delivered (drop-oldest, discard). */
  /** @internal */
  protected removeHead(): T {
    const item = this.ring.shift()
    if (this.sizes !== undefined) this.queuedBytes -= this.sizes.shift()
    this.headSeq++
    return item
  }

  /** Removes the head item for a consumer, then lets blocked producers in. */
  /** @internal */
  protected take(): T {
    const item = this.removeHead()
    this.taken++
    if (this.producers.head !== null) this.releaseProducers()
    this.afterTake()
    return item
  }

  /** Called after each item a consumer takes from the ring. */
  /** @internal */
  protected afterTake(): void {}

  /** Called when an iteration loop is left early (`break`, `return`, a throw in the body). */
  /** @internal */
  protected iteratorReturned(): void {}

  /** Drops every queued item; returns how many. */
  /** @internal */
  protected discardAll(): number {
    const n = this.ring.length
    this.ring.clear()
    this.sizes?.clear()
    this.queuedBytes = 0
    this.headSeq += n
    return n
  }

  /** The `put()` of the public queues. */
  /** @internal */
  protected putItem(item: T, size: number, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason)
    if (this.state !== OPEN) return Promise.reject(this.closedForProducers())
    if (this.handOff(item)) return RESOLVED
    if (this.producers.head === null && this.hasRoom(size)) {
      this.pushItem(item, size)
      return RESOLVED
    }
    const w = new ProducerWaiter<T>(this, item, size)
    const promise = new Promise<void>((resolve, reject) => {
      w.resolve = resolve as (v: never) => void
      w.reject = reject
    })
    this.producers.push(w)
    w.arm(signal)
    return promise
  }

  /** The `tryPut()` of the public queues. */
  /** @internal */
  protected tryPutItem(item: T, size: number): boolean {
    if (this.state !== OPEN) throw this.closedForProducers()
    if (this.handOff(item)) return true
    if (this.producers.head === null && this.hasRoom(size)) {
      this.pushItem(item, size)
      return true
    }
    return false
  }

  /** Moves blocked producers' items into the ring, oldest first, while they fit. */
  /** @internal */
  releaseProducers(): void {
    for (let w = this.producers.head; w !== null; w = this.producers.head) {
      if (!this.hasRoom(w.size)) return
      w.detach()
      this.pushItem(w.item, w.size)
      ;(w.resolve as () => void)()
    }
  }

  private takeFromProducer(w: ProducerWaiter<T>): T {
    // Only reachable with capacity 0 (a rendezvous): the producer's item goes straight across.
    w.detach()
    this.taken++
    ;(w.resolve as () => void)()
    return w.item
  }

  private nextItem(signal: AbortSignal | undefined, iter: boolean): Promise<unknown> {
    if (signal?.aborted) return Promise.reject(signal.reason)
    if (this.ring.length > 0) {
      const item = this.take()
      return Promise.resolve(iter ? { value: item, done: false } : item)
    }
    const p = this.producers.head
    if (p !== null) {
      const item = this.takeFromProducer(p)
      return Promise.resolve(iter ? { value: item, done: false } : item)
    }
    if (this.state === CLOSED) return iter ? Promise.resolve(DONE) : Promise.reject(new QueueClosedError())
    if (this.state === DESTROYED) return Promise.reject(this.reason)
    const w = new ConsumerWaiter<T>(iter)
    const promise = new Promise<unknown>((resolve, reject) => {
      w.resolve = resolve as (v: never) => void
      w.reject = reject
    })
    this.consumers.push(w)
    w.arm(signal)
    return promise
  }

  private closedForProducers(): QueueClosedError {
    return this.state === DESTROYED
      ? new QueueClosedError('queue destroyed', { cause: this.reason })
      : new QueueClosedError()
  }

  private rejectProducers(cause: Error | undefined): void {
    for (let w = this.producers.head; w !== null; w = this.producers.head) {
      w.detach()
      w.reject(
        cause === undefined ? new QueueClosedError() : new QueueClosedError('queue destroyed', { cause }),
      )
    }
  }
}
