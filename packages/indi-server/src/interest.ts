import type { BlobPolicy } from '@indi-ts/indi-xml'

/**
 * One interest (client) or snoop (driver) entry: a device, optionally one property, and the BLOB
 * policy that applies to it. An empty `name` means every property of the device.
 */
export interface PropertyEntry {
  readonly dev: string
  readonly name: string
  blob: BlobPolicy
}

/**
 * indiserver's `crackBLOB`: only the three exact words change a policy; anything else leaves it
 * unchanged (protocol reference §2.7).
 */
export function crackBlob(text: string, current: BlobPolicy): BlobPolicy {
  return text === 'Also' || text === 'Only' || text === 'Never' ? text : current
}

/**
 * What a client asked for, with indiserver's exact, order-dependent rules (protocol reference
 * §2.5–§2.7): `allprops` 0 (only the listed entries), 1 (all devices: a bare getProperties before
 * any device-specific message) or 2 (a chained upstream server: `device="*"` first).
 */
export class ClientInterest {
  allprops: 0 | 1 | 2 = 0
  readonly props: PropertyEntry[] = []
  /** The client-wide BLOB policy. */
  blob: BlobPolicy = 'Never'

  /** Step 1 of routing a client message: any message with a device counts (§2.5). */
  note(tag: string, dev: string, name: string): void {
    if (dev !== '') {
      if (dev === '*' && this.props.length === 0) this.allprops = 2
      else this.add(dev, name)
    } else if (tag === 'getProperties' && this.props.length === 0 && this.allprops !== 2) {
      this.allprops = 1
    }
  }

  /** `enableBLOB`: with a name it targets that entry; without, the client-wide policy and every entry. */
  enableBlob(dev: string, name: string, text: string): void {
    if (name !== '') this.add(dev, name)
    else this.blob = crackBlob(text, this.blob)
    for (const pp of this.props) {
      if (name === '') pp.blob = crackBlob(text, pp.blob)
      else if (pp.dev === dev && pp.name === name) {
        pp.blob = crackBlob(text, pp.blob)
        return
      }
    }
  }

  /** indiserver's `findDevice`: all-devices mode, a global message, or a matching entry. */
  wants(dev: string, name: string): boolean {
    if (this.allprops >= 1 || dev === '') return true
    for (const pp of this.props) {
      if (pp.dev === dev && (pp.name === '' || pp.name === name)) return true
    }
    return false
  }

  /** Whether a message passes this client's interest and BLOB policy (§2.6, §2.7). */
  accepts(isBlob: boolean, dev: string, name: string): boolean {
    if (!this.wants(dev, name)) return false
    if (!isBlob) return this.blob !== 'Only'
    if (this.props.length > 0) {
      for (const pp of this.props) {
        if (pp.dev === dev && pp.name === name) return pp.blob !== 'Never'
      }
    }
    return this.blob !== 'Never'
  }

  /** Whether any entry names one of these devices (the chained-server test of `q2Servers`). */
  namesAny(devices: ReadonlySet<string>): boolean {
    for (const pp of this.props) if (devices.has(pp.dev)) return true
    return false
  }

  private add(dev: string, name: string): void {
    for (const pp of this.props) if (pp.dev === dev && pp.name === name) return
    this.props.push({ dev, name, blob: 'Never' })
  }
}

/** A driver's snoop records, from the getProperties it sent (§2.5, §2.8). Policy defaults to Never. */
export class SnoopTable {
  readonly entries: PropertyEntry[] = []

  /** Adds a record unless one already matches; returns whether it was new. */
  add(dev: string, name: string): boolean {
    if (this.find(dev, name)) return false
    this.entries.push({ dev, name, blob: 'Never' })
    return true
  }

  /** indiserver's `findSDevice`: same device, and the entry's name empty or equal. */
  find(dev: string, name: string): PropertyEntry | undefined {
    for (const sp of this.entries) if (sp.dev === dev && (sp.name === '' || sp.name === name)) return sp
    return undefined
  }

  /** Whether a snooped message passes the record's BLOB policy. */
  accepts(isBlob: boolean, dev: string, name: string): boolean {
    const sp = this.find(dev, name)
    if (!sp) return false
    return isBlob ? sp.blob !== 'Never' : sp.blob !== 'Only'
  }
}
