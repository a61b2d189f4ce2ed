import fc from 'fast-check'
import {
  BLOB_POLICIES,
  type IndiMessage,
  PROPERTY_PERMS,
  PROPERTY_STATES,
  SWITCH_RULES,
  SWITCH_STATES,
} from '../src/index.js'

// Text as it survives a round trip: XML characters only, no leading/trailing XML whitespace
// (lilxml trims content; attributes keep everything).
const chars = fc.constantFrom(...'abcXYZ019 _-:.&<>"\'°✓😀\t%;'.split(/(?:)/u))
const attrText = fc.array(chars, { maxLength: 12 }).map((a) => a.join(''))
const content = attrText.map((s) => s.replace(/^[ \t\n\r]+|[ \t\n\r]+$/g, ''))
const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_ .:-]{0,14}$/)
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined })
const state = fc.constantFrom(...PROPERTY_STATES)
const perm = fc.constantFrom(...PROPERTY_PERMS)
const num = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
  fc.constantFrom('10:30:00', '-0:30', '1e-06'),
)
const ts = opt(fc.constantFrom('2026-11-24T01:09:21', '2026-11-24T01:09:21.5'))
const blob = fc.uint8Array({ maxLength: 300 }).map((data) => ({ data }))
const oneBlob = fc
  .record({ name, format: fc.constantFrom('.fits', '.fits.z', '.jpg'), len: opt(fc.nat()), d: blob })
  .map(({ d, ...r }) => ({
    ...r,
    size: d.data.length,
    enclen: Math.ceil(d.data.length / 3) * 4,
    data: d.data,
  }))

const defHead = {
  device: name,
  name,
  label: opt(attrText),
  group: opt(attrText),
  state,
  timestamp: ts,
  message: opt(attrText),
}
const setHead = { device: name, name, state: opt(state), timestamp: ts, message: opt(attrText) }
const newHead = { device: name, name, timestamp: ts }
const members = <T>(a: fc.Arbitrary<T>, min = 0) => fc.array(a, { minLength: min, maxLength: 4 })

/** Any INDI message, in the exact shape the parser returns (optional attributes undefined). */
export const anyMessage: fc.Arbitrary<IndiMessage> = fc.oneof(
  fc.record({
    tag: fc.constant('getProperties' as const),
    version: opt(fc.constant('1.7')),
    device: opt(name),
    name: opt(name),
  }),
  fc.record({
    tag: fc.constant('enableBLOB' as const),
    device: name,
    name: opt(name),
    policy: fc.constantFrom(...BLOB_POLICIES),
  }),
  fc.record({ tag: fc.constantFrom('pingRequest' as const, 'pingReply' as const), uid: attrText }),
  fc.record({
    tag: fc.constant('message' as const),
    device: opt(name),
    timestamp: ts,
    message: opt(attrText),
  }),
  fc.record({
    tag: fc.constant('delProperty' as const),
    device: name,
    name: opt(name),
    timestamp: ts,
    message: opt(attrText),
  }),
  fc.record({
    tag: fc.constant('defTextVector' as const),
    ...defHead,
    perm,
    timeout: opt(num),
    members: members(fc.record({ name, label: opt(attrText), value: content }), 1),
  }),
  fc.record({
    tag: fc.constant('defNumberVector' as const),
    ...defHead,
    perm,
    timeout: opt(num),
    members: members(
      fc.record({
        name,
        label: opt(attrText),
        format: fc.constantFrom('%g', '%9.6m', '%.3f'),
        min: num,
        max: num,
        step: num,
        value: num,
      }),
      1,
    ),
  }),
  fc.record({
    tag: fc.constant('defSwitchVector' as const),
    ...defHead,
    perm,
    rule: fc.constantFrom(...SWITCH_RULES),
    timeout: opt(num),
    members: members(fc.record({ name, label: opt(attrText), value: fc.constantFrom(...SWITCH_STATES) }), 1),
  }),
  fc.record({
    tag: fc.constant('defLightVector' as const),
    ...defHead,
    members: members(fc.record({ name, label: opt(attrText), value: state }), 1),
  }),
  fc.record({
    tag: fc.constant('defBLOBVector' as const),
    ...defHead,
    perm,
    timeout: opt(num),
    members: members(fc.record({ name, label: opt(attrText) }), 1),
  }),
  fc.record({
    tag: fc.constant('setTextVector' as const),
    ...setHead,
    timeout: opt(num),
    members: members(fc.record({ name, value: content })),
  }),
  fc.record({
    tag: fc.constant('setNumberVector' as const),
    ...setHead,
    timeout: opt(num),
    members: members(fc.record({ name, value: num, min: opt(num), max: opt(num), step: opt(num) })),
  }),
  fc.record({
    tag: fc.constant('setSwitchVector' as const),
    ...setHead,
    timeout: opt(num),
    members: members(fc.record({ name, value: fc.constantFrom(...SWITCH_STATES) })),
  }),
  fc.record({
    tag: fc.constant('setLightVector' as const),
    ...setHead,
    members: members(fc.record({ name, value: state })),
  }),
  fc.record({
    tag: fc.constant('setBLOBVector' as const),
    ...setHead,
    timeout: opt(num),
    members: members(oneBlob),
  }),
  fc.record({
    tag: fc.constant('newTextVector' as const),
    ...newHead,
    members: members(fc.record({ name, value: content })),
  }),
  fc.record({
    tag: fc.constant('newNumberVector' as const),
    ...newHead,
    members: members(fc.record({ name, value: num, min: opt(num), max: opt(num), step: opt(num) })),
  }),
  fc.record({
    tag: fc.constant('newSwitchVector' as const),
    ...newHead,
    members: members(fc.record({ name, value: fc.constantFrom(...SWITCH_STATES) })),
  }),
  fc.record({ tag: fc.constant('newBLOBVector' as const), ...newHead, members: members(oneBlob) }),
) as fc.Arbitrary<IndiMessage>

/** Comparable form: BLOB data as plain arrays (Buffer vs Uint8Array), undefined keys dropped. */
export function normal(m: IndiMessage): unknown {
  return JSON.parse(
    JSON.stringify(m, (_k, v) =>
      v instanceof Uint8Array
        ? { bytes: Array.from(v) }
        : v?.type === 'Buffer' && Array.isArray(v.data)
          ? { bytes: v.data }
          : v,
    ),
  )
}
