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
 *   ~800-900k elements/s. The goal (10x saxes, ~2M/s) is not reached yet: the profile is led by
 *   the per-byte start-tag state machine (scanTag, ~20%) and GC of frame objects.
 */
import { Buffer } from 'node:buffer'
import { asBuffer, excerptOf, isNameByte, isNameStartByte, isSpaceByte } from './bytes.js'
import { IndiError, XmlParseError } from './errors.js'
import { INDI_TAGS } from './model.js'
import type { ParserLimits } from './parser.js'

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
const TAG_BYTES: { index: number; bytes: Uint8Array }[][] = []
let MAX_TAG_LEN = 0
INDI_TAGS.forEach((tag, index) => {
  const bytes = new TextEncoder().encode(tag)
  const bucket = TAG_BYTES[bytes.length] ?? []
  TAG_BYTES[bytes.length] = bucket
  bucket.push({ index, bytes })
  MAX_TAG_LEN = Math.max(MAX_TAG_LEN, bytes.length)
})
const SET_BLOB = INDI_TAGS.indexOf('setBLOBVector')
const NEW_BLOB = INDI_TAGS.indexOf('newBLOBVector')

/** Index in INDI_TAGS of the name in b[start, end), or -1. */
export function matchTopTag(b: Uint8Array, start: number, end: number): number {
  const bucket = TAG_BYTES[end - start]
  if (bucket === undefined) return -1
  outer: for (const { index, bytes } of bucket) {
    for (let i = 0; i < bytes.length; i++) if (b[start + i] !== bytes[i]) continue outer
    return index
  }
  return -1
}

/** Receives what the splitter finds, in stream order. */
export interface SplitHandler {
  /**
   * One complete top-level element, `b[start, end)`. `spans` holds 4 numbers per top-level
   * attribute (name start, name end, value start, value end), relative to `start`.
   * Return true if a view of `b` is kept (the splitter then never writes into `b` again).
   */
  element(
    b: Buffer,
    start: number,
    end: number,
    tag: string,
    tagIndex: number,
    spans: readonly number[],
    attrCount: number,
    offset: number,
  ): boolean
  error(error: XmlParseError): void
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

  constructor(limits: ResolvedLimits, handler: SplitHandler) {
    this.limits = limits
    this.handler = handler
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
      this.buf = off === 0 ? c : c.subarray(off)
      this.len = this.buf.length
      this.owned = false
      this.lent = false
      this.scan()
      this.retain()
    }
  }

  /** End of stream: an unfinished element or construct is reported. */
  end(): void {
    if (this.state !== S.Outside && this.state !== S.Discard && this.elStart >= 0) {
      const what = this.state === S.Special || this.state === S.Lt ? 'markup' : `<${this.tag}>`
      this.fail('ERR_INDI_XML_MALFORMED', `stream ended inside ${what} (truncated element)`, this.elStart)
    }
    this.base += this.len
    this.buf = EMPTY
    this.len = 0
    this.owned = false
    this.pos = 0
    this.state = S.Outside
    this.elStart = -1
    this.mark = -1
  }

  private append(c: Buffer): void {
    const need = this.len + c.length
    if (this.owned && !this.lent && this.buf.length >= need) {
      c.copy(this.buf, this.len)
    } else {
      const cap = Math.max(need, this.owned ? this.buf.length * 2 : need * 2, MIN_CAPACITY)
      const nb = Buffer.allocUnsafe(cap)
      this.buf.copy(nb, 0, 0, this.len)
      c.copy(nb, this.len)
      this.buf = nb
      this.owned = true
      this.lent = false
    }
    this.len = need
  }

  /** Keep only what an unfinished element or lookahead needs, in an owned buffer starting at 0. */
  private retain(): void {
    const keep = this.state === S.Discard ? this.mark : this.state === S.Outside ? -1 : this.elStart
    if (keep < 0 || keep >= this.len) {
      this.base += this.len
      this.pos -= this.len
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
    loop: while (pos < len) {
      if (this.stopEarly && this.state === S.Outside) break
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
    const kept = this.handler.element(
      b,
      start,
      end,
      this.tag,
      this.tagIndex,
      this.spans,
      this.attrCount,
      this.base + start,
    )
    if (kept && this.owned) this.lent = true
    return end
  }
}

function sameBytes(b: Uint8Array, a: number, c: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (b[a + i] !== b[c + i]) return false
  return true
}

function describe(c: number): string {
  return c >= 0x21 && c < 0x7f ? `'${String.fromCharCode(c)}'` : `byte 0x${c.toString(16).padStart(2, '0')}`
}
