import type { BlobPolicy } from '@indi-ts/indi-xml'
import type { Connection } from '@indi-ts/transport'

/**
 * Who is on the other end of a connection:
 * - 'server': indiserver or @indi-ts/indi-server (or anything relaying for clients). It applies
 *   BLOB policies itself, so the driver sends everything and answers its pings.
 * - 'client': an INDI client talking to the driver directly (driver.listen()). The driver applies
 *   this client's own enableBLOB policy; BLOBs default to Never, as indiserver does (§0.6).
 */
export type PeerKind = 'server' | 'client'

/** Routing facts of one queued message. */
export interface OutMeta {
  /** A setBLOBVector that carries at least one member (an empty one is an acknowledgement). */
  readonly blob: boolean
  readonly device: string | undefined
  readonly name: string | undefined
  /** Only this peer gets it (getProperties replies, pingReply, refusals); undefined: every peer. */
  readonly target: Peer | undefined
}

/** One connection the driver talks over, with its per-connection BLOB policy. */
export class Peer {
  readonly conn: Connection
  readonly kind: PeerKind
  /** device → { policy for the whole device, per-vector policies } */
  readonly #blob = new Map<string, { all?: BlobPolicy; names: Map<string, BlobPolicy> }>()
  /**
   * Binary link only: the connection under `conn` (which is `binaryAsXml(binaryLink)`). The writer
   * sends BLOBs here as one msgpack frame with raw bytes, never as base64.
   */
  readonly binaryLink: Connection | undefined
  /** Set when the writer gave up on this peer (slow or broken). */
  dead = false

  constructor(conn: Connection, kind: PeerKind, binaryLink?: Connection) {
    this.conn = conn
    this.kind = kind
    this.binaryLink = binaryLink
  }

  get label(): string {
    return this.conn.label
  }

  /** Applies an enableBLOB from this peer. A device-wide policy replaces the per-vector ones. */
  setBlobPolicy(device: string, name: string | undefined, policy: BlobPolicy): void {
    let d = this.#blob.get(device)
    if (d === undefined) {
      d = { names: new Map() }
      this.#blob.set(device, d)
    }
    if (name === undefined) {
      d.all = policy
      d.names.clear()
    } else d.names.set(name, policy)
  }

  /** The policy for one BLOB vector: per-vector, else device-wide, else Never. */
  blobPolicy(device: string, name: string | undefined): BlobPolicy {
    const d = this.#blob.get(device)
    if (d === undefined) return 'Never'
    return (name !== undefined ? d.names.get(name) : undefined) ?? d.all ?? 'Never'
  }

  /** Whether a message goes to this peer. Servers get everything; clients by their BLOB policy. */
  wants(meta: OutMeta): boolean {
    if (meta.target !== undefined) return meta.target === this
    if (this.kind === 'server' || meta.device === undefined) return true
    if (meta.blob) return this.blobPolicy(meta.device, meta.name) !== 'Never'
    // Only is scoped to the device (libindi behaviour, parity §7): a connection that asked for
    // Only on a device — or only on some of its vectors — gets that device's BLOBs and nothing else of it.
    const d = this.#blob.get(meta.device)
    if (d === undefined) return true
    if (d.all !== undefined) return d.all !== 'Only'
    for (const p of d.names.values()) if (p === 'Only') return false
    return true
  }
}
