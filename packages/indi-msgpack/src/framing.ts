import type { IndiMessage } from '@indi-ts/indi-xml'
import { IndiError } from '@indi-ts/indi-xml'
import { decodeMessage, messageToWire } from './codec.js'
import { packWire } from './pack.js'

/** Format version of the binary link and of recordings. A peer with another version is refused. */
export const BINARY_VERSION = 1

/**
 * The 8 bytes each side of a binary link sends first: 0x89 "INDIB", version, flags (0).
 * 0x89 cannot begin XML or UTF-8 text, so an XML peer and a binary peer can never be confused.
 */
export const LINK_PREAMBLE: Uint8Array = Uint8Array.of(0x89, 0x49, 0x4e, 0x44, 0x49, 0x42, BINARY_VERSION, 0)
/** The first 8 bytes of a recording file: 0x89 "INDIR", version, flags (0). */
export const RECORDING_MAGIC: Uint8Array = Uint8Array.of(
  0x89,
  0x49,
  0x4e,
  0x44,
  0x49,
  0x52,
  BINARY_VERSION,
  0,
)

/** Default `maxFrameBytes`: 512 MiB, the same bound as indi-xml's `maxBlobElementBytes`. */
export const DEFAULT_MAX_FRAME_BYTES = 512 * 1024 * 1024

/** Frame length field: a 32-bit big-endian byte count of the payload that follows. */
const LENGTH_BYTES = 4

/**
 * One message as a frame: 4-byte big-endian length, then the msgpack payload, in one buffer so
 * one `send()` carries it.
 * @throws IndiError `ERR_INDI_INVALID_VALUE` (see `encodeMessage`), `ERR_INDI_BINARY_TOO_LARGE`
 * above 4 GiB.
 */
export function encodeFrame(message: IndiMessage): Uint8Array {
  const buf = packWire(messageToWire(message), LENGTH_BYTES)
  if (buf.length - LENGTH_BYTES > 0xffffffff) {
    throw new IndiError(
      'ERR_INDI_BINARY_TOO_LARGE',
      `a ${message.tag} of ${buf.length} bytes does not fit a frame`,
    )
  }
  buf.writeUInt32BE(buf.length - LENGTH_BYTES, 0)
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
}

function describe(bytes: Uint8Array): string {
  const head = Buffer.from(bytes.subarray(0, 24))
  const text = head.toString('latin1').replace(/[^\x20-\x7e]/g, '.')
  return `${JSON.stringify(text)} (hex ${head.subarray(0, 8).toString('hex')})`
}

/** Limits of a frame decoder. */
export interface FrameLimits {
  /** Largest frame payload accepted, in bytes. Default 512 MiB. Bounds the memory one frame takes. */
  maxFrameBytes?: number
}

/**
 * Splits a byte stream into frames: checks the 8-byte preamble, then yields each payload.
 * Feed chunks split anywhere. A frame that spans chunks is assembled in one buffer of its exact
 * size (no repeated concatenation); a frame inside one chunk is a view of that chunk.
 *
 * There is no resynchronisation: after a bad preamble or an oversize length the stream cannot
 * be trusted, so `push` throws and the decoder stays failed.
 */
export class FrameSplitter {
  private readonly max: number
  private preambleSeen = 0
  private readonly head = new Uint8Array(Math.max(8, LENGTH_BYTES))
  private headFill = 0
  private frame: Uint8Array | undefined
  private frameFill = 0
  private failed: IndiError | undefined
  /** Bytes consumed so far, for error messages. */
  offset = 0

  constructor(
    private readonly magic: Uint8Array,
    private readonly kind: 'link' | 'recording',
    limits: FrameLimits = {},
  ) {
    this.max = limits.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
  }

  /** True between frames (nothing partial buffered): a clean place for the stream to end. */
  get atBoundary(): boolean {
    return this.preambleSeen === this.magic.length && this.headFill === 0 && this.frame === undefined
  }

  /** True before any byte of the preamble arrived. */
  get empty(): boolean {
    return this.offset === 0
  }

  /**
   * Feeds bytes; returns the complete frame payloads they finish, in order.
   * @throws IndiError `ERR_INDI_BINARY_HANDSHAKE` (bad preamble), `ERR_INDI_BINARY_TOO_LARGE`
   * (length above `maxFrameBytes`) or `ERR_INDI_BINARY_MALFORMED` (zero length).
   */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.failed) throw this.failed
    const out: Uint8Array[] = []
    let i = 0
    const n = chunk.length
    while (i < n) {
      if (this.preambleSeen < this.magic.length) {
        i = this.takePreamble(chunk, i)
        continue
      }
      if (this.frame === undefined) {
        // Fast path: the whole length field and payload are inside this chunk.
        if (this.headFill === 0 && n - i >= LENGTH_BYTES) {
          const len = this.checkLength(
            ((chunk[i] as number) * 0x1000000 +
              (((chunk[i + 1] as number) << 16) |
                ((chunk[i + 2] as number) << 8) |
                (chunk[i + 3] as number))) >>>
              0,
          )
          if (n - i - LENGTH_BYTES >= len) {
            out.push(chunk.subarray(i + LENGTH_BYTES, i + LENGTH_BYTES + len))
            i += LENGTH_BYTES + len
            this.offset += LENGTH_BYTES + len
            continue
          }
          this.frame = new Uint8Array(len)
          this.frameFill = 0
          i += LENGTH_BYTES
          this.offset += LENGTH_BYTES
          continue
        }
        const take = Math.min(LENGTH_BYTES - this.headFill, n - i)
        this.head.set(chunk.subarray(i, i + take), this.headFill)
        this.headFill += take
        i += take
        this.offset += take
        if (this.headFill === LENGTH_BYTES) {
          const h = this.head
          const len = this.checkLength(
            ((h[0] as number) * 0x1000000 +
              (((h[1] as number) << 16) | ((h[2] as number) << 8) | (h[3] as number))) >>>
              0,
          )
          this.headFill = 0
          this.frame = new Uint8Array(len)
          this.frameFill = 0
        }
        continue
      }
      const frame = this.frame
      const take = Math.min(frame.length - this.frameFill, n - i)
      frame.set(chunk.subarray(i, i + take), this.frameFill)
      this.frameFill += take
      i += take
      this.offset += take
      if (this.frameFill === frame.length) {
        out.push(frame)
        this.frame = undefined
      }
    }
    return out
  }

  /** Bytes of an unfinished frame at the end of input (0 at a boundary). */
  get pendingBytes(): number {
    return this.headFill + (this.frame ? this.frameFill + LENGTH_BYTES : 0)
  }

  private takePreamble(chunk: Uint8Array, i: number): number {
    const magic = this.magic
    const start = this.preambleSeen
    while (i < chunk.length && this.preambleSeen < magic.length) {
      const b = chunk[i] as number
      const want = magic[this.preambleSeen] as number
      if (b !== want) {
        const seen = Buffer.concat([magic.subarray(0, this.preambleSeen), chunk.subarray(i)])
        throw this.fail(this.preambleError(this.preambleSeen, b, seen))
      }
      this.preambleSeen++
      i++
    }
    this.offset += this.preambleSeen - start
    return i
  }

  private preambleError(at: number, b: number, seen: Uint8Array): IndiError {
    const what = this.kind === 'link' ? 'binary INDI link' : 'indi-ts recording'
    if (at === 6) {
      return new IndiError(
        this.kind === 'link' ? 'ERR_INDI_BINARY_HANDSHAKE' : 'ERR_INDI_RECORDING',
        `${what} version ${b} is not supported (this is version ${BINARY_VERSION})`,
      )
    }
    if (this.kind === 'recording') {
      return new IndiError('ERR_INDI_RECORDING', `not an indi-ts recording: starts with ${describe(seen)}`)
    }
    const first = seen[0] as number
    // '<' or XML whitespace first: an INDI XML peer (indiserver, a libindi driver, KStars).
    const xml = first === 0x3c || first === 0x20 || first === 0x0a || first === 0x0d || first === 0x09
    return new IndiError(
      'ERR_INDI_BINARY_HANDSHAKE',
      xml
        ? `peer speaks INDI XML, not the binary link: it sent ${describe(seen)}`
        : `peer did not open with the binary INDI preamble: it sent ${describe(seen)}`,
    )
  }

  private checkLength(len: number): number {
    if (len === 0) {
      throw this.fail(new IndiError('ERR_INDI_BINARY_MALFORMED', `zero-length frame at byte ${this.offset}`))
    }
    if (len > this.max) {
      throw this.fail(
        new IndiError(
          'ERR_INDI_BINARY_TOO_LARGE',
          `frame of ${len} bytes at byte ${this.offset} exceeds maxFrameBytes (${this.max})`,
        ),
      )
    }
    return len
  }

  private fail(error: IndiError): IndiError {
    this.failed = error
    return error
  }
}

/**
 * A push decoder for the binary link (like indi-xml's `IndiParser`, but strict): preamble check,
 * framing and message validation. Use it where bytes do not come from a `Connection`.
 */
export class BinaryDecoder {
  private readonly frames: FrameSplitter
  constructor(limits: FrameLimits = {}) {
    this.frames = new FrameSplitter(LINK_PREAMBLE, 'link', limits)
  }
  /**
   * Feeds bytes; returns the messages they complete.
   * @throws IndiError `ERR_INDI_BINARY_HANDSHAKE`, `ERR_INDI_BINARY_TOO_LARGE` or
   * `ERR_INDI_BINARY_MALFORMED`; after a throw every later call throws the same error.
   */
  push(chunk: Uint8Array): IndiMessage[] {
    const out: IndiMessage[] = []
    for (const payload of this.frames.push(chunk)) out.push(decodeMessage(payload))
    return out
  }
  /**
   * End of input.
   * @throws IndiError `ERR_INDI_BINARY_MALFORMED` when the input stopped inside a frame or the preamble.
   */
  end(): void {
    if (!this.frames.empty && !this.frames.atBoundary) {
      throw new IndiError(
        'ERR_INDI_BINARY_MALFORMED',
        `binary link ended inside a frame (${this.frames.pendingBytes} bytes of it received)`,
      )
    }
  }
}
