import { IndiError } from '@indi-ts/indi-xml/errors'

/**
 * An operation on a queue, fan-out or subscriber that has been closed: `put`/`tryPut`/`publish`/
 * `offer` after `close()`, a waiting `put` or `publish` when the queue closes, and `get` on a closed
 * queue that has been drained. Code `ERR_INDI_CLOSED`.
 */
export class QueueClosedError extends IndiError {
  constructor(message = 'queue is closed', options?: ErrorOptions) {
    super('ERR_INDI_CLOSED', message, options)
  }
}

/**
 * A fan-out subscriber whose policy is `'disconnect'` (or `'conflate'` falling back to
 * `'disconnect'`) was full when an item arrived: it was closed and removed. Its consumer's `get()`
 * and iteration reject with this error. Code `ERR_INDI_QUEUE_FULL`.
 */
export class QueueFullError extends IndiError {
  /** The subscriber's label, for logs. */
  readonly label: string
  /** Items queued when it overflowed. */
  readonly size: number
  /** Bytes queued when it overflowed (0 if it has no byte bound). */
  readonly bytes: number
  constructor(label: string, size: number, bytes: number, options?: ErrorOptions) {
    super(
      'ERR_INDI_QUEUE_FULL',
      `subscriber ${label} fell behind: ${size} items (${bytes} bytes) queued`,
      options,
    )
    this.label = label
    this.size = size
    this.bytes = bytes
  }
}
