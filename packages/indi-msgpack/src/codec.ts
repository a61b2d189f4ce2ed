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
import { BinaryFormatError, nested, packWire, unpackWire, type Wire } from './pack.js'

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

function invalid(what: string): never {
  throw new IndiError('ERR_INDI_INVALID_VALUE', what)
}

function enumCode<T extends string>(values: readonly T[], value: T, what: string): number {
  const i = values.indexOf(value)
  if (i < 0) invalid(`bad ${what} ${JSON.stringify(value)}`)
  return i
}

// msgpackr would happily pack any JS value; these keep the wire to the schema and reject the
// rest with ERR_INDI_INVALID_VALUE, as the model's types promise.
function str(s: unknown): string {
  if (typeof s !== 'string') invalid(`expected a string, got ${typeof s}`)
  return s
}
function optStr(s: unknown): string | null {
  return s === undefined ? null : str(s)
}
function num(n: unknown): number {
  if (typeof n !== 'number') invalid(`expected a number, got ${typeof n}`)
  return n
}
function bin(b: unknown): Uint8Array {
  if (!(b instanceof Uint8Array)) invalid('expected a Uint8Array for BLOB data')
  return b
}
function list<T>(members: unknown, each: (e: T) => Wire): Wire[] {
  if (!Array.isArray(members)) invalid('members is not an array')
  return members.map(each)
}

/** One message as its msgpack array (see the README's wire format). Exported for records. */
export function messageToWire(m: IndiMessage): Wire {
  const code = TAG_INDEX.get(m.tag)
  if (code === undefined) invalid(`not an INDI message tag: ${String(m.tag)}`)
  switch (m.tag) {
    case 'getProperties':
      return [code, optStr(m.version), optStr(m.device), optStr(m.name)]
    case 'enableBLOB':
      return [code, str(m.device), optStr(m.name), enumCode(POLICIES, m.policy, 'BLOB policy')]
    case 'pingRequest':
    case 'pingReply':
      return [code, str(m.uid)]
    case 'defTextVector':
    case 'defNumberVector':
    case 'defSwitchVector':
    case 'defLightVector':
    case 'defBLOBVector': {
      // [code, device, name, timestamp, message, label, group, state, (perm, (rule), timeout), members]
      const w: Wire[] = [
        code,
        str(m.device),
        str(m.name),
        optStr(m.timestamp),
        optStr(m.message),
        optStr(m.label),
        optStr(m.group),
        enumCode(STATES, m.state, 'state'),
      ]
      if (m.tag !== 'defLightVector') {
        w.push(enumCode(PERMS, m.perm, 'perm'))
        if (m.tag === 'defSwitchVector') w.push(enumCode(RULES, m.rule, 'rule'))
        w.push(optStr(m.timeout))
      }
      w.push(defMembers(m))
      return w
    }
    case 'setTextVector':
    case 'setNumberVector':
    case 'setSwitchVector':
    case 'setLightVector':
    case 'setBLOBVector': {
      // [code, device, name, timestamp, message, state, (timeout), members]
      const w: Wire[] = [
        code,
        str(m.device),
        str(m.name),
        optStr(m.timestamp),
        optStr(m.message),
        m.state === undefined ? null : enumCode(STATES, m.state, 'state'),
      ]
      if (m.tag !== 'setLightVector') w.push(optStr(m.timeout))
      w.push(oneMembers(m))
      return w
    }
    case 'newTextVector':
    case 'newNumberVector':
    case 'newSwitchVector':
    case 'newBLOBVector':
      return [code, str(m.device), str(m.name), optStr(m.timestamp), oneMembers(m)]
    case 'message':
      return [code, optStr(m.device), optStr(m.timestamp), optStr(m.message)]
    case 'delProperty':
      return [code, str(m.device), optStr(m.name), optStr(m.timestamp), optStr(m.message)]
  }
}

type DefMsg = Extract<IndiMessage, { tag: `def${string}` }>
type OneMsg = Extract<IndiMessage, { tag: `set${string}` | `new${string}` }>
type Member<M extends { members: readonly unknown[] }> = M['members'][number]

function defMembers(m: DefMsg): Wire {
  switch (m.tag) {
    case 'defTextVector':
      return list<Member<typeof m>>(m.members, (e) => [str(e.name), optStr(e.label), str(e.value)])
    case 'defNumberVector':
      return list<Member<typeof m>>(m.members, (e) => [
        str(e.name),
        optStr(e.label),
        str(e.format),
        str(e.min),
        str(e.max),
        str(e.step),
        str(e.value),
      ])
    case 'defSwitchVector':
      return list<Member<typeof m>>(m.members, (e) => [
        str(e.name),
        optStr(e.label),
        enumCode(SWITCHES, e.value, 'switch state'),
      ])
    case 'defLightVector':
      return list<Member<typeof m>>(m.members, (e) => [
        str(e.name),
        optStr(e.label),
        enumCode(STATES, e.value, 'light state'),
      ])
    case 'defBLOBVector':
      return list<Member<typeof m>>(m.members, (e) => [str(e.name), optStr(e.label)])
  }
}

function oneMembers(m: OneMsg): Wire {
  switch (m.tag) {
    case 'setTextVector':
    case 'newTextVector':
      return list<Member<typeof m>>(m.members, (e) => [str(e.name), str(e.value)])
    case 'setNumberVector':
    case 'newNumberVector':
      return list<OneNumber>(m.members, oneNumber)
    case 'setSwitchVector':
    case 'newSwitchVector':
      return list<Member<typeof m>>(m.members, (e) => [
        str(e.name),
        enumCode(SWITCHES, e.value, 'switch state'),
      ])
    case 'setLightVector':
      return list<Member<typeof m>>(m.members, (e) => [str(e.name), enumCode(STATES, e.value, 'light state')])
    case 'setBLOBVector':
    case 'newBLOBVector':
      return list<OneBlob>(m.members, oneBlob)
  }
}

// Trailing optional items are left out rather than written as nil: setNumberVector is the bulk
// of a mount's traffic (several per second) and min/max/step are almost always absent.
function oneNumber(e: OneNumber): Wire {
  const w: Wire[] = [str(e.name), str(e.value)]
  const n = e.step !== undefined ? 5 : e.max !== undefined ? 4 : e.min !== undefined ? 3 : 2
  if (n > 2) w.push(optStr(e.min))
  if (n > 3) w.push(optStr(e.max))
  if (n > 4) w.push(optStr(e.step))
  return w
}

function oneBlob(e: OneBlob): Wire {
  const w: Wire[] = [str(e.name), num(e.size), str(e.format), bin(e.data)]
  if (e.enclen !== undefined || e.len !== undefined) w.push(e.enclen === undefined ? null : num(e.enclen))
  if (e.len !== undefined) w.push(num(e.len))
  return w
}

/**
 * Encodes one INDI message as msgpack (BLOB payloads as raw bytes).
 * @throws IndiError `ERR_INDI_INVALID_VALUE` when an enum field or a field type is not valid INDI.
 */
export function encodeMessage(message: IndiMessage): Uint8Array {
  return packWire(messageToWire(message))
}

/**
 * Decodes one message written by `encodeMessage`. Every field is validated; absent optional
 * attributes are keys set to undefined, as indi-xml's parser leaves them. BLOB `data` are Buffer
 * views into `bytes` (no copy): do not reuse `bytes` while the message is alive.
 * @throws BinaryFormatError (`ERR_INDI_BINARY_MALFORMED`, with `path`) on any bad input; never
 * anything else.
 */
export function decodeMessage(bytes: Uint8Array): IndiMessage {
  return messageFromWire(unpackWire(bytes), '')
}

type Obj = Record<string, unknown>

/** Items in each tag's message array, tag code included. */
const WIRE_LENGTH: Record<IndiTag, number> = {
  getProperties: 4,
  enableBLOB: 4,
  pingRequest: 2,
  pingReply: 2,
  defTextVector: 11,
  defNumberVector: 11,
  defSwitchVector: 12,
  defLightVector: 9,
  defBLOBVector: 11,
  setTextVector: 8,
  setNumberVector: 8,
  setSwitchVector: 8,
  setLightVector: 7,
  setBLOBVector: 8,
  newTextVector: 5,
  newNumberVector: 5,
  newSwitchVector: 5,
  newBLOBVector: 5,
  message: 4,
  delProperty: 5,
}

function fail(what: string, path: string): never {
  throw new BinaryFormatError(what, path)
}
function arr(v: unknown, min = 0, max = Number.POSITIVE_INFINITY): unknown[] {
  if (!Array.isArray(v)) fail('expected an array', '')
  if (v.length < min || v.length > max) fail(`array of ${v.length} items, expected ${min}..${max}`, '')
  return v
}
function rs(a: unknown[], i: number): string {
  const v = a[i]
  if (typeof v !== 'string') fail('expected a string', `[${i}]`)
  return v
}
function ros(a: unknown[], i: number): string | undefined {
  return a[i] === null || a[i] === undefined ? undefined : rs(a, i)
}
function rn(a: unknown[], i: number): number {
  const v = a[i]
  if (typeof v !== 'number') fail('expected a number', `[${i}]`)
  return v
}
function rcode<T>(values: readonly T[], a: unknown[], i: number, what: string): T {
  const v = a[i]
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= values.length) {
    fail(`bad ${what} code ${String(v)}`, `[${i}]`)
  }
  return values[v] as T
}
function rbin(a: unknown[], i: number): Buffer {
  const v = a[i]
  if (!(v instanceof Uint8Array)) fail('expected binary data', `[${i}]`)
  // A Buffer, like indi-xml's parser gives, so BLOB data behave the same whichever link they came by.
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength)
}

// Messages are built as object literals of one fixed shape per tag, with absent optional
// attributes as undefined-valued keys (as indi-xml's parser does), so V8 keeps them as fast
// objects and both decoders give the same shapes.

/** Validates one decoded message array (at `path` in a bigger tree). Exported for records. */
export function messageFromWire(v: unknown, path: string): IndiMessage {
  // Paths are built only on failure (a template string per member cost a third of the decode).
  try {
    return fromWire(v)
  } catch (error) {
    throw path ? nested(error, path) : error
  }
}

function fromWire(v: unknown): IndiMessage {
  const a = arr(v, 1, 16)
  const tag = rcode(TAG_CODES, a, 0, 'tag')
  const n = WIRE_LENGTH[tag]
  if (a.length !== n) fail(`${tag} has ${a.length} items, expected ${n}`, '')
  switch (tag) {
    case 'getProperties':
      return { tag, version: ros(a, 1), device: ros(a, 2), name: ros(a, 3) }
    case 'enableBLOB':
      return { tag, device: rs(a, 1), name: ros(a, 2), policy: rcode(POLICIES, a, 3, 'BLOB policy') }
    case 'pingRequest':
    case 'pingReply':
      return { tag, uid: rs(a, 1) }
    case 'defTextVector':
    case 'defNumberVector':
    case 'defBLOBVector':
      return {
        tag,
        device: rs(a, 1),
        name: rs(a, 2),
        timestamp: ros(a, 3),
        message: ros(a, 4),
        label: ros(a, 5),
        group: ros(a, 6),
        state: rcode(STATES, a, 7, 'state'),
        perm: rcode(PERMS, a, 8, 'perm'),
        timeout: ros(a, 9),
        members: membersFrom(a, 10, tag, defMember),
      } as unknown as IndiMessage
    case 'defSwitchVector':
      return {
        tag,
        device: rs(a, 1),
        name: rs(a, 2),
        timestamp: ros(a, 3),
        message: ros(a, 4),
        label: ros(a, 5),
        group: ros(a, 6),
        state: rcode(STATES, a, 7, 'state'),
        perm: rcode(PERMS, a, 8, 'perm'),
        rule: rcode(RULES, a, 9, 'rule'),
        timeout: ros(a, 10),
        members: membersFrom(a, 11, tag, defMember),
      } as unknown as IndiMessage
    case 'defLightVector':
      return {
        tag,
        device: rs(a, 1),
        name: rs(a, 2),
        timestamp: ros(a, 3),
        message: ros(a, 4),
        label: ros(a, 5),
        group: ros(a, 6),
        state: rcode(STATES, a, 7, 'state'),
        members: membersFrom(a, 8, tag, defMember),
      } as unknown as IndiMessage
    case 'setTextVector':
    case 'setNumberVector':
    case 'setSwitchVector':
    case 'setBLOBVector':
      return {
        tag,
        device: rs(a, 1),
        name: rs(a, 2),
        timestamp: ros(a, 3),
        message: ros(a, 4),
        state: a[5] === null ? undefined : rcode(STATES, a, 5, 'state'),
        timeout: ros(a, 6),
        members: membersFrom(a, 7, tag, oneMember),
      } as unknown as IndiMessage
    case 'setLightVector':
      return {
        tag,
        device: rs(a, 1),
        name: rs(a, 2),
        timestamp: ros(a, 3),
        message: ros(a, 4),
        state: a[5] === null ? undefined : rcode(STATES, a, 5, 'state'),
        members: membersFrom(a, 6, tag, oneMember),
      } as unknown as IndiMessage
    case 'newTextVector':
    case 'newNumberVector':
    case 'newSwitchVector':
    case 'newBLOBVector':
      return {
        tag,
        device: rs(a, 1),
        name: rs(a, 2),
        timestamp: ros(a, 3),
        members: membersFrom(a, 4, tag, oneMember),
      } as unknown as IndiMessage
    case 'message':
      return { tag, device: ros(a, 1), timestamp: ros(a, 2), message: ros(a, 3) }
    case 'delProperty':
      return { tag, device: rs(a, 1), name: ros(a, 2), timestamp: ros(a, 3), message: ros(a, 4) }
  }
}

/** Decodes the member list at `a[at]` with `member`; an error names the member's path. */
function membersFrom(
  a: unknown[],
  at: number,
  tag: IndiTag,
  member: (v: unknown, tag: IndiTag) => Obj,
): Obj[] {
  const list = inList(a, at)
  const out: Obj[] = new Array(list.length)
  for (let i = 0; i < list.length; i++) {
    try {
      out[i] = member(list[i], tag)
    } catch (error) {
      throw nested(error, `[${at}][${i}]`)
    }
  }
  return out
}

function inList(a: unknown[], at: number): unknown[] {
  try {
    return arr(a[at])
  } catch (error) {
    throw nested(error, `[${at}]`)
  }
}

function defMember(v: unknown, tag: IndiTag): Obj {
  switch (tag) {
    case 'defTextVector': {
      const e = arr(v, 3, 3)
      return { name: rs(e, 0), label: ros(e, 1), value: rs(e, 2) }
    }
    case 'defNumberVector': {
      const e = arr(v, 7, 7)
      return {
        name: rs(e, 0),
        label: ros(e, 1),
        format: rs(e, 2),
        min: rs(e, 3),
        max: rs(e, 4),
        step: rs(e, 5),
        value: rs(e, 6),
      }
    }
    case 'defSwitchVector': {
      const e = arr(v, 3, 3)
      return { name: rs(e, 0), label: ros(e, 1), value: rcode(SWITCHES, e, 2, 'switch state') }
    }
    case 'defLightVector': {
      const e = arr(v, 3, 3)
      return { name: rs(e, 0), label: ros(e, 1), value: rcode(STATES, e, 2, 'state') }
    }
    default: {
      const e = arr(v, 2, 2)
      return { name: rs(e, 0), label: ros(e, 1) }
    }
  }
}

function oneMember(v: unknown, tag: IndiTag): Obj {
  switch (tag) {
    case 'setTextVector':
    case 'newTextVector': {
      const e = arr(v, 2, 2)
      return { name: rs(e, 0), value: rs(e, 1) }
    }
    case 'setNumberVector':
    case 'newNumberVector': {
      const e = arr(v, 2, 5)
      return {
        name: rs(e, 0),
        value: rs(e, 1),
        min: ros(e, 2),
        max: ros(e, 3),
        step: ros(e, 4),
      }
    }
    case 'setSwitchVector':
    case 'newSwitchVector': {
      const e = arr(v, 2, 2)
      return { name: rs(e, 0), value: rcode(SWITCHES, e, 1, 'switch state') }
    }
    case 'setLightVector': {
      const e = arr(v, 2, 2)
      return { name: rs(e, 0), value: rcode(STATES, e, 1, 'light state') }
    }
    default: {
      const e = arr(v, 4, 6)
      return {
        name: rs(e, 0),
        size: rn(e, 1),
        format: rs(e, 2),
        data: rbin(e, 3),
        enclen: e[4] === null || e[4] === undefined ? undefined : rn(e, 4),
        len: e.length > 5 ? rn(e, 5) : undefined,
      }
    }
  }
}

export { BinaryFormatError }
