import type {
  BlobPolicy,
  IndiMessage,
  IndiTag,
  OneBlob,
  OneNumber,
  PropertyPerm,
  PropertyState,
  SwitchRule,
  SwitchState,
} from '@indi-ts/indi-xml'
import { IndiError } from '@indi-ts/indi-xml'
import { BinaryFormatError, encodeWith, MsgReader, type MsgSink } from './msgpack.js'

/**
 * Stable tag codes of the binary format (version 1). A message is one msgpack array whose first
 * item is this code; the README lists the layout of each. Never reorder: append only.
 */
export const TAG_CODES: readonly IndiTag[] = [
  'getProperties', // 0
  'enableBLOB', // 1
  'pingRequest', // 2
  'pingReply', // 3
  'defTextVector', // 4
  'defNumberVector', // 5
  'defSwitchVector', // 6
  'defLightVector', // 7
  'defBLOBVector', // 8
  'setTextVector', // 9
  'setNumberVector', // 10
  'setSwitchVector', // 11
  'setLightVector', // 12
  'setBLOBVector', // 13
  'newTextVector', // 14
  'newNumberVector', // 15
  'newSwitchVector', // 16
  'newBLOBVector', // 17
  'message', // 18
  'delProperty', // 19
]
const TAG_INDEX = new Map<string, number>(TAG_CODES.map((t, i) => [t, i]))

// Enum codes: the position in these arrays. Append only.
const STATES: readonly PropertyState[] = ['Idle', 'Ok', 'Busy', 'Alert']
const PERMS: readonly PropertyPerm[] = ['ro', 'wo', 'rw']
const RULES: readonly SwitchRule[] = ['OneOfMany', 'AtMostOne', 'AnyOfMany']
const SWITCHES: readonly SwitchState[] = ['Off', 'On']
const POLICIES: readonly BlobPolicy[] = ['Never', 'Also', 'Only']

function enumCode<T extends string>(values: readonly T[], value: T, what: string): number {
  const i = values.indexOf(value)
  if (i < 0) throw new IndiError('ERR_INDI_INVALID_VALUE', `bad ${what} ${JSON.stringify(value)}`)
  return i
}

/** Writes one message as a msgpack array. Exported for record encoding (a message nested in a record). */
export function writeMessage(w: MsgSink, m: IndiMessage): void {
  const code = TAG_INDEX.get(m.tag)
  if (code === undefined) {
    throw new IndiError('ERR_INDI_INVALID_VALUE', `not an INDI message tag: ${String(m.tag)}`)
  }
  switch (m.tag) {
    case 'getProperties':
      w.array(4)
      w.uint(code)
      w.optStr(m.version)
      w.optStr(m.device)
      w.optStr(m.name)
      return
    case 'enableBLOB':
      w.array(4)
      w.uint(code)
      w.str(m.device)
      w.optStr(m.name)
      w.uint(enumCode(POLICIES, m.policy, 'BLOB policy'))
      return
    case 'pingRequest':
    case 'pingReply':
      w.array(2)
      w.uint(code)
      w.str(m.uid)
      return
    case 'defTextVector':
    case 'defNumberVector':
    case 'defSwitchVector':
    case 'defLightVector':
    case 'defBLOBVector': {
      const light = m.tag === 'defLightVector'
      // [code, device, name, timestamp, message, label, group, state, (perm, (rule), timeout), members]
      w.array(light ? 9 : m.tag === 'defSwitchVector' ? 12 : 11)
      w.uint(code)
      w.str(m.device)
      w.str(m.name)
      w.optStr(m.timestamp)
      w.optStr(m.message)
      w.optStr(m.label)
      w.optStr(m.group)
      w.uint(enumCode(STATES, m.state, 'state'))
      if (m.tag !== 'defLightVector') {
        w.uint(enumCode(PERMS, m.perm, 'perm'))
        if (m.tag === 'defSwitchVector') w.uint(enumCode(RULES, m.rule, 'rule'))
        w.optStr(m.timeout)
      }
      writeDefMembers(w, m)
      return
    }
    case 'setTextVector':
    case 'setNumberVector':
    case 'setSwitchVector':
    case 'setLightVector':
    case 'setBLOBVector': {
      // [code, device, name, timestamp, message, state, (timeout), members]
      w.array(m.tag === 'setLightVector' ? 7 : 8)
      w.uint(code)
      w.str(m.device)
      w.str(m.name)
      w.optStr(m.timestamp)
      w.optStr(m.message)
      if (m.state === undefined) w.nil()
      else w.uint(enumCode(STATES, m.state, 'state'))
      if (m.tag !== 'setLightVector') w.optStr(m.timeout)
      writeOneMembers(w, m)
      return
    }
    case 'newTextVector':
    case 'newNumberVector':
    case 'newSwitchVector':
    case 'newBLOBVector':
      // [code, device, name, timestamp, members]
      w.array(5)
      w.uint(code)
      w.str(m.device)
      w.str(m.name)
      w.optStr(m.timestamp)
      writeOneMembers(w, m)
      return
    case 'message':
      w.array(4)
      w.uint(code)
      w.optStr(m.device)
      w.optStr(m.timestamp)
      w.optStr(m.message)
      return
    case 'delProperty':
      w.array(5)
      w.uint(code)
      w.str(m.device)
      w.optStr(m.name)
      w.optStr(m.timestamp)
      w.optStr(m.message)
      return
  }
}

type DefMsg = Extract<IndiMessage, { tag: `def${string}` }>
type OneMsg = Extract<IndiMessage, { tag: `set${string}` | `new${string}` }>

function writeDefMembers(w: MsgSink, m: DefMsg): void {
  if (!Array.isArray(m.members)) throw new IndiError('ERR_INDI_INVALID_VALUE', 'members is not an array')
  w.array(m.members.length)
  switch (m.tag) {
    case 'defTextVector':
      for (const e of m.members) {
        w.array(3)
        w.str(e.name)
        w.optStr(e.label)
        w.str(e.value)
      }
      return
    case 'defNumberVector':
      for (const e of m.members) {
        w.array(7)
        w.str(e.name)
        w.optStr(e.label)
        w.str(e.format)
        w.str(e.min)
        w.str(e.max)
        w.str(e.step)
        w.str(e.value)
      }
      return
    case 'defSwitchVector':
      for (const e of m.members) {
        w.array(3)
        w.str(e.name)
        w.optStr(e.label)
        w.uint(enumCode(SWITCHES, e.value, 'switch state'))
      }
      return
    case 'defLightVector':
      for (const e of m.members) {
        w.array(3)
        w.str(e.name)
        w.optStr(e.label)
        w.uint(enumCode(STATES, e.value, 'light state'))
      }
      return
    case 'defBLOBVector':
      for (const e of m.members) {
        w.array(2)
        w.str(e.name)
        w.optStr(e.label)
      }
      return
  }
}

function writeOneMembers(w: MsgSink, m: OneMsg): void {
  if (!Array.isArray(m.members)) throw new IndiError('ERR_INDI_INVALID_VALUE', 'members is not an array')
  w.array(m.members.length)
  switch (m.tag) {
    case 'setTextVector':
    case 'newTextVector':
      for (const e of m.members) {
        w.array(2)
        w.str(e.name)
        w.str(e.value)
      }
      return
    case 'setNumberVector':
    case 'newNumberVector':
      for (const e of m.members) writeOneNumber(w, e)
      return
    case 'setSwitchVector':
    case 'newSwitchVector':
      for (const e of m.members) {
        w.array(2)
        w.str(e.name)
        w.uint(enumCode(SWITCHES, e.value, 'switch state'))
      }
      return
    case 'setLightVector':
      for (const e of m.members) {
        w.array(2)
        w.str(e.name)
        w.uint(enumCode(STATES, e.value, 'light state'))
      }
      return
    case 'setBLOBVector':
    case 'newBLOBVector':
      for (const e of m.members) writeOneBlob(w, e)
      return
  }
}

// Trailing optional items are left out rather than written as nil: setNumberVector is the bulk
// of a mount's traffic (several per second) and min/max/step are almost always absent.
function writeOneNumber(w: MsgSink, e: OneNumber): void {
  const n = e.step !== undefined ? 5 : e.max !== undefined ? 4 : e.min !== undefined ? 3 : 2
  w.array(n)
  w.str(e.name)
  w.str(e.value)
  if (n > 2) w.optStr(e.min)
  if (n > 3) w.optStr(e.max)
  if (n > 4) w.optStr(e.step)
}

function writeOneBlob(w: MsgSink, e: OneBlob): void {
  const n = e.len !== undefined ? 6 : e.enclen !== undefined ? 5 : 4
  w.array(n)
  w.str(e.name)
  w.number(e.size)
  w.str(e.format)
  w.bin(e.data)
  if (n > 4) {
    if (e.enclen === undefined) w.nil()
    else w.number(e.enclen)
  }
  if (n > 5) w.number(e.len as number)
}

/** BLOB payload bytes in a message: what decides how `encodeWith` sizes its buffer. */
export function payloadBytes(m: IndiMessage): number {
  if (m.tag !== 'setBLOBVector' && m.tag !== 'newBLOBVector') return 0
  let n = 0
  for (const e of m.members) n += e.data?.length ?? 0
  return n
}

/**
 * Encodes one INDI message as msgpack (BLOB payloads as raw bytes). The result is a fresh buffer
 * of exactly the encoded size.
 * @throws IndiError `ERR_INDI_INVALID_VALUE` when an enum field or a field type is not valid INDI.
 */
export function encodeMessage(message: IndiMessage): Uint8Array {
  const buf = encodeWith(0, (w) => writeMessage(w, message), payloadBytes(message))
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
}

/**
 * Decodes one message written by `encodeMessage`. Every field is validated; absent optional
 * attributes are keys set to undefined, as indi-xml's parser leaves them. BLOB `data` are views into
 * `bytes` (no copy): do not reuse `bytes` while the message is alive.
 * @throws BinaryFormatError (`ERR_INDI_BINARY_MALFORMED`, with `offset`) on any bad input; never
 * anything else.
 */
export function decodeMessage(bytes: Uint8Array): IndiMessage {
  const r = new MsgReader(bytes)
  const m = readMessage(r)
  if (r.pos !== r.end) r.fail(`${r.end - r.pos} bytes after the message`)
  return m
}

type Obj = Record<string, unknown>

function expectLength(r: MsgReader, at: number, tag: string, len: number, n: number): void {
  if (len !== n) r.fail(`${tag} has ${len} items, expected ${n}`, at)
}

function state(r: MsgReader): PropertyState {
  return STATES[r.code(STATES.length, 'state')] as PropertyState
}
function optState(r: MsgReader): PropertyState | undefined {
  return r.isNil() ? undefined : state(r)
}
function perm(r: MsgReader): PropertyPerm {
  return PERMS[r.code(PERMS.length, 'perm')] as PropertyPerm
}
function switchState(r: MsgReader): SwitchState {
  return SWITCHES[r.code(SWITCHES.length, 'switch state')] as SwitchState
}

// Messages are built as object literals of one fixed shape per tag, with absent optional
// attributes as undefined-valued keys (as indi-xml's parser does): building them key by key
// made V8 fall back to dictionary objects and cost half of the decode time.

/** Reads one message array at `r.pos`. Exported for record decoding. */
export function readMessage(r: MsgReader): IndiMessage {
  const at = r.pos
  const len = r.array(1, 16)
  const code = r.code(TAG_CODES.length, 'tag')
  const tag = TAG_CODES[code] as IndiTag
  switch (tag) {
    case 'getProperties':
      expectLength(r, at, tag, len, 4)
      return { tag, version: r.optStr(), device: r.optStr(), name: r.optStr() }
    case 'enableBLOB':
      expectLength(r, at, tag, len, 4)
      return {
        tag,
        device: r.str(),
        name: r.optStr(),
        policy: POLICIES[r.code(POLICIES.length, 'BLOB policy')] as BlobPolicy,
      }
    case 'pingRequest':
    case 'pingReply':
      expectLength(r, at, tag, len, 2)
      return { tag, uid: r.str() }
    case 'defTextVector':
    case 'defNumberVector':
    case 'defBLOBVector': {
      expectLength(r, at, tag, len, 11)
      const o = {
        tag,
        device: r.str(),
        name: r.str(),
        timestamp: r.optStr(),
        message: r.optStr(),
        label: r.optStr(),
        group: r.optStr(),
        state: state(r),
        perm: perm(r),
        timeout: r.optStr(),
        members: [] as Obj[],
      }
      o.members = readDefMembers(r, tag)
      return o as unknown as IndiMessage
    }
    case 'defSwitchVector': {
      expectLength(r, at, tag, len, 12)
      const o = {
        tag,
        device: r.str(),
        name: r.str(),
        timestamp: r.optStr(),
        message: r.optStr(),
        label: r.optStr(),
        group: r.optStr(),
        state: state(r),
        perm: perm(r),
        rule: RULES[r.code(RULES.length, 'rule')] as SwitchRule,
        timeout: r.optStr(),
        members: [] as Obj[],
      }
      o.members = readDefMembers(r, tag)
      return o as unknown as IndiMessage
    }
    case 'defLightVector': {
      expectLength(r, at, tag, len, 9)
      const o = {
        tag,
        device: r.str(),
        name: r.str(),
        timestamp: r.optStr(),
        message: r.optStr(),
        label: r.optStr(),
        group: r.optStr(),
        state: state(r),
        members: [] as Obj[],
      }
      o.members = readDefMembers(r, tag)
      return o as unknown as IndiMessage
    }
    case 'setTextVector':
    case 'setNumberVector':
    case 'setSwitchVector':
    case 'setBLOBVector': {
      expectLength(r, at, tag, len, 8)
      const o = {
        tag,
        device: r.str(),
        name: r.str(),
        timestamp: r.optStr(),
        message: r.optStr(),
        state: optState(r),
        timeout: r.optStr(),
        members: [] as Obj[],
      }
      o.members = readOneMembers(r, tag)
      return o as unknown as IndiMessage
    }
    case 'setLightVector': {
      expectLength(r, at, tag, len, 7)
      const o = {
        tag,
        device: r.str(),
        name: r.str(),
        timestamp: r.optStr(),
        message: r.optStr(),
        state: optState(r),
        members: [] as Obj[],
      }
      o.members = readOneMembers(r, tag)
      return o as unknown as IndiMessage
    }
    case 'newTextVector':
    case 'newNumberVector':
    case 'newSwitchVector':
    case 'newBLOBVector': {
      expectLength(r, at, tag, len, 5)
      const o = { tag, device: r.str(), name: r.str(), timestamp: r.optStr(), members: [] as Obj[] }
      o.members = readOneMembers(r, tag)
      return o as unknown as IndiMessage
    }
    case 'message':
      expectLength(r, at, tag, len, 4)
      return { tag, device: r.optStr(), timestamp: r.optStr(), message: r.optStr() }
    case 'delProperty':
      expectLength(r, at, tag, len, 5)
      return { tag, device: r.str(), name: r.optStr(), timestamp: r.optStr(), message: r.optStr() }
  }
}

function readDefMembers(r: MsgReader, tag: IndiTag): Obj[] {
  const count = r.array()
  const out: Obj[] = new Array(count)
  for (let i = 0; i < count; i++) {
    switch (tag) {
      case 'defTextVector':
        r.array(3, 3)
        out[i] = { name: r.str(), label: r.optStr(), value: r.str() }
        break
      case 'defNumberVector':
        r.array(7, 7)
        out[i] = {
          name: r.str(),
          label: r.optStr(),
          format: r.str(),
          min: r.str(),
          max: r.str(),
          step: r.str(),
          value: r.str(),
        }
        break
      case 'defSwitchVector':
        r.array(3, 3)
        out[i] = { name: r.str(), label: r.optStr(), value: switchState(r) }
        break
      case 'defLightVector':
        r.array(3, 3)
        out[i] = { name: r.str(), label: r.optStr(), value: state(r) }
        break
      default:
        r.array(2, 2)
        out[i] = { name: r.str(), label: r.optStr() }
    }
  }
  return out
}

function readOneMembers(r: MsgReader, tag: IndiTag): Obj[] {
  const count = r.array()
  const out: Obj[] = new Array(count)
  for (let i = 0; i < count; i++) {
    switch (tag) {
      case 'setTextVector':
      case 'newTextVector':
        r.array(2, 2)
        out[i] = { name: r.str(), value: r.str() }
        break
      case 'setNumberVector':
      case 'newNumberVector': {
        const n = r.array(2, 5)
        out[i] = {
          name: r.str(),
          value: r.str(),
          min: n > 2 ? r.optStr() : undefined,
          max: n > 3 ? r.optStr() : undefined,
          step: n > 4 ? r.optStr() : undefined,
        }
        break
      }
      case 'setSwitchVector':
      case 'newSwitchVector':
        r.array(2, 2)
        out[i] = { name: r.str(), value: switchState(r) }
        break
      case 'setLightVector':
        r.array(2, 2)
        out[i] = { name: r.str(), value: state(r) }
        break
      default: {
        const n = r.array(4, 6)
        out[i] = {
          name: r.str(),
          size: r.number(),
          format: r.str(),
          data: r.bin(),
          enclen: n > 4 && !r.isNil() ? r.number() : undefined,
          len: n > 5 ? r.number() : undefined,
        }
      }
    }
  }
  return out
}

export { BinaryFormatError }
