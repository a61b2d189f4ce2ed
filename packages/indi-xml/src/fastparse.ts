/**
 * The parser's fast path for what the byte reader (bytevectors.ts) does not take: one complete
 * INDI element, already decoded to a string, read straight into its typed message, with no
 * intermediate tree. `readPrefix` reads it from a window of the chunk decoded by the parser
 * (no framing first); `read` from the exact element the splitter framed. It handles what INDI writers emit (known
 * attributes, members of the right kind, plain text) and returns undefined for anything else
 * (entities, comments, unknown attributes, odd characters, invalid values, limits), in which case
 * the caller runs the general tree parser, which gives the same message or the exact error.
 * test/fastpath.test.ts checks both paths agree on random and mutated input.
 *
 * Speed (bench/parse.mjs, 200k setNumberVector × 3 members): the generic tree + convert took
 * ~60% of full-parse time; reading the message directly took full parsing from ~250k to ~410k
 * messages per CPU second (×1.26 → ×1.94 saxes). Reading from a window instead of a framed
 * element (readPrefix) took it to ~520k; the byte reader then to ~900k+ for vectors. Here every
 * character costs a charCodeAt (~4 ns each in these loops on Node 20).
 */
import { Buffer, isAscii } from 'node:buffer'
import { isSpaceByte, latin1, utf8 } from './bytes.js'
import { crackSwitchState, isBlobPolicy, isPropertyPerm, isPropertyState, isSwitchRule } from './guards.js'
import type {
  DefBlob,
  DefLight,
  DefNumber,
  DefSwitch,
  DefText,
  IndiMessage,
  OneBlob,
  OneLight,
  OneNumber,
  OneSwitch,
  OneText,
  PropertyState,
} from './model.js'
import { INDI_TAGS } from './model.js'

// Attribute ids: a bit each in Reader.mask.
const DEVICE = 0
const NAME = 1
const STATE = 2
const TIMEOUT = 3
const TIMESTAMP = 4
const MESSAGE = 5
const LABEL = 6
const GROUP = 7
const PERM = 8
const RULE = 9
const FORMAT = 10
const MIN = 11
const MAX = 12
const STEP = 13
const VERSION = 14
const UID = 15
const SIZE = 16
const ENCLEN = 17
const LEN = 18
const ATTR_COUNT = 19

/** s[p, p+w.length) equals w. A charCode loop: String#startsWith was ~25% of this reader's time. */
function same(s: string, p: number, w: string): boolean {
  for (let i = 0; i < w.length; i++) if (s.charCodeAt(p + i) !== w.charCodeAt(i)) return false
  return true
}

/** Id of the known attribute name s[p, p+n) (lowercase ASCII letters), or -1. */
function attrId(s: string, p: number, n: number): number {
  const c = s.charCodeAt(p)
  switch (n) {
    case 3:
      if (c === 109) return same(s, p, 'min') ? MIN : same(s, p, 'max') ? MAX : -1
      if (c === 108) return same(s, p, 'len') ? LEN : -1
      return same(s, p, 'uid') ? UID : -1
    case 4:
      if (c === 110) return same(s, p, 'name') ? NAME : -1
      if (c === 112) return same(s, p, 'perm') ? PERM : -1
      if (c === 114) return same(s, p, 'rule') ? RULE : -1
      if (c === 115) return same(s, p, 'step') ? STEP : same(s, p, 'size') ? SIZE : -1
      return -1
    case 5:
      if (c === 115) return same(s, p, 'state') ? STATE : -1
      if (c === 108) return same(s, p, 'label') ? LABEL : -1
      return same(s, p, 'group') ? GROUP : -1
    case 6:
      if (c === 100) return same(s, p, 'device') ? DEVICE : -1
      if (c === 101) return same(s, p, 'enclen') ? ENCLEN : -1
      return same(s, p, 'format') ? FORMAT : -1
    case 7:
      if (c === 116) return same(s, p, 'timeout') ? TIMEOUT : -1
      if (c === 109) return same(s, p, 'message') ? MESSAGE : -1
      return same(s, p, 'version') ? VERSION : -1
    case 9:
      return same(s, p, 'timestamp') ? TIMESTAMP : -1
    default:
      return -1
  }
}

// Characters the fast path takes as they are, in attribute values (OK_ATTR) and text (OK_TEXT).
// Everything else below 128 sends the element to the general parser: control characters (an
// error), '&' (entities), '<' (an error in a value, markup in text), '>' in text (']]>' check).
const OK_ATTR = new Uint8Array(128)
const OK_TEXT = new Uint8Array(128)
for (let c = 0x20; c < 0x7f; c++) {
  OK_ATTR[c] = c === 38 || c === 60 ? 0 : 1
  OK_TEXT[c] = c === 38 || c === 60 || c === 62 ? 0 : 1
}
OK_ATTR[0x7f] = 1
OK_TEXT[0x7f] = 1
for (const c of [9, 10, 13]) {
  OK_ATTR[c] = 1
  OK_TEXT[c] = 1
}

const EMPTY = new Uint8Array(0)

/**
 * A byte count attribute as convert.ts reads it: undefined → undefined (absent), a bad count →
 * null (give up), else the number.
 */
function count(v: string | undefined): number | undefined | null {
  if (v === undefined) return undefined
  const t = v.trim()
  return /^\d+$/.test(t) ? Number(t) : null
}

/** Cursor over one element string. One per parser; every method returns false/-1 to give up. */
export class FastReader {
  private s = ''
  private p = 0
  private n = 0
  private maxAttrs = 0
  /** Bit per attribute id present on the element last read by attrs(). */
  private mask = 0
  private readonly v: string[] = new Array<string>(ATTR_COUNT).fill('')
  /** Trimmed text of the member (or root) last read. */
  private text = ''

  /**
   * In prefix mode (readPrefix) the element may be followed by more text: its root end tag ends
   * it. Otherwise the root end tag must end the string.
   */
  private prefix = false

  /** The message for the element `s` (tag INDI_TAGS[tagIndex]), or undefined to use the general parser. */
  read(s: string, tagIndex: number, maxAttributes: number, maxDepth: number): IndiMessage | undefined {
    if (maxDepth < 2) return undefined
    this.s = s
    this.n = s.length
    this.maxAttrs = maxAttributes
    this.prefix = false
    const tag = INDI_TAGS[tagIndex]!
    this.p = 1 + tag.length
    const open = this.attrs()
    if (open < 0) return undefined
    const m = this.build(tag, open === 0)
    this.s = ''
    return m
  }

  /**
   * The message for the element at the start of `s` (tag INDI_TAGS[tagIndex], which the caller
   * has matched), which may be followed by anything; `end` is then the index after its root end
   * tag. Undefined to use the general parser, or when `s` ends before the element does.
   */
  readPrefix(s: string, tagIndex: number, maxAttributes: number, maxDepth: number): IndiMessage | undefined {
    if (maxDepth < 2) return undefined
    this.s = s
    this.n = s.length
    this.maxAttrs = maxAttributes
    this.prefix = true
    const tag = INDI_TAGS[tagIndex]!
    this.p = 1 + tag.length
    const open = this.attrs()
    let m: IndiMessage | undefined
    if (open >= 0) {
      m = this.build(tag, open === 0)
      // A childless element written as <tag .../> ends at its start tag.
      this.end = this.p
    }
    this.s = ''
    return m
  }

  /** After readPrefix: the index in its string just after the element. */
  end = 0

  /**
   * A setBLOBVector / newBLOBVector element b[start, end) read from its bytes, or undefined to use
   * the general parser. Only the start tags become strings; each payload is decoded from a latin1
   * copy of its byte range. The general parser decodes the whole element as UTF-8 first (~16 ms
   * for 8 MiB of payload here, vs ~4 ms for latin1 slice + base64 decode), which is exact for
   * ASCII; a payload with any other byte goes to the general parser.
   */
  readBlob(b: Buffer, start: number, end: number, tagIndex: number, maxAttributes: number, maxDepth: number) {
    if (maxDepth < 2) return undefined
    const tag = INDI_TAGS[tagIndex] as 'setBLOBVector' | 'newBLOBVector'
    this.maxAttrs = maxAttributes
    let p = this.startTag(b, start, end, tag)
    if (p < 0) return undefined
    const device = this.get(DEVICE)
    const name = this.get(NAME)
    if (device === undefined || name === undefined) return undefined
    const timestamp = this.get(TIMESTAMP)
    let state: PropertyState | undefined
    let message: string | undefined
    let timeout: string | undefined
    if (tag === 'setBLOBVector') {
      const st = this.get(STATE)
      if (st !== undefined && !isPropertyState(st)) return undefined
      state = st
      message = this.get(MESSAGE)
      timeout = this.get(TIMEOUT)
    }
    const members: OneBlob[] = []
    if (!this.selfClosed) {
      for (;;) {
        while (p < end && isSpaceByte(b[p]!)) p++
        if (b[p] !== 60) return undefined
        if (b[p + 1] === 47) {
          if (this.byteEndTag(b, p, end, tag) !== end) return undefined
          break
        }
        p = this.startTag(b, p, end, 'oneBLOB')
        if (p < 0) return undefined
        const mname = this.get(NAME)
        const format = this.get(FORMAT)
        const sizeText = this.get(SIZE)
        if (mname === undefined || format === undefined || sizeText === undefined) return undefined
        const size = count(sizeText)
        const enclen = count(this.get(ENCLEN))
        const len = count(this.get(LEN))
        if (size === undefined || size === null || enclen === null || len === null) return undefined
        let data: Uint8Array = EMPTY
        if (!this.selfClosed) {
          const lt = b.indexOf(60, p)
          if (lt === -1 || lt >= end) return undefined
          let ts = p
          let te = lt
          while (ts < te && isSpaceByte(b[ts]!)) ts++
          while (te > ts && isSpaceByte(b[te - 1]!)) te--
          // isAscii is SIMD (~0.4 ms for 11 MB); a non-ASCII byte would decode differently
          // from the general parser's UTF-8 string, so leave that case to it.
          if (ts < te) {
            if (!isAscii(b.subarray(ts, te))) return undefined
            data = Buffer.from(latin1(b, ts, te), 'base64')
          }
          p = this.byteEndTag(b, lt, end, 'oneBLOB')
          if (p < 0) return undefined
        }
        members.push({ name: mname, size, format, enclen, len, data })
      }
    }
    return tag === 'setBLOBVector'
      ? { tag, device, name, state, timestamp, message, timeout, members }
      : { tag, device, name, timestamp, members }
  }

  private selfClosed = false

  /**
   * The start tag `<name …>` at b[p]: its attributes read into mask/v (selfClosed set); returns
   * the index after it, or -1. Only the tag's bytes are decoded.
   */
  private startTag(b: Buffer, p: number, end: number, name: string): number {
    const n = name.length
    for (let i = 0; i < n; i++) if (b[p + 1 + i] !== name.charCodeAt(i)) return -1
    // The first '>' outside quotes ends the tag.
    let q = 0
    let gt = p + 1 + n
    for (; gt < end; gt++) {
      const c = b[gt]!
      if (q !== 0) {
        if (c === q) q = 0
      } else if (c === 34 || c === 39) q = c
      else if (c === 62) break
    }
    if (gt >= end) return -1
    this.s = utf8(b, p, gt + 1)
    this.n = this.s.length
    this.p = 1 + n
    const r = this.attrs()
    if (r < 0 || this.p !== this.n) return -1
    this.selfClosed = r === 1
    this.s = ''
    return gt + 1
  }

  /** At b[p] = '<': `</name` spaces* `>`; returns the index after it, or -1. */
  private byteEndTag(b: Buffer, p: number, end: number, name: string): number {
    if (b[p + 1] !== 47) return -1
    const n = name.length
    for (let i = 0; i < n; i++) if (b[p + 2 + i] !== name.charCodeAt(i)) return -1
    p += 2 + n
    while (p < end && isSpaceByte(b[p]!)) p++
    return b[p] === 62 ? p + 1 : -1
  }

  private get(id: number): string | undefined {
    return (this.mask >> id) & 1 ? this.v[id] : undefined
  }

  /**
   * Attributes from p up to and including '>' (returns 0) or '/>' (returns 1); -1 to give up.
   * Unknown or duplicate names, entities and odd characters give up.
   */
  private attrs(): number {
    const s = this.s
    const n = this.n
    let p = this.p
    let mask = 0
    let count = 0
    for (;;) {
      let c = s.charCodeAt(p)
      let spaced = false
      while (isSpaceByte(c)) {
        spaced = true
        c = s.charCodeAt(++p)
      }
      if (c === 62) {
        this.p = p + 1
        this.mask = mask
        return 0
      }
      if (c === 47) {
        if (s.charCodeAt(p + 1) !== 62) return -1
        this.p = p + 2
        this.mask = mask
        return 1
      }
      if (!spaced) return -1
      const an = p
      while (c >= 97 && c <= 122) c = s.charCodeAt(++p)
      const id = attrId(s, an, p - an)
      if (id < 0 || (mask >> id) & 1 || ++count > this.maxAttrs) return -1
      while (isSpaceByte(c)) c = s.charCodeAt(++p)
      if (c !== 61) return -1
      c = s.charCodeAt(++p)
      while (isSpaceByte(c)) c = s.charCodeAt(++p)
      if (c !== 34 && c !== 39) return -1
      const q = c
      const vs = ++p
      for (;;) {
        if (p >= n) return -1
        c = s.charCodeAt(p)
        if (c === q) break
        if (c < 128 ? OK_ATTR[c] === 0 : c >= 0xfffe) return -1
        p++
      }
      this.v[id] = s.slice(vs, p)
      mask |= 1 << id
      p++
    }
  }

  /** Text from p to the next '<', trimmed into this.text; false to give up. */
  private readText(): boolean {
    const s = this.s
    let p = this.p
    // Never read past the end (a window from readPrefix may end just after a '>'): an
    // out-of-bounds charCodeAt deoptimises this code into a slower form.
    if (p >= this.n) return false
    let c = s.charCodeAt(p)
    while (isSpaceByte(c)) c = s.charCodeAt(++p)
    const ts = p
    // Find the end with indexOf (a builtin search), then check the characters in one tight
    // loop: this halved readText's share of the profile against a single loop doing both.
    const lt = s.indexOf('<', p)
    if (lt === -1) return false
    for (; p < lt; p++) {
      c = s.charCodeAt(p)
      if (c < 128 ? OK_TEXT[c] === 0 : c >= 0xfffe) return false
    }
    let te = lt
    while (te > ts && isSpaceByte(s.charCodeAt(te - 1))) te--
    this.text = te === ts ? '' : s.slice(ts, te)
    this.p = lt
    return true
  }

  /** At '</': the end tag of `name`, optional spaces, '>'. */
  private endTag(name: string): boolean {
    const s = this.s
    let p = this.p
    if (s.charCodeAt(p + 1) !== 47 || !same(s, p + 2, name)) return false
    p += 2 + name.length
    let c = s.charCodeAt(p)
    while (isSpaceByte(c)) c = s.charCodeAt(++p)
    if (c !== 62) return false
    this.p = p + 1
    return true
  }

  /**
   * The next member `<member …>text</member>` (attributes in mask/v, text in this.text): 1.
   * The root's end tag, ending the string: 0. Anything else: -1.
   */
  private member(member: string, root: string): number {
    const s = this.s
    let p = this.p
    if (p >= this.n) return -1 // as in readText
    let c = s.charCodeAt(p)
    while (isSpaceByte(c)) c = s.charCodeAt(++p)
    if (c !== 60) return -1
    this.p = p
    if (s.charCodeAt(p + 1) === 47) return this.endTag(root) && (this.prefix || this.p === this.n) ? 0 : -1
    if (!same(s, p + 1, member)) return -1
    this.p = p + 1 + member.length
    const open = this.attrs()
    if (open < 0) return -1
    if (open === 1) {
      this.text = ''
      return 1
    }
    return this.readText() && this.endTag(member) ? 1 : -1
  }

  /** Root text then its end tag (enableBLOB, or a childless element written open/close). */
  private rootText(root: string): boolean {
    return this.readText() && this.endTag(root) && (this.prefix || this.p === this.n)
  }

  private build(tag: string, open: boolean): IndiMessage | undefined {
    switch (tag) {
      case 'setNumberVector':
      case 'newNumberVector':
        return this.numbers(tag, open)
      case 'getProperties':
        if (open && !this.rootText(tag)) return undefined
        return { tag, version: this.get(VERSION), device: this.get(DEVICE), name: this.get(NAME) }
      case 'enableBLOB': {
        const device = this.get(DEVICE)
        const name = this.get(NAME)
        if (device === undefined || !open || !this.rootText(tag)) return undefined
        const policy = this.text
        if (!isBlobPolicy(policy)) return undefined
        return { tag, device, name, policy }
      }
      case 'pingRequest':
      case 'pingReply': {
        const uid = this.get(UID)
        if (uid === undefined || (open && !this.rootText(tag))) return undefined
        return { tag, uid }
      }
      case 'message': {
        const m = {
          tag,
          device: this.get(DEVICE),
          timestamp: this.get(TIMESTAMP),
          message: this.get(MESSAGE),
        }
        return open && !this.rootText(tag) ? undefined : m
      }
      case 'delProperty': {
        const device = this.get(DEVICE)
        if (device === undefined) return undefined
        const m = {
          tag,
          device,
          name: this.get(NAME),
          timestamp: this.get(TIMESTAMP),
          message: this.get(MESSAGE),
        }
        return open && !this.rootText(tag) ? undefined : m
      }
      default:
        return this.vector(tag, open)
    }
  }

  /** setNumberVector / newNumberVector: the hottest messages on the wire (mount coordinates). */
  private numbers(tag: 'setNumberVector' | 'newNumberVector', open: boolean): IndiMessage | undefined {
    const device = this.get(DEVICE)
    const name = this.get(NAME)
    if (device === undefined || name === undefined) return undefined
    const timestamp = this.get(TIMESTAMP)
    let state: PropertyState | undefined
    let message: string | undefined
    let timeout: string | undefined
    if (tag === 'setNumberVector') {
      const st = this.get(STATE)
      if (st !== undefined && !isPropertyState(st)) return undefined
      state = st
      message = this.get(MESSAGE)
      timeout = this.get(TIMEOUT)
    }
    const members: OneNumber[] = []
    if (open) {
      for (;;) {
        const r = this.member('oneNumber', tag)
        if (r === 0) break
        if (r < 0) return undefined
        const mask = this.mask
        if ((mask & (1 << NAME)) === 0) return undefined
        const v = this.v
        members.push({
          name: v[NAME]!,
          value: this.text,
          min: mask & (1 << MIN) ? v[MIN] : undefined,
          max: mask & (1 << MAX) ? v[MAX] : undefined,
          step: mask & (1 << STEP) ? v[STEP] : undefined,
        })
      }
    }
    return tag === 'setNumberVector'
      ? { tag, device, name, state, timestamp, message, timeout, members }
      : { tag, device, name, timestamp, members }
  }

  /** Members of one kind, each made by `make` from the member's attributes and text (undefined: give up). */
  private members<T>(
    member: string,
    root: string,
    open: boolean,
    make: () => T | undefined,
  ): T[] | undefined {
    const out: T[] = []
    if (!open) return out
    for (;;) {
      const r = this.member(member, root)
      if (r === 0) return out
      if (r < 0) return undefined
      const m = make()
      if (m === undefined) return undefined
      out.push(m)
    }
  }

  private vector(tag: string, open: boolean): IndiMessage | undefined {
    const device = this.get(DEVICE)
    const name = this.get(NAME)
    if (device === undefined || name === undefined) return undefined
    const timestamp = this.get(TIMESTAMP)
    const kind = tag.charCodeAt(0)
    if (kind === 110 /* new */) {
      switch (tag) {
        case 'newTextVector': {
          const members = this.members('oneText', tag, open, this.oneText)
          return members && { tag, device, name, timestamp, members }
        }
        case 'newSwitchVector': {
          const members = this.members('oneSwitch', tag, open, this.oneSwitch)
          return members && { tag, device, name, timestamp, members }
        }
        default:
          return undefined
      }
    }
    const st = this.get(STATE)
    if (st !== undefined && !isPropertyState(st)) return undefined
    const message = this.get(MESSAGE)
    if (kind === 115 /* set */) {
      const state = st
      const timeout = this.get(TIMEOUT)
      switch (tag) {
        case 'setTextVector': {
          const members = this.members('oneText', tag, open, this.oneText)
          return members && { tag, device, name, state, timestamp, message, timeout, members }
        }
        case 'setSwitchVector': {
          const members = this.members('oneSwitch', tag, open, this.oneSwitch)
          return members && { tag, device, name, state, timestamp, message, timeout, members }
        }
        case 'setLightVector': {
          const members = this.members('oneLight', tag, open, this.oneLight)
          return members && { tag, device, name, state, timestamp, message, members }
        }
        default:
          return undefined
      }
    }
    // def*Vector: state is required; perm for all but lights.
    if (st === undefined) return undefined
    const state = st
    const label = this.get(LABEL)
    const group = this.get(GROUP)
    const pm = this.get(PERM)
    const timeout = this.get(TIMEOUT)
    if (tag === 'defLightVector') {
      const members = this.members('defLight', tag, open, this.defLight)
      return members && { tag, device, name, label, group, state, timestamp, message, members }
    }
    if (pm === undefined || !isPropertyPerm(pm)) return undefined
    const perm = pm
    switch (tag) {
      case 'defTextVector': {
        const members = this.members('defText', tag, open, this.defText)
        return (
          members && { tag, device, name, label, group, state, timestamp, message, perm, timeout, members }
        )
      }
      case 'defNumberVector': {
        const members = this.members('defNumber', tag, open, this.defNumber)
        return (
          members && { tag, device, name, label, group, state, timestamp, message, perm, timeout, members }
        )
      }
      case 'defSwitchVector': {
        const rule = this.get(RULE)
        if (rule === undefined || !isSwitchRule(rule)) return undefined
        const members = this.members('defSwitch', tag, open, this.defSwitch)
        return (
          members && {
            tag,
            device,
            name,
            label,
            group,
            state,
            timestamp,
            message,
            perm,
            rule,
            timeout,
            members,
          }
        )
      }
      case 'defBLOBVector': {
        const members = this.members('defBLOB', tag, open, this.defBlob)
        return (
          members && { tag, device, name, label, group, state, timestamp, message, perm, timeout, members }
        )
      }
      default:
        return undefined
    }
  }

  // Member makers, bound once so members() can call them without a closure per element.
  private readonly oneText = (): OneText | undefined => {
    const name = this.get(NAME)
    return name === undefined ? undefined : { name, value: this.text }
  }
  private readonly oneSwitch = (): OneSwitch | undefined => {
    const name = this.get(NAME)
    const value = crackSwitchState(this.text)
    return name === undefined || value === undefined ? undefined : { name, value }
  }
  private readonly oneLight = (): OneLight | undefined => {
    const name = this.get(NAME)
    const value = this.text
    return name === undefined || !isPropertyState(value) ? undefined : { name, value }
  }
  private readonly defText = (): DefText | undefined => {
    const name = this.get(NAME)
    return name === undefined ? undefined : { name, label: this.get(LABEL), value: this.text }
  }
  private readonly defNumber = (): DefNumber | undefined => {
    const name = this.get(NAME)
    const format = this.get(FORMAT)
    const min = this.get(MIN)
    const max = this.get(MAX)
    const step = this.get(STEP)
    if (name === undefined || format === undefined || min === undefined || max === undefined) return undefined
    if (step === undefined) return undefined
    return { name, label: this.get(LABEL), format, min, max, step, value: this.text }
  }
  private readonly defSwitch = (): DefSwitch | undefined => {
    const name = this.get(NAME)
    const value = crackSwitchState(this.text)
    return name === undefined || value === undefined ? undefined : { name, label: this.get(LABEL), value }
  }
  private readonly defLight = (): DefLight | undefined => {
    const name = this.get(NAME)
    const value = this.text
    return name === undefined || !isPropertyState(value) ? undefined : { name, label: this.get(LABEL), value }
  }
  private readonly defBlob = (): DefBlob | undefined => {
    const name = this.get(NAME)
    return name === undefined ? undefined : { name, label: this.get(LABEL) }
  }
}
