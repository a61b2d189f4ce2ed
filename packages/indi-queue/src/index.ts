/** @indi-ts/indi-queue: Bounded async queues with backpressure, AbortSignal, async iteration and fan-out. */
export {}
