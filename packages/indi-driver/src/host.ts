import type { DelProperty, IndiMessage, Message, SetBlobVector } from '@indi-ts/indi-xml'
import type { OutMeta } from './peer.js'

/** How incoming numbers outside [min, max] are treated (a range with min == max is ignored). */
export type RangePolicy = 'accept' | 'clamp' | 'reject'

/**
 * What devices and vectors need from the driver that owns them. Internal: the Driver implements
 * it; a vector or device not yet added to a running driver has no host, and its sends resolve false.
 */
export interface SendHost {
  readonly running: boolean
  readonly numberRange: RangePolicy
  now(): Date
  /** formatTimestamp(now()), cached per second (the hot path of every send). */
  stamp(): string
  /** True while the bounded writer queue is over its mark (senders should wait). */
  readonly full: boolean
  /** Queue already-built text regardless of the bound (after checking `full`). */
  pushText(text: string, meta: OutMeta): void
  /** Queue already-built text, waiting for room. */
  queueText(text: string, meta: OutMeta, signal?: AbortSignal): Promise<boolean>
  /** Queue one message; false when not queued because the bounded writer queue is full. */
  tryQueue(message: IndiMessage): boolean
  /** Queue one message, waiting for room in the bounded writer queue. */
  queue(message: IndiMessage, signal?: AbortSignal): Promise<boolean>
  /** Stream a BLOB vector (base64 piece by piece) followed by the ping handshake when enabled. */
  queueBlob(message: SetBlobVector, signal?: AbortSignal): Promise<boolean>
  /** A def/del/message the driver wants in its log too. */
  note(message: DelProperty | Message): void
  /** Re-sends every definition of a device, in order (device.restore()). */
  ownsDevice(name: string): boolean
}
