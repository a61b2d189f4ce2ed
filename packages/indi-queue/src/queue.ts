import { type AbortOptions, BaseQueue } from './base.js'

function checkCount(name: string, value: number, min: number): number {
  if (!(value === Number.POSITIVE_INFINITY || (Number.isInteger(value) && value >= min))) {
    throw new RangeError(`${name} must be an integer >= ${min} or Infinity, got ${value}`)
  }
  return value
}

/**
 * A FIFO queue holding at most `capacity` items. `put` waits while it is full, `get` waits while
 * it is empty; blocked producers and consumers are served in arrival order.
 *
 * `capacity` 0 makes a rendezvous: each `put` waits for a consumer to take its item.
 * `Infinity` makes an unbounded queue (`put` never waits).
 *
 * @example
 * const q = new BoundedQueue<string>(4)
 * await q.put('a')            // resolves at once: there is room
 * for await (const s of q) …  // ends after q.close() once drained
 */
export class BoundedQueue<T> extends BaseQueue<T> {
  /** The item bound given to the constructor. */
  readonly capacity: number

  /** @param capacity maximum queued items: an integer ≥ 0, or Infinity. Throws RangeError otherwise. */
  constructor(capacity: number) {
    super(checkCount('capacity', capacity, 0), Number.POSITIVE_INFINITY, false)
    this.capacity = capacity
  }

  /**
   * Queues `item`, waiting while the queue is full (behind any producer already waiting).
   * When there is room it returns an already-resolved shared promise: no allocation, no listener.
   * Rejects with `signal.reason` when aborted (the item is then not queued), and with
   * `QueueClosedError` (`ERR_INDI_CLOSED`) if the queue is or becomes closed.
   */
  put(item: T, options?: AbortOptions): Promise<void> {
    return this.putItem(item, 0, options?.signal)
  }

  /**
   * Queues `item` if that needs no waiting; returns false when full (or producers are waiting).
   * Throws `QueueClosedError` on a closed queue, so a closed queue is never mistaken for a full one.
   */
  tryPut(item: T): boolean {
    return this.tryPutItem(item, 0)
  }
}

/** Options of {@link ByteBoundedQueue}. */
export interface ByteBoundedQueueOptions<T> {
  /** Bound on the summed `sizeOf` of queued items (e.g. bytes). A number ≥ 0. */
  maxBytes: number
  /**
   * Size of one item in the unit of `maxBytes`: a finite number ≥ 0. Called once per item, when it
   * is put; the size is remembered, so it need not be cheap to recompute.
   */
  sizeOf: (item: T) => number
  /** Optional bound on the item count as well. Default Infinity. */
  maxItems?: number
}

/**
 * A FIFO queue bounded by the summed size of its items (for example encoded bytes of INDI
 * messages), with the same API as {@link BoundedQueue}. An item larger than the whole bound is
 * still accepted once the queue is empty, so one big BLOB can never deadlock a producer.
 * Producers stay in FIFO order: a big item waiting for room is not overtaken by smaller ones.
 */
export class ByteBoundedQueue<T> extends BaseQueue<T> {
  private readonly sizeOf: (item: T) => number

  /** Throws RangeError for a negative or non-numeric `maxBytes` or `maxItems`. */
  constructor(options: ByteBoundedQueueOptions<T>) {
    const { maxBytes, sizeOf, maxItems = Number.POSITIVE_INFINITY } = options
    if (!(maxBytes >= 0)) throw new RangeError(`maxBytes must be a number >= 0, got ${maxBytes}`)
    if (typeof sizeOf !== 'function') throw new TypeError('sizeOf must be a function')
    super(checkCount('maxItems', maxItems, 1), maxBytes, true)
    this.sizeOf = sizeOf
  }

  /** The byte bound given to the constructor. */
  get capacity(): number {
    return this.maxBytes
  }

  /**
   * Queues `item`, waiting while it does not fit. Same contract as `BoundedQueue.put`; also
   * rejects with RangeError if `sizeOf(item)` is not a finite number ≥ 0.
   */
  put(item: T, options?: AbortOptions): Promise<void> {
    let size: number
    try {
      size = this.measure(item)
    } catch (err) {
      return Promise.reject(err)
    }
    return this.putItem(item, size, options?.signal)
  }

  /** Same contract as `BoundedQueue.tryPut`; also throws RangeError for a bad `sizeOf(item)`. */
  tryPut(item: T): boolean {
    return this.tryPutItem(item, this.measure(item))
  }

  private measure(item: T): number {
    const size = this.sizeOf(item)
    if (!(size >= 0 && size !== Number.POSITIVE_INFINITY)) {
      throw new RangeError(`sizeOf(item) must be a finite number >= 0, got ${size}`)
    }
    return size
  }
}
