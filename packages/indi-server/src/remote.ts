import { buildMessageBytes } from '@indi-ts/indi-xml'
import type { OutItem } from './outbox.js'

/**
 * Where a chained remote link stands. `connecting` until the first attempt settles, then
 * `connected` or `disconnected` (unreachable, or lost and retrying with backoff); `stopped` once
 * the link was removed or the server closed.
 */
export type RemoteState = 'connecting' | 'connected' | 'disconnected' | 'stopped'

/** A remote link changed state (one event per change, never one per retry). */
export interface RemoteStatus {
  /** The link's driver name, e.g. `@127.0.0.1:7624` or `Telescope@host:7624`. */
  readonly name: string
  readonly host: string
  readonly port: number
  readonly device: string | undefined
  readonly state: RemoteState
  readonly previous: RemoteState
  /** Why the link is down (the last connection error), when known. */
  readonly error: Error | undefined
  /** Failed connection attempts since the link was last connected. */
  readonly attempts: number
}

/**
 * The per-link bookkeeping of a remote server: its state machine, the client `enableBLOB`s sent
 * over it (replayed after a reconnect, since the remote forgot them with the old connection), and
 * the `blobs` flag filter.
 */
export class RemoteLink {
  state: RemoteState = 'connecting'
  error: Error | undefined
  attempts = 0
  /** BLOBs refused by the `blobs: false` flag, both ways. */
  dropped = 0
  /** Last client enableBLOB per device/name, in first-seen order. */
  private readonly enables = new Map<string, OutItem>()

  /**
   * @param blobs The `RemoteSpec.blobs` flag: undefined passes clients' enableBLOB through as
   *   indiserver does; true answers every defBLOBVector from the remote with enableBLOB Also;
   *   false answers with Never and drops BLOBs in both directions.
   */
  constructor(readonly blobs: boolean | undefined) {}

  /** Moves to `next`; returns whether that is a change (so callers emit and message once). */
  transition(next: RemoteState, error?: Error): boolean {
    if (next === 'disconnected') {
      this.attempts++
      if (error) this.error = error
    } else if (next === 'connected') {
      this.attempts = 0
      this.error = undefined
    }
    if (next === this.state) return false
    this.state = next
    return true
  }

  /**
   * Filters what the server sends over the link. Records each enableBLOB for replay; with
   * `blobs: false` refuses enableBLOB and newBLOBVector (counted).
   */
  outgoing(item: OutItem): boolean {
    const tag = item.tag
    if (tag === 'enableBLOB') {
      if (this.blobs !== undefined) return false
      this.enables.set(`${item.device ?? ''}\u0000${item.name ?? ''}`, item)
      return true
    }
    if (tag === 'newBLOBVector' && this.blobs === false) {
      this.dropped++
      return false
    }
    return true
  }

  /** The enableBLOBs to replay after a reconnect, oldest first. */
  replay(): OutItem[] {
    return [...this.enables.values()]
  }

  /**
   * Filters what the remote sends. Returns the enableBLOB answer due for a defBLOBVector (the
   * `blobs` flag), `false` to drop the element (a setBLOBVector under `blobs: false`), or `true`.
   */
  incoming(tag: string, device: string, name: string | undefined): boolean | OutItem {
    if (this.blobs === undefined) return true
    if (tag === 'setBLOBVector' && !this.blobs) {
      this.dropped++
      return false
    }
    if (tag === 'defBLOBVector' && name !== undefined) {
      return {
        tag: 'enableBLOB',
        device,
        name,
        bytes: buildMessageBytes({
          tag: 'enableBLOB',
          device,
          name,
          policy: this.blobs ? 'Also' : 'Never',
        }),
      }
    }
    return true
  }
}
