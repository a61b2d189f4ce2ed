/**
 * The parser's fastest path, for the messages that make up nearly all INDI traffic: set/new
 * Number, Text and Switch vectors and setLightVector (mount coordinates, switches, statuses;
 * a driver's client commands), read straight from the bytes of the chunk. The element is
 * scanned once, byte by byte, recording where each value lies; only then is it decoded as one
 * latin1 string (equal to UTF-8, since every byte was checked to be ASCII) of exactly its extent,
 * and the values are slices of that string (a kept message pins only its element).
 *
 * It takes a strict subset of what FastReader (fastparse.ts) takes: only the attributes these
 * elements use, '=' with no spaces around it, no entities, no control characters, no '>' in
 * text. Anything else returns undefined and the caller uses FastReader or the general parser,
 * which give the same message (test/fastpath.test.ts checks all paths agree).
 *
 * Why bytes: in V8 (Node 20) a charCodeAt loop costs ~4 ns a character here against ~1-2 ns for
 * a Uint8Array loop (every charCodeAt re-checks the string's representation), and FastReader on
 * a string decoded first touches each character several times. Measured on bench/parse.mjs
 * (CPU time, 200k setNumberVector × 3 members): full parse ~520k → ~900k messages/s.
 */
import type { Buffer } from 'node:buffer'
import { latin1 } from './bytes.js'
import { crackSwitchState } from './guards.js'
import { INDI_TAGS, type IndiMessage } from './model.js'

// Byte classes as 256-entry tables (a Buffer byte is 0-255; no out-of-range reads). Value and
// text bytes taken as they are: printable ASCII and tab/LF/CR, minus '&' (entities) and '<';
// text also minus '>' (the general parser checks ']]>').
const OK_VALUE = new Uint8Array(256)
const OK_TEXT = new Uint8Array(256)
for (let c = 0x20; c < 0x80; c++) {
  OK_VALUE[c] = c === 38 || c === 60 ? 0 : 1
  OK_TEXT[c] = c === 38 || c === 60 || c === 62 ? 0 : 1
}
for (const c of [9, 10, 13]) {
  OK_VALUE[c] = 1
  OK_TEXT[c] = 1
}
const SPACE = new Uint8Array(256)
for (const c of [9, 10, 13, 32]) SPACE[c] = 1

// Attribute slots: value start/end pairs in `spans` at 2 × slot.
const DEVICE = 0
const NAME = 1
const STATE = 2
const TIMEOUT = 3
const TIMESTAMP = 4
const MESSAGE = 5
const MIN = 6
const MAX = 7
const STEP = 8
const SLOTS = 9

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (ch) => ch.charCodeAt(0))

// Member kinds.
const NUMBER = 0
const TEXT = 1
const SWITCH = 2
const LIGHT = 3

/** Per tag index: the member kind (-1: not read here), whether it is a set*, and the member tag. */
const KIND = new Int8Array(INDI_TAGS.length).fill(-1)
const IS_SET = new Uint8Array(INDI_TAGS.length)
const MEMBER: Uint8Array[] = INDI_TAGS.map(() => new Uint8Array(0))
for (const [tag, kind, member] of [
  ['setNumberVector', NUMBER, 'oneNumber'],
  ['newNumberVector', NUMBER, 'oneNumber'],
  ['setTextVector', TEXT, 'oneText'],
  ['newTextVector', TEXT, 'oneText'],
  ['setSwitchVector', SWITCH, 'oneSwitch'],
  ['newSwitchVector', SWITCH, 'oneSwitch'],
  ['setLightVector', LIGHT, 'oneLight'],
] as const) {
  const i = INDI_TAGS.indexOf(tag)
  KIND[i] = kind
  IS_SET[i] = tag.startsWith('set') ? 1 : 0
  MEMBER[i] = ascii(member)
}

/** Whether VectorBytesReader reads elements with this tag. */
export function readsFromBytes(tagIndex: number): boolean {
  return KIND[tagIndex]! >= 0
}

/**
 * b[p, p+w.length) equals w (the caller has checked the bounds). Four bytes a step: the member
 * tag compares were ~9% of the full parse as a plain loop (unrolled, with the state check below: ~880k → ~975k messages/s).
 */
function eq(b: Uint8Array, p: number, w: Uint8Array): boolean {
  const n = w.length
  let i = 0
  for (; i + 3 < n; i += 4) {
    if (
      b[p + i] !== w[i] ||
      b[p + i + 1] !== w[i + 1] ||
      b[p + i + 2] !== w[i + 2] ||
      b[p + i + 3] !== w[i + 3]
    )
      return false
  }
  for (; i < n; i++) if (b[p + i] !== w[i]) return false
  return true
}

/** isPropertyState for a string just sliced: direct compares (the generic guard was ~5%). */
function isState(s: string): boolean {
  return s === 'Ok' || s === 'Busy' || s === 'Idle' || s === 'Alert'
}

export class VectorBytesReader {
  /** Root attribute spans (absolute byte offsets), valid where the bit is set in rootMask. */
  private readonly root = new Int32Array(2 * SLOTS)
  private rootMask = 0
  /** Per member: mask, text start, text end, then the attribute spans. */
  private mem = new Int32Array(16 * (3 + 2 * SLOTS))
  private count = 0
  /** Scratch for attrs(): mask of the start tag just read, 1 if it was self-closed. */
  private mask = 0
  private closed: number = 0

  /**
   * The element at b[el] (tag INDI_TAGS[tagIndex], already matched, one that readsFromBytes),
   * which must end before `stop`: its message, with `end` set to the index just after it;
   * undefined to let the caller use the general path.
   */
  read(b: Buffer, el: number, stop: number, tagIndex: number, maxAttrs: number): IndiMessage | undefined {
    const kind = KIND[tagIndex]!
    const tagLen = INDI_TAGS[tagIndex]!.length
    const member = MEMBER[tagIndex]!
    const memberLen = member.length
    let p = this.attrs(b, el + 1 + tagLen, stop, this.root, 0, 0, maxAttrs)
    if (p < 0) return undefined
    this.rootMask = this.mask
    if ((this.rootMask & 3) !== 3) return undefined // device and name are required
    let count = 0
    if (this.closed === 0) {
      for (;;) {
        while (p < stop && SPACE[b[p]!] === 1) p++
        if (p + 3 + memberLen >= stop || b[p] !== 60) return undefined
        if (b[p + 1] === 47) {
          // Root end tag: the tag name again (compared with the start tag's bytes), spaces, '>'.
          if (p + 2 + tagLen >= stop) return undefined
          for (let i = 0; i < tagLen; i++) if (b[p + 2 + i] !== b[el + 1 + i]) return undefined
          p += 2 + tagLen
          while (p < stop && SPACE[b[p]!] === 1) p++
          if (p >= stop || b[p] !== 62) return undefined
          p++
          break
        }
        if (!eq(b, p + 1, member)) return undefined
        const base = count * (3 + 2 * SLOTS)
        if (base + 3 + 2 * SLOTS > this.mem.length) {
          const grown = new Int32Array(this.mem.length * 2)
          grown.set(this.mem)
          this.mem = grown
        }
        const mem = this.mem
        p = this.attrs(b, p + 1 + memberLen, stop, mem, base + 3, kind === NUMBER ? 2 : 1, maxAttrs)
        if (p < 0 || (this.mask & (1 << NAME)) === 0) return undefined
        mem[base] = this.mask
        count++
        const closed: number = this.closed
        if (closed === 1) {
          mem[base + 1] = p
          mem[base + 2] = p
          continue
        }
        // Text: trimmed, then </member spaces* >.
        while (p < stop && SPACE[b[p]!] === 1) p++
        const ts = p
        while (p < stop) {
          const c = b[p]!
          if (c === 60) break
          if (OK_TEXT[c] !== 1) return undefined
          p++
        }
        if (p + 2 + memberLen >= stop) return undefined
        let te = p
        while (te > ts && SPACE[b[te - 1]!] === 1) te--
        mem[base + 1] = ts
        mem[base + 2] = te
        if (b[p + 1] !== 47 || !eq(b, p + 2, member)) return undefined
        p += 2 + memberLen
        while (p < stop && SPACE[b[p]!] === 1) p++
        if (p >= stop || b[p] !== 62) return undefined
        p++
      }
    }
    this.count = count
    this.end = p
    return this.build(b, el, p, tagIndex, kind)
  }

  /** After read(): the index just after the element. */
  end = 0

  private build(b: Buffer, el: number, end: number, tagIndex: number, kind: number): IndiMessage | undefined {
    const s = latin1(b, el, end)
    const r = this.root
    const rm = this.rootMask
    const set = IS_SET[tagIndex] === 1
    const device = s.slice(r[0]! - el, r[1]! - el)
    const name = s.slice(r[2]! - el, r[3]! - el)
    const timestamp = rm & (1 << TIMESTAMP) ? s.slice(r[8]! - el, r[9]! - el) : undefined
    let state: string | undefined
    let message: string | undefined
    let timeout: string | undefined
    if (set) {
      if (rm & (1 << STATE)) {
        state = s.slice(r[4]! - el, r[5]! - el)
        if (!isState(state)) return undefined
      }
      message = rm & (1 << MESSAGE) ? s.slice(r[10]! - el, r[11]! - el) : undefined
      timeout = rm & (1 << TIMEOUT) ? s.slice(r[6]! - el, r[7]! - el) : undefined
    }
    // The same object shapes, in the same key order, as FastReader builds.
    const members: object[] = []
    const m = this.mem
    for (let i = 0; i < this.count; i++) {
      const k = i * (3 + 2 * SLOTS)
      const a = k + 3
      const mname = s.slice(m[a + 2]! - el, m[a + 3]! - el)
      const text = s.slice(m[k + 1]! - el, m[k + 2]! - el)
      if (kind === NUMBER) {
        const mask = m[k]!
        members.push({
          name: mname,
          value: text,
          min: mask & (1 << MIN) ? s.slice(m[a + 12]! - el, m[a + 13]! - el) : undefined,
          max: mask & (1 << MAX) ? s.slice(m[a + 14]! - el, m[a + 15]! - el) : undefined,
          step: mask & (1 << STEP) ? s.slice(m[a + 16]! - el, m[a + 17]! - el) : undefined,
        })
      } else if (kind === TEXT) {
        members.push({ name: mname, value: text })
      } else if (kind === SWITCH) {
        const value = crackSwitchState(text)
        if (value === undefined) return undefined
        members.push({ name: mname, value })
      } else {
        if (!isState(text)) return undefined
        members.push({ name: mname, value: text })
      }
    }
    const tag = INDI_TAGS[tagIndex]!
    if (!set) return { tag, device, name, timestamp, members } as IndiMessage
    if (kind === LIGHT) return { tag, device, name, state, timestamp, message, members } as IndiMessage
    return { tag, device, name, state, timestamp, message, timeout, members } as IndiMessage
  }

  /**
   * Attributes from b[p] (just after the tag name) to '>' or '/>': spans into out[at + 2·slot],
   * mask and closed set. Returns the index after the tag, or -1 to give up.
   */
  private attrs(
    b: Buffer,
    p: number,
    stop: number,
    out: Int32Array,
    at: number,
    member: number,
    maxAttrs: number,
  ): number {
    let mask = 0
    let n = 0
    for (;;) {
      if (p + 12 >= stop) return -1
      let c = b[p]!
      if (c === 62) {
        this.mask = mask
        this.closed = 0
        return p + 1
      }
      if (c === 47) {
        if (b[p + 1] !== 62) return -1
        this.mask = mask
        this.closed = 1
        return p + 2
      }
      if (SPACE[c] !== 1) return -1
      p++
      while (p < stop && SPACE[b[p]!] === 1) p++
      if (p + 12 >= stop) return -1
      c = b[p]!
      if (c === 62 || c === 47) continue
      // The name, by its first byte and where its '=' is; then the rest compared.
      let slot = -1
      let w = 0
      if (member !== 0) {
        if (c === 110 && b[p + 4] === 61 && b[p + 1] === 97 && b[p + 2] === 109 && b[p + 3] === 101) {
          slot = NAME
          w = 4
        } else if (member !== 2) {
          // oneText, oneSwitch, oneLight: only a name.
        } else if (c === 109 && b[p + 3] === 61) {
          if (b[p + 1] === 105 && b[p + 2] === 110) slot = MIN
          else if (b[p + 1] === 97 && b[p + 2] === 120) slot = MAX
          w = 3
        } else if (c === 115 && b[p + 4] === 61 && b[p + 1] === 116 && b[p + 2] === 101 && b[p + 3] === 112) {
          slot = STEP
          w = 4
        }
      } else if (c === 100) {
        if (
          b[p + 6] === 61 &&
          b[p + 1] === 101 &&
          b[p + 2] === 118 &&
          b[p + 3] === 105 &&
          b[p + 4] === 99 &&
          b[p + 5] === 101
        ) {
          slot = DEVICE
          w = 6
        }
      } else if (c === 110) {
        if (b[p + 4] === 61 && b[p + 1] === 97 && b[p + 2] === 109 && b[p + 3] === 101) {
          slot = NAME
          w = 4
        }
      } else if (c === 115) {
        if (b[p + 5] === 61 && b[p + 1] === 116 && b[p + 2] === 97 && b[p + 3] === 116 && b[p + 4] === 101) {
          slot = STATE
          w = 5
        }
      } else if (c === 116) {
        if (b[p + 1] === 105 && b[p + 2] === 109 && b[p + 3] === 101) {
          if (b[p + 7] === 61 && b[p + 4] === 111 && b[p + 5] === 117 && b[p + 6] === 116) {
            slot = TIMEOUT
            w = 7
          } else if (
            b[p + 9] === 61 &&
            b[p + 4] === 115 &&
            b[p + 5] === 116 &&
            b[p + 6] === 97 &&
            b[p + 7] === 109 &&
            b[p + 8] === 112
          ) {
            slot = TIMESTAMP
            w = 9
          }
        }
      } else if (c === 109) {
        if (
          b[p + 7] === 61 &&
          b[p + 1] === 101 &&
          b[p + 2] === 115 &&
          b[p + 3] === 115 &&
          b[p + 4] === 97 &&
          b[p + 5] === 103 &&
          b[p + 6] === 101
        ) {
          slot = MESSAGE
          w = 7
        }
      }
      if (slot < 0 || (mask >> slot) & 1 || ++n > maxAttrs) return -1
      p += w + 1
      const q = b[p]!
      if (q !== 34 && q !== 39) return -1
      const vs = ++p
      while (p < stop) {
        c = b[p]!
        if (c === q) break
        if (OK_VALUE[c] !== 1) return -1
        p++
      }
      if (p >= stop) return -1
      out[at + 2 * slot] = vs
      out[at + 2 * slot + 1] = p
      mask |= 1 << slot
      p++
    }
  }
}
