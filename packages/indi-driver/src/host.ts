import type { IndiMessage, SetBlobVector } from '@indi-ts/indi-xml'
import type { OutMeta } from './peer.js'

/** How incoming numbers outside [min, max] are treated (a range with min == max is ignored). */
export type RangePolicy = 'accept' | 'clamp' | 'reject'

/**
 * What devices and vectors need from the driver that owns them. Internal: the Driver implements
 * it; a vector or device not yet added to a running driver has no host, and its sends resolve false.
 */
export interface SendHost {
  readonly running: boolean
  /** formatTimestamp(now()), cached per second (the hot path of every send). */
  stamp(): string
  /** True while the bounded writer queue is over its mark (senders should wait). */
  readonly full: boolean
  /** Queue already-built text regardless of the bound (after checking `full`). */
  pushText(text: string, meta: OutMeta): void
  /** Queue already-built text, waiting for room. */
  queueText(text: string, meta: OutMeta, signal?: AbortSignal): Promise<boolean>
  /** Queue one message, waiting for room in the bounded writer queue. */
  queue(message: IndiMessage, signal?: AbortSignal): Promise<boolean>
  /** Stream a BLOB vector (base64 piece by piece) followed by the ping handshake when enabled. */
  queueBlob(message: SetBlobVector, signal?: AbortSignal): Promise<boolean>
}
