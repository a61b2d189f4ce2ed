/**
 * The byte scanner shared by `IndiParser` and `IndiFramer`: it cuts a byte stream into top-level
 * elements, skipping `<?xml …?>`, comments and `<!…>` between them, enforcing the size limits and
 * resynchronising after bad input. It never builds strings for the body of an element.
 *
 * Speed notes (bench/parse.mjs, Node 20, shared 2-core machine, numbers vary ±25% run to run):
 * - Searches use `Buffer#indexOf` (memchr/memmem in C++, ~17 ns a call in a micro-benchmark)
 *   rather than a JS byte loop (~1.1 ns a byte): an element body is crossed `<` to `<`.
 * - A pushed chunk is scanned in place; only the unfinished tail is copied, and the next chunk is
 *   fed to it piece by piece until that element completes. Appending whole chunks instead cost
 *   a copy of every chunk and ~16% of framing time in GC; fixing it took framing from ~690k to
 *   ~800-900k elements/s.
 * - Elements lying whole in a pushed chunk (nearly all of them) take `fast()`, which skips the
 *   resumable state machine: with lazy frames it took framing from ~780k to ~1.6M frames/s per CPU
 *   second (×3.9 → ×7.7 saxes).
 * - Second round (measured with a framer-only script, best of 8 rounds by CPU time, ±3%): the
 *   tag picked from two bytes (knownTag) and device=/name= compared directly ~1.65M → ~1.7M;
 *   the chunk's ArrayBuffer cached for frame views (framer.ts) → ~1.78M; the value scan
 *   unrolled by four → ~1.9M; the device/name cache compare unrolled → ~2.0M frames/s. Tried
 *   and dropped (no gain or slower): a JS loop before indexOf in the body, indexOf for values,
 *   unrolling the name scan, comparing state=/timestamp= directly, a 32-bit SWAR quote search.
 *   Then no out-of-bounds reads (four sites each deoptimised fast() once, and the recompiled
 *   loads were slower for good): ~2.0M → ~2.25M frames/s.
 *   What is left, per frame (~450 ns): the start tag's byte loops (about a third), the body's
 *   indexOf hops (~70 ns for three members), the frame's view (~45 ns) and device/name (~50 ns).
 * - For the parser, `direct()` reads whole elements straight from the chunk (bytevectors.ts,
 *   parser.ts), so fast() only frames what the parser's readers decline.
 */
import { Buffer } from 'node:buffer'
import { asBuffer, excerptOf, isNameByte, isNameStartByte, isSpaceByte } from './bytes.js'
import { IndiError, XmlParseError } from './errors.js'
import { INDI_TAGS } from './model.js'
import type { ParserLimits } from './parser.js'

/**
 * Buffers for BLOB elements (IndiFramer's `blobBuffers` option): `take(bytes, wanted)` returns a
 * Buffer of at least `bytes` (and may return one up to `wanted`, the size the BLOB announced);
 * `give(buf)` hands back one that was outgrown before any frame came out of it.
 */
export interface BlobBuffers {
  take(bytes: number, wanted: number): Buffer
  give(buf: Buffer): void
}

/** Limits with every default filled in. */
export interface ResolvedLimits {
  readonly maxElementBytes: number
  readonly maxBlobElementBytes: number
  readonly maxAttributes: number
  readonly maxDepth: number
}

export const DEFAULT_LIMITS: ResolvedLimits = {
  maxElementBytes: 1 << 20,
  maxBlobElementBytes: 512 << 20,
  maxAttributes: 64,
  maxDepth: 8,
}

/** Fill in defaults; throws IndiError ERR_INDI_INVALID_VALUE for a limit that is not a positive integer. */
export function resolveLimits(limits: ParserLimits = {}): ResolvedLimits {
  const out = { ...DEFAULT_LIMITS }
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof ResolvedLimits)[]) {
    const v = limits[key]
    if (v === undefined) continue
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new IndiError(
        'ERR_INDI_INVALID_VALUE',
        `parser limit ${key} must be a positive integer, got ${v}`,
      )
    }
    out[key] = v
  }
  return out
}

// Known top-level tags, bucketed by byte length for a quick match without building a string.
// Flat parallel arrays and indexed loops: the for-of/destructuring version showed up at ~4% of
// framing time.
const TAG_BYTES: Uint8Array[][] = []
const TAG_BYTES_BY_INDEX: Uint8Array[] = []
const TAG_INDEX: number[][] = []
let MAX_TAG_LEN = 0
INDI_TAGS.forEach((tag, index) => {
  const bytes = new TextEncoder().encode(tag)
  const n = bytes.length
  TAG_BYTES_BY_INDEX[index] = bytes
  if (TAG_BYTES[n] === undefined) {
    TAG_BYTES[n] = []
    TAG_INDEX[n] = []
  }
  TAG_BYTES[n]!.push(bytes)
  TAG_INDEX[n]!.push(index)
  MAX_TAG_LEN = Math.max(MAX_TAG_LEN, n)
})
for (let n = 0; n <= MAX_TAG_LEN; n++) {
  TAG_BYTES[n] ??= []
  TAG_INDEX[n] ??= []
}
const TAG_LEN = INDI_TAGS.map((t) => t.length)
const TAG_AT: Record<string, number> = {}
INDI_TAGS.forEach((t, i) => {
  TAG_AT[t] = i
})
// The known tag that a name's first and fourth bytes point to (see knownTag), or -1: set/def/
// new + the kind's initial; the other tags differ by their first byte. Only pingRequest and
// pingReply share a key; knownTag separates them.
const BY_FIRST_FOURTH = new Int8Array(256 * 256).fill(-1)
INDI_TAGS.forEach((t, i) => {
  if (t !== 'pingReply') BY_FIRST_FOURTH[t.charCodeAt(0) * 256 + t.charCodeAt(3)] = i
})
const PING_REQUEST = INDI_TAGS.indexOf('pingRequest')
const PING_REPLY = INDI_TAGS.indexOf('pingReply')

/**
 * Index in INDI_TAGS of the complete tag name starting at b[p] (the byte after '<'), or -1 when
 * it is not a known tag or the name may run past the end of the buffer. Picks the one candidate
 * from the name's first and fourth bytes, compares it whole and checks the name ends there,
 * instead of scanning the name and then comparing it with each tag of its length (with the
 * direct device=/name= compare below: framing ~1.65M → ~1.7M frames/s, within noise alone).
 */
function knownTag(b: Uint8Array, p: number, len: number): number {
  if (p + 4 >= len) return -1
  let i = BY_FIRST_FOURTH[b[p]! * 256 + b[p + 3]!]!
  if (i < 0) return -1
  if (i === PING_REQUEST && b[p + 6] === 112 /* pingRe'p'ly */) i = PING_REPLY
  const t = TAG_BYTES_BY_INDEX[i]!
  const n = t.length
  if (p + n >= len) return -1
  for (let k = 1; k < n; k++) if (b[p + k] !== t[k]) return -1
  return NAME[b[p + n]!] === 1 ? -1 : i
}
const SET_BLOB = INDI_TAGS.indexOf('setBLOBVector')
const NEW_BLOB = INDI_TAGS.indexOf('newBLOBVector')

/** Index in INDI_TAGS of the name in b[start, end), or -1. */
export function matchTopTag(b: Uint8Array, start: number, end: number): number {
  const n = end - start
  if (n > MAX_TAG_LEN) return -1
  const bucket = TAG_BYTES[n]!
  outer: for (let j = 0; j < bucket.length; j++) {
    const t = bucket[j]!
    // Tags of one length differ early ("set"/"def"/"new", then the kind): compare from the front.
    for (let i = 0; i < n; i++) if (b[start + i] !== t[i]) continue outer
    return TAG_INDEX[n]![j]!
  }
  return -1
}

// Byte classes as tables: one load instead of a chain of comparisons.
const NAME_START = new Uint8Array(256)
const NAME = new Uint8Array(256)
const SPACE = new Uint8Array(256)
for (let c = 0; c < 256; c++) {
  NAME_START[c] = isNameStartByte(c) ? 1 : 0
  NAME[c] = isNameByte(c) ? 1 : 0
  SPACE[c] = isSpaceByte(c) ? 1 : 0
}

/** Test hook: false sends every element through the resumable machine (differential tests). */
export const testing = { fastPath: true }

/** Receives what the splitter finds, in stream order. */
export interface SplitHandler {
  /**
   * One complete top-level element, `b[start, end)`, at stream offset `offset`. `ds, de` and
   * `ns, ne` bound the raw values of its `device` and `name` attributes in `b` (-1 when absent).
   * Return true if a view of `b` is kept (the splitter then never writes into `b` again).
   */
  element(
    b: Buffer,
    start: number,
    end: number,
    tag: string,
    tagIndex: number,
    offset: number,
    ds: number,
    de: number,
    ns: number,
    ne: number,
  ): boolean
  error(error: XmlParseError): void
  /**
   * Optional: read the complete, valid, non-BLOB element with known tag `tagIndex` that starts at
   * b[start] (a '<' in the chunk being scanned in place, which ends at len) and report it
   * directly. Returns the index just after the element, or -1 to let the splitter frame it (any
   * doubt: unusual or invalid input, an element running past len, a limit). Only called from the
   * fast path, so an element it takes is one the splitter would have framed the same way.
   */
  direct?(b: Buffer, start: number, len: number, tagIndex: number, maxBytes: number): number
}

enum S {
  Outside = 0,
  Lt = 1,
  Tag = 2,
  Body = 3,
  Special = 4,
  Discard = 5,
}
enum P {
  TagName = 0,
  Before = 1,
  AttrName = 2,
  AfterName = 3,
  AfterEq = 4,
  Value = 5,
  Slash = 6,
}

const EMPTY = asBuffer(new Uint8Array(0))
const ENCLEN = Buffer.from(' enclen=')
const SIZE = Buffer.from(' size=')
const MIN_CAPACITY = 16 << 10

export class Splitter {
  private readonly limits: ResolvedLimits
  private readonly handler: SplitHandler
  private buf: Buffer = EMPTY
  private len = 0
  /** buf is our own growable buffer (else it is a caller's chunk). */
  private owned = false
  /** Views of buf were handed out: never write into it again. */
  private lent = false
  /** Stream offset of buf[0]. */
  private base = 0
  private pos = 0
  private state: S = S.Outside
  /** Start of the current element or construct in buf, or -1. */
  private elStart = -1
  /** In Discard state: an unresolved '<' near the end of the buffer that must be kept. */
  private mark = -1
  private limit = 0
  private tag = ''
  private tagIndex = -1
  private tagLen = 0
  private discardTag: Uint8Array = EMPTY
  private phase: P = P.TagName
  private needSpace = false
  private quote = 0
  private spans: number[] = []
  private attrCount = 0
  private specialEnd = ''
  /** After an error, further top-level garbage is not reported again until something valid arrives. */
  private quiet = false
  /** While catching up a pending element: stop scanning as soon as it is done. */
  private stopEarly = false
  /** run(): hand back to the fast path once one construct is done. */
  private oneShot = false

  /** Where BLOB elements that span chunks are assembled (IndiFramer's `blobBuffers`). */
  private readonly blobBuffers: BlobBuffers | undefined
  /** `buf` came from `blobBuffers` and no frame has been handed out of it yet. */
  private blobOwned = false

  constructor(limits: ResolvedLimits, handler: SplitHandler, blobBuffers?: BlobBuffers) {
    this.limits = limits
    this.handler = handler
    this.blobBuffers = blobBuffers
  }

  push(chunk: Uint8Array): void {
    const c = asBuffer(chunk)
    let off = 0
    // Something pending: feed the chunk to it piece by piece, growing geometrically, until the
    // pending element completes; the rest of the chunk is then scanned in place.
    while (this.len > 0 && off < c.length) {
      const oldLen = this.len
      const take = Math.min(c.length - off, Math.max(4096, this.len))
      this.append(c.subarray(off, off + take))
      this.stopEarly = true
      this.scan()
      this.stopEarly = false
      if (this.state === S.Outside && this.pos >= oldLen) {
        // The pending element is done and nothing else is pending: drop our buffer and go on
        // scanning the rest of the chunk in place. (Appending the whole chunk instead cost a
        // copy of every chunk and ~16% of the time in GC.)
        off += this.pos - oldLen
        this.base += this.pos
        this.pos = 0
        this.dropBlobBuffer()
        this.buf = EMPTY
        this.len = 0
        this.owned = false
        break
      }
      if (this.state === S.Outside) this.scan()
      this.retain()
      off += take
    }
    if (off < c.length) {
      // Scan the chunk in place from `off` (base becomes the stream offset of c[0]).
      this.base -= off
      this.buf = c
      this.len = c.length
      this.pos = off
      this.owned = false
      this.lent = false
      if (testing.fastPath) this.run()
      else this.scan()
      this.retain()
    }
  }

  /**
   * Alternate the fast path (whole elements inside this chunk) with the resumable machine, which
   * takes over for one construct whenever the fast path declines: an element split across chunks,
   * a comment, bad input, an unknown tag, a limit.
   */
  private run(): void {
    for (;;) {
      // Only between elements: a chunk can start while an oversize element is still being
      // discarded, and the fast path would take its bytes for elements (and reset `quiet`).
      if (this.state === S.Outside) this.fast()
      if (this.pos >= this.len) return
      this.oneShot = true
      this.scan()
      this.oneShot = false
      if (this.state !== S.Outside || this.pos >= this.len) return
    }
  }

  /**
   * The fast path: frames complete, valid elements lying wholly in the current chunk (not owned,
   * state Outside), without the per-byte state machine. It stops, leaving \`pos\` at the start of
   * the construct, at anything it does not handle; the resumable machine then redoes that
   * construct, so both paths give the same events (test/fastpath.test.ts checks this).
   *
   * Measured on bench/parse.mjs (CPU time, Node 20, 2 cores): with lazy frames, framing went from
   * ~780k to ~1.6M frames/s; in the profile, fast() is now ~45% of framing time.
   */
  private fast(): void {
    const b = this.buf
    const len = this.len
    const maxAttrs = this.limits.maxAttributes
    const direct = this.handler.direct !== undefined
    let pos = this.pos
    outer: while (pos < len) {
      let c: number | undefined = b[pos]!
      if (c !== 60 /* < */) {
        // Whitespace between elements; text is an error the resumable machine reports.
        if (c === 10 || c === 32 || c === 13 || c === 9) {
          pos++
          continue
        }
        break
      }
      const el = pos
      // No read past len anywhere in this loop: a single out-of-bounds read deoptimises fast()
      // and the load is recompiled in a slower form (4 such deopts per bench run before).
      if (el + 1 >= len) break
      c = b[el + 1]
      if (c === 63 /* ? */) {
        // <?xml version='1.0'?> before each libindi message (protocol reference §0.3).
        const gt = b.indexOf(62, el + 2)
        if (gt === -1 || gt < el + 3 || b[gt - 1] !== 63) break
        pos = gt + 1
        this.quiet = false
        continue
      }
      const tagIndex = knownTag(b, el + 1, len)
      if (tagIndex < 0) break
      if (direct && tagIndex !== SET_BLOB && tagIndex !== NEW_BLOB) {
        const e = this.handler.direct!(b, el, len, tagIndex, this.limits.maxElementBytes)
        if (e > el) {
          this.quiet = false
          pos = e
          continue
        }
      }
      const tagLen = TAG_LEN[tagIndex]!
      let p = el + 1 + tagLen
      let ds = -1
      let de = -1
      let ns = -1
      let ne = -1
      let attrs = 0
      let end = -1
      // Start tag: ( S name = quoted )* S? ( > | /> ); '=' without spaces around it (what every
      // INDI writer emits), otherwise the resumable machine handles it.
      for (;;) {
        if (p + 1 >= len) break outer
        c = b[p]
        if (c === 62) {
          p++
          break
        }
        if (c === 47) {
          if (b[p + 1] !== 62) break outer
          end = p + 2
          break
        }
        if (c !== 32 && c !== 10 && c !== 9 && c !== 13) break outer
        p++
        while (p < len && SPACE[b[p]!] === 1) p++
        // Room for the fixed-offset checks below (device= reads b[p + 6], then the quote).
        if (p + 8 >= len) break outer
        c = b[p]!
        if (c === 62 || c === 47) continue
        // device= and name= (nearly always the first two) are recognised by comparing their
        // bytes, without scanning the name first; other names are scanned with the byte table.
        let which = 0
        if (c === 100 && b[p + 6] === 61 && ds < 0 && isDevice(b, p)) {
          which = 1
          p += 6
        } else if (c === 110 && b[p + 4] === 61 && ns < 0 && isName(b, p)) {
          which = 2
          p += 4
        } else {
          if (NAME_START[c] !== 1) break outer
          p++
          // Table lookups with explicit bounds: the do/while over isNameByte() with an
          // undefined-or-number byte was the hottest line of the fast path (~20% of it).
          while (p < len && NAME[b[p]!] === 1) p++
          if (p + 1 >= len || b[p] !== 61 /* = */) break outer
        }
        const q = b[p + 1]
        if (q !== 34 && q !== 39) break outer
        const vs = p + 2
        let ve = vs
        // Values are short (device and property names, states, timestamps): a JS loop beats a
        // native indexOf call here (indexOf measured ~8% slower overall). Unrolled by four, one
        // bound check per four bytes: framing ~1.78M → ~1.9M frames/s.
        const last = len - 4
        while (ve <= last) {
          if (b[ve] === q) break
          if (b[ve + 1] === q) {
            ve += 1
            break
          }
          if (b[ve + 2] === q) {
            ve += 2
            break
          }
          if (b[ve + 3] === q) {
            ve += 3
            break
          }
          ve += 4
        }
        if (ve > last) while (ve < len && b[ve] !== q) ve++
        if (ve >= len || ++attrs > maxAttrs) break outer
        if (which === 1) {
          ds = vs
          de = ve
        } else if (which === 2) {
          ns = vs
          ne = ve
        }
        p = ve + 1
      }
      if (end < 0) {
        // Body: hop from '<' to '<' (Buffer#indexOf, ~16 ns a call, vs ~1.2 ns a byte in JS)
        // until our own end tag; members ("<o…") and end tags of members are skipped unread.
        for (;;) {
          const lt = b.indexOf(60, p)
          if (lt === -1 || lt + 1 >= len) break outer
          c = b[lt + 1]
          if (c === 47) {
            const e = lt + 2 + tagLen
            if (e >= len) break outer
            let k = 0
            while (k < tagLen && b[lt + 2 + k] === b[el + 1 + k]) k++
            if (k === tagLen) {
              const d = b[e]!
              if (d === 62) {
                end = e + 1
                break
              }
              if (d === 32 || d === 10 || d === 9 || d === 13) break outer
            }
            p = lt + 2
          } else if (c === 111 /* o: oneX members, never top-level */) {
            p = lt + 2
          } else if (c === undefined || c === 33 /* ! */) {
            break outer
          } else if (isNameStartByte(c)) {
            // Is it a top-level tag (the current element was truncated)? Let the machine report it.
            let e = lt + 2
            const max = Math.min(len, lt + 2 + MAX_TAG_LEN)
            while (e < max && isNameByte(b[e]!)) e++
            if (e === len || matchTopTag(b, lt + 1, e) >= 0) break outer
            p = e
          } else {
            p = lt + 1
          }
        }
      }
      const limit =
        tagIndex === SET_BLOB || tagIndex === NEW_BLOB
          ? this.limits.maxBlobElementBytes
          : this.limits.maxElementBytes
      if (end - el > limit) break
      this.quiet = false
      this.handler.element(b, el, end, INDI_TAGS[tagIndex]!, tagIndex, this.base + el, ds, de, ns, ne)
      pos = end
    }
    this.pos = pos
  }

  /** End of stream: an unfinished element or construct is reported. */
  end(): void {
    if (this.state !== S.Outside && this.state !== S.Discard && this.elStart >= 0) {
      const what = this.state === S.Special || this.state === S.Lt ? 'markup' : `<${this.tag}>`
      this.fail('ERR_INDI_XML_MALFORMED', `stream ended inside ${what} (truncated element)`, this.elStart)
    }
    this.base += this.len
    this.dropBlobBuffer()
    this.buf = EMPTY
    this.len = 0
    this.owned = false
    this.pos = 0
    this.state = S.Outside
    this.elStart = -1
    this.mark = -1
  }

  /** `buf` is about to be replaced: a pool buffer no frame came out of goes back at once. */
  private dropBlobBuffer(): void {
    if (!this.blobOwned) return
    this.blobOwned = false
    this.blobBuffers!.give(this.buf)
  }

  private append(c: Buffer): void {
    const need = this.len + c.length
    if (this.owned && !this.lent && this.buf.length >= need) {
      c.copy(this.buf, this.len)
    } else {
      let cap = Math.max(need, this.owned ? this.buf.length * 2 : need * 2, MIN_CAPACITY)
      let hint = -1
      if (this.state === S.Body && (this.tagIndex === SET_BLOB || this.tagIndex === NEW_BLOB)) {
        // A BLOB announces its size: grow once to it rather than doubling (for 8 MiB, doubling
        // allocated and copied ~32 MB for an 11 MB element). A peer can make us reserve ahead of
        // its bytes only up to the element limit, and at most 64× what it has sent.
        hint = Math.min(this.blobHint(), this.limit + 1)
        if (hint > cap) cap = Math.min(hint, need * 64)
      }
      const pool = hint >= 0 ? this.blobBuffers : undefined
      // A pool may hand out a free buffer up to the announced size at once: that reserves nothing.
      const nb = pool !== undefined ? pool.take(cap, Math.max(hint, cap)) : Buffer.allocUnsafe(cap)
      this.buf.copy(nb, 0, 0, this.len)
      c.copy(nb, this.len)
      // Outgrown before any frame came out of it: the pool may have it back at once.
      this.dropBlobBuffer()
      this.blobOwned = pool !== undefined
      this.buf = nb
      this.owned = true
      this.lent = false
    }
    this.len = need
  }

  /**
   * Expected bytes of the BLOB element being buffered, from the first member's `enclen` (base64
   * length) or `size` (decoded length) attribute: bytes up to that attribute, plus the base64
   * text with a line break every 72 columns or fewer, plus a margin. 0 when neither is there yet.
   */
  private blobHint(): number {
    const b = this.buf
    const from = this.elStart
    const to = Math.min(this.len, from + 4096)
    let at = b.indexOf(ENCLEN, from)
    let base64 = true
    if (at < 0 || at >= to) {
      at = b.indexOf(SIZE, from)
      base64 = false
      if (at < 0 || at >= to) return 0
    }
    let p = at + (base64 ? ENCLEN.length : SIZE.length)
    const q = b[p]
    if (q !== 34 && q !== 39) return 0
    let n = 0
    for (p++; p < to && b[p]! >= 48 && b[p]! <= 57 && n < 2 ** 40; p++) n = n * 10 + b[p]! - 48
    if (b[p] !== q) return 0
    if (!base64) n = Math.ceil(n / 3) * 4
    return at - from + Math.ceil(n * (1 + 2 / 72)) + 4096
  }

  /** Keep only what an unfinished element or lookahead needs, in an owned buffer starting at 0. */
  private retain(): void {
    const keep = this.state === S.Discard ? this.mark : this.state === S.Outside ? -1 : this.elStart
    if (keep < 0 || keep >= this.len) {
      this.base += this.len
      this.pos -= this.len
      this.dropBlobBuffer()
      this.buf = EMPTY
      this.len = 0
      this.owned = false
      this.mark = -1
      return
    }
    if (this.owned && keep === 0) return
    const n = this.len - keep
    if (this.owned && !this.lent) {
      this.buf.copyWithin(0, keep, this.len)
    } else {
      const nb = Buffer.allocUnsafe(Math.max(n * 2, MIN_CAPACITY))
      this.buf.copy(nb, 0, keep, this.len)
      this.buf = nb
      this.owned = true
      this.lent = false
    }
    this.base += keep
    this.len = n
    this.pos -= keep
    if (this.elStart >= 0) this.elStart -= keep
    if (this.mark >= 0) this.mark -= keep
  }

  private fail(code: 'ERR_INDI_XML_MALFORMED' | 'ERR_INDI_XML_TOO_LARGE', message: string, at: number): void {
    this.quiet = true
    const offset = this.base + at
    this.handler.error(
      new XmlParseError(code, `${message} at byte ${offset}`, offset, excerptOf(this.buf, at, this.len)),
    )
  }

  /** A malformed top-level start tag or stray markup: resynchronise at the next '<'. */
  private bad(message: string, at: number): number {
    if (!this.quiet) this.fail('ERR_INDI_XML_MALFORMED', message, at)
    const from = this.elStart >= 0 ? this.elStart + 1 : at + 1
    this.state = S.Outside
    this.elStart = -1
    return from
  }

  private scan(): void {
    const b = this.owned ? this.buf.subarray(0, this.len) : this.buf
    const len = this.len
    let pos = this.pos
    const from = pos
    loop: while (pos < len) {
      if (this.state === S.Outside && (this.stopEarly || (this.oneShot && pos !== from))) break
      switch (this.state) {
        case S.Outside: {
          const lt = b.indexOf(60, pos)
          const stop = lt === -1 ? len : lt
          if (!this.quiet) {
            for (let i = pos; i < stop; i++) {
              if (!isSpaceByte(b[i]!)) {
                this.fail('ERR_INDI_XML_MALFORMED', 'text outside an element', i)
                break
              }
            }
          }
          if (lt === -1) {
            pos = len
            break loop
          }
          pos = lt
          this.elStart = lt
          this.state = S.Lt
          break
        }
        case S.Lt: {
          if (pos + 1 >= len) break loop
          const c = b[pos + 1]!
          if (isNameStartByte(c)) {
            this.state = S.Tag
            this.phase = P.TagName
            this.limit = this.limits.maxElementBytes
            this.spans.length = 0
            this.attrCount = 0
            pos += 2
          } else if (c === 63 /* ? */) {
            this.state = S.Special
            this.specialEnd = '?>'
            pos += 2
          } else if (c === 33 /* ! */) {
            if (pos + 3 >= len) break loop
            const comment = b[pos + 2] === 45 && b[pos + 3] === 45
            this.state = S.Special
            this.specialEnd = comment ? '-->' : '>'
            pos += comment ? 4 : 2
          } else if (c === 47 /* / */) {
            pos = this.bad('end tag with no element open', pos)
          } else {
            pos = this.bad("'<' not followed by an element name", pos)
          }
          break
        }
        case S.Special: {
          const at = b.indexOf(this.specialEnd, pos)
          if (at === -1) {
            // Resume where a split terminator could start.
            pos = Math.max(pos, len - this.specialEnd.length + 1)
            if (len - this.elStart > this.limits.maxElementBytes) {
              this.fail(
                'ERR_INDI_XML_TOO_LARGE',
                `markup longer than ${this.limits.maxElementBytes} bytes`,
                this.elStart,
              )
              this.state = S.Outside
              pos = this.elStart + 1
              this.elStart = -1
              break
            }
            break loop
          }
          pos = at + this.specialEnd.length
          this.state = S.Outside
          this.elStart = -1
          this.quiet = false
          break
        }
        case S.Tag: {
          const r = this.scanTag(b, pos, len)
          if (r < 0) {
            pos = -r - 1
            break loop
          }
          pos = r
          break
        }
        case S.Body: {
          const r = this.scanBody(b, pos, len)
          if (r < 0) {
            pos = -r - 1
            break loop
          }
          pos = r
          break
        }
        case S.Discard: {
          const r = this.scanDiscard(b, pos, len)
          if (r < 0) {
            pos = -r - 1
            break loop
          }
          pos = r
          break
        }
      }
    }
    this.pos = pos
    // An unfinished element over its limit: report it and stop keeping its bytes.
    if ((this.state === S.Tag || this.state === S.Body) && len - this.elStart > this.limit) {
      this.fail('ERR_INDI_XML_TOO_LARGE', `<${this.tag}> longer than ${this.limit} bytes`, this.elStart)
      this.discardTag = Buffer.from(this.tag)
      this.state = S.Discard
      this.elStart = -1
      this.mark = -1
      // What is left may already hold the end or the next element.
      if (this.pos < len) this.scan()
    }
  }

  /** Returns the next position, or -(pos+1) to wait for more bytes at pos. */
  private scanTag(b: Buffer, pos: number, len: number): number {
    const el = this.elStart
    while (pos < len) {
      const c = b[pos]!
      switch (this.phase) {
        case P.TagName: {
          if (isNameByte(c)) {
            pos++
            continue
          }
          this.tagLen = pos - el - 1
          this.tagIndex = matchTopTag(b, el + 1, pos)
          this.tag = this.tagIndex >= 0 ? INDI_TAGS[this.tagIndex]! : b.toString('utf8', el + 1, pos)
          this.limit =
            this.tagIndex === SET_BLOB || this.tagIndex === NEW_BLOB
              ? this.limits.maxBlobElementBytes
              : this.limits.maxElementBytes
          this.phase = P.Before
          this.needSpace = true
          continue
        }
        case P.Before: {
          if (isSpaceByte(c)) {
            this.needSpace = false
            pos++
          } else if (c === 62 /* > */) {
            this.state = S.Body
            return pos + 1
          } else if (c === 47 /* / */) {
            this.phase = P.Slash
            pos++
          } else if (isNameStartByte(c) && !this.needSpace) {
            if (++this.attrCount > this.limits.maxAttributes) {
              this.fail(
                'ERR_INDI_XML_TOO_LARGE',
                `<${this.tag}> has more than ${this.limits.maxAttributes} attributes`,
                pos,
              )
              this.state = S.Discard
              this.discardTag = Buffer.from(this.tag)
              this.elStart = -1
              this.mark = -1
              return pos
            }
            this.spans.push(pos - el)
            this.phase = P.AttrName
            pos++
          } else {
            return this.bad(
              this.needSpace && isNameStartByte(c)
                ? `missing whitespace before an attribute in <${this.tag}>`
                : `unexpected ${describe(c)} in <${this.tag}>`,
              pos,
            )
          }
          continue
        }
        case P.AttrName: {
          if (isNameByte(c)) {
            pos++
            continue
          }
          this.spans.push(pos - el)
          this.phase = P.AfterName
          continue
        }
        case P.AfterName: {
          if (isSpaceByte(c)) pos++
          else if (c === 61 /* = */) {
            this.phase = P.AfterEq
            pos++
          } else return this.bad(`attribute without '=' in <${this.tag}>`, pos)
          continue
        }
        case P.AfterEq: {
          if (isSpaceByte(c)) pos++
          else if (c === 34 || c === 39) {
            this.quote = c
            this.spans.push(pos + 1 - el)
            this.phase = P.Value
            pos++
          } else return this.bad(`attribute value not quoted in <${this.tag}>`, pos)
          continue
        }
        case P.Value: {
          const q = b.indexOf(this.quote, pos)
          if (q === -1) return -(len + 1)
          this.spans.push(q - el)
          this.phase = P.Before
          this.needSpace = true
          pos = q + 1
          continue
        }
        case P.Slash: {
          if (c !== 62) return this.bad(`'/' not followed by '>' in <${this.tag}>`, pos)
          return this.emit(b, pos + 1)
        }
      }
    }
    return -(pos + 1)
  }

  private scanBody(b: Buffer, pos: number, len: number): number {
    const el = this.elStart
    const tagLen = this.tagLen
    for (;;) {
      const lt = b.indexOf(60, pos)
      if (lt === -1) return -(len + 1)
      if (lt + 1 >= len) return -(lt + 1)
      const c = b[lt + 1]!
      if (c === 47 /* / */) {
        // Our own end tag? Compare with the start tag's name, still in the buffer at el+1.
        const e = lt + 2 + tagLen
        if (e >= len) {
          // Not enough bytes to decide: wait only if what we have could still be our end tag.
          if (sameBytes(b, lt + 2, el + 1, Math.min(len - lt - 2, tagLen))) return -(lt + 1)
          pos = lt + 2
          continue
        }
        const d = b[e]!
        if ((d === 62 || isSpaceByte(d)) && sameBytes(b, lt + 2, el + 1, tagLen)) {
          const gt = d === 62 ? e : b.indexOf(62, e)
          if (gt === -1) return -(lt + 1)
          for (let i = e; i < gt; i++) {
            if (!isSpaceByte(b[i]!)) {
              this.fail('ERR_INDI_XML_MALFORMED', `malformed end tag </${this.tag}>`, lt)
              this.state = S.Outside
              this.elStart = -1
              return gt + 1
            }
          }
          return this.emit(b, gt + 1)
        }
        pos = lt + 2
      } else if (c === 33 /* ! */) {
        // A comment or CDATA section may contain '<' and even our end tag: skip it whole.
        if (lt + 9 > len) return -(lt + 1)
        let term = ''
        if (b[lt + 2] === 45 && b[lt + 3] === 45) term = '-->'
        else if (b.toString('latin1', lt + 2, lt + 9) === '[CDATA[') term = ']]>'
        if (term === '') {
          pos = lt + 2
          continue
        }
        const at = b.indexOf(term, lt + 4)
        if (at === -1) return -(lt + 1)
        pos = at + 3
      } else if (isNameStartByte(c) && c !== 111 /* 'o': oneX members, never top-level */) {
        // A known top-level tag cannot nest in INDI: the current element was truncated.
        let e = lt + 1
        const max = Math.min(len, lt + 2 + MAX_TAG_LEN)
        while (e < max && isNameByte(b[e]!)) e++
        if (e === len) return -(lt + 1)
        const known = matchTopTag(b, lt + 1, e)
        if (known >= 0) {
          this.fail('ERR_INDI_XML_MALFORMED', `<${this.tag}> not closed before <${INDI_TAGS[known]}>`, el)
          this.state = S.Outside
          this.elStart = -1
          return lt
        }
        pos = e
      } else {
        pos = lt + 1
      }
    }
  }

  /** After TOO_LARGE: drop bytes until the element's end tag or the next known top-level element. */
  private scanDiscard(b: Buffer, pos: number, len: number): number {
    const tag = this.discardTag
    this.mark = -1
    for (;;) {
      const lt = b.indexOf(60, pos)
      if (lt === -1) return -(len + 1)
      // Not enough bytes after this '<' to decide: keep them (a few bytes) and wait.
      const wait = (): number => {
        this.mark = lt
        return -(lt + 1)
      }
      if (lt + 1 >= len) return wait()
      const c = b[lt + 1]!
      if (c === 47) {
        let i = 0
        while (i < tag.length && lt + 2 + i < len && b[lt + 2 + i] === tag[i]) i++
        if (lt + 2 + i === len) return wait()
        const d = b[lt + 2 + i]!
        if (i === tag.length && (d === 62 || isSpaceByte(d))) {
          const gt = b.indexOf(62, lt + 2 + i)
          if (gt === -1) return wait()
          this.state = S.Outside
          return gt + 1
        }
        pos = lt + 2
      } else if (isNameStartByte(c)) {
        let e = lt + 1
        const max = Math.min(len, lt + 2 + MAX_TAG_LEN)
        while (e < max && isNameByte(b[e]!)) e++
        if (e === len) return wait()
        if (matchTopTag(b, lt + 1, e) >= 0) {
          this.state = S.Outside
          return lt
        }
        pos = e
      } else {
        pos = lt + 1
      }
    }
  }

  private emit(b: Buffer, end: number): number {
    const start = this.elStart
    this.state = S.Outside
    this.elStart = -1
    if (end - start > this.limit) {
      this.fail('ERR_INDI_XML_TOO_LARGE', `<${this.tag}> longer than ${this.limit} bytes`, start)
      return end
    }
    this.quiet = false
    let ds = -1
    let de = -1
    let ns = -1
    let ne = -1
    const sp = this.spans
    for (let i = 0; i < sp.length; i += 4) {
      const an = start + sp[i]!
      const n = sp[i + 1]! - sp[i]!
      if (n === 6 && ds < 0 && isDevice(b, an)) {
        ds = start + sp[i + 2]!
        de = start + sp[i + 3]!
      } else if (n === 4 && ns < 0 && isName(b, an)) {
        ns = start + sp[i + 2]!
        ne = start + sp[i + 3]!
      }
    }
    const kept = this.handler.element(
      b,
      start,
      end,
      this.tag,
      this.tagIndex,
      this.base + start,
      ds,
      de,
      ns,
      ne,
    )
    if (kept && this.owned) {
      this.lent = true
      this.blobOwned = false
    }
    return end
  }
}

/** b[at, at+6) is "device". */
function isDevice(b: Uint8Array, at: number): boolean {
  return (
    b[at] === 100 &&
    b[at + 1] === 101 &&
    b[at + 2] === 118 &&
    b[at + 3] === 105 &&
    b[at + 4] === 99 &&
    b[at + 5] === 101
  )
}

/** b[at, at+4) is "name". */
function isName(b: Uint8Array, at: number): boolean {
  return b[at] === 110 && b[at + 1] === 97 && b[at + 2] === 109 && b[at + 3] === 101
}

function sameBytes(b: Uint8Array, a: number, c: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (b[a + i] !== b[c + i]) return false
  return true
}

function describe(c: number): string {
  return c >= 0x21 && c < 0x7f ? `'${String.fromCharCode(c)}'` : `byte 0x${c.toString(16).padStart(2, '0')}`
}
