/**
 * @indi-ts/indi-queue: bounded async queues with backpressure, AbortSignal, async iteration and
 * fan-out, for moving INDI messages between connections, drivers and devices. Browser-safe: no
 * Node-only APIs.
 */
export { type AbortOptions, BaseQueue } from './base.js'
export { QueueClosedError, QueueFullError } from './errors.js'
export {
  FanOut,
  type FanOutOptions,
  type OverflowPolicy,
  type SubscribeOptions,
  Subscriber,
} from './fanout.js'
export { BoundedQueue, ByteBoundedQueue, type ByteBoundedQueueOptions } from './queue.js'
