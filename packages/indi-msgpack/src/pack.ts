import { IndiError } from '@indi-ts/indi-xml'
import { Packr, RESERVE_START_SPACE, Unpackr } from 'msgpackr'

/**
 * The msgpack layer, on msgpackr. The schema code (codec.ts, recording.ts) turns messages into
 * plain arrays of strings, numbers, null and Uint8Array and back; this module only packs and
 * unpacks such trees. Records and structured clone are off: every frame is standard msgpack that
 * any msgpack library reads.
 */

/** A malformed binary payload. `path` says where in the decoded tree (e.g. `[9][0][3]`), `''` for msgpack syntax. */
export class BinaryFormatError extends IndiError {
  /** Position in the payload's msgpack tree where decoding failed: `[i]` per array level; `''` when the bytes are not msgpack at all. */
  readonly path: string
  /** The message without its path. */
  readonly reason: string
  constructor(reason: string, path: string, options?: ErrorOptions) {
    super('ERR_INDI_BINARY_MALFORMED', path ? `${reason} (at ${path})` : reason, options)
    this.path = path
    this.reason = reason
  }
}

/** `error` with `prefix` put before its path (the caller knows where the failing subtree sits). */
export function nested(error: unknown, prefix: string): unknown {
  return error instanceof BinaryFormatError ? new BinaryFormatError(error.reason, prefix + error.path) : error
}

/** What the schema code hands to `packWire`: msgpack arrays of these leaves. */
export type Wire = string | number | null | Uint8Array | readonly Wire[]

// Small messages: msgpackr's own slab allocation (results are views into an 8 KiB slab, like
// Node's Buffer pool, and never overwritten). Messages with a big payload get a buffer of their
// own (see packWire), so this slab never grows to BLOB size and a queued small frame never pins
// a BLOB-sized slab.
const slab = new Packr({ useRecords: false })
const exact = new Packr({ useRecords: false })
// int64AsType 'number': a uint64 (another encoder's epoch ms) reads as a number, not a BigInt.
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' })
const RELEASE = Buffer.alloc(16)

/** Above this bound, a message is packed into a buffer of its own instead of a shared slab. */
const SLAB_MAX = 8 * 1024

/** An upper bound of `w`'s msgpack size: strings at 3 bytes per UTF-16 unit, 9 per number. */
function bound(w: Wire): number {
  if (typeof w === 'string') return 5 + 3 * w.length
  if (w === null) return 1
  if (typeof w === 'number') return 9
  if (w instanceof Uint8Array) return 5 + w.length
  let n = 5
  for (const x of w) n += bound(x)
  return n
}

/**
 * Packs `wire` with `prefix` bytes reserved before it (4 for a frame's length field; the caller fills them).
 * A big message (bound above 8 KiB, e.g. a BLOB) is packed straight into a buffer sized from its
 * bound, so its payload is copied once and its frame pins only itself; msgpackr would otherwise
 * grow its slab to 4× the message.
 */
export function packWire(wire: Wire, prefix: 0 | 4 = 0): Buffer {
  const max = bound(wire) + prefix
  const flags = prefix ? RESERVE_START_SPACE | prefix : 0
  if (max <= SLAB_MAX) return slab.pack(wire, flags)
  // msgpackr starts a fresh buffer when fewer than 2 KiB (0x800) are left: give it room.
  exact.useBuffer(Buffer.allocUnsafeSlow(max + 0x810))
  try {
    const out = exact.pack(wire, flags)
    // Mostly ASCII text that the bound overestimated threefold: keep only what is used.
    return out.length * 2 < out.buffer.byteLength ? Buffer.from(out) : out
  } finally {
    exact.useBuffer(RELEASE)
  }
}

/**
 * Unpacks one msgpack value that must fill `bytes` exactly.
 * @throws BinaryFormatError (path `''`) when the bytes are not one complete msgpack value.
 */
export function unpackWire(bytes: Uint8Array): unknown {
  if (bytes.length === 0) throw new BinaryFormatError('empty payload', '')
  try {
    return unpackr.unpack(bytes)
  } catch (cause) {
    const what = cause instanceof Error ? cause.message : String(cause)
    throw new BinaryFormatError(`not valid msgpack: ${what}`, '', { cause })
  }
}
