import type { IndiMessage } from '@indi-ts/indi-xml'
import fc from 'fast-check'

/**
 * Random INDI messages. `text` is the string arbitrary: any Unicode for the binary codec alone,
 * or text that survives XML (trimmed, no control characters) when comparing with indi-xml.
 */
export function messageArb(
  text: fc.Arbitrary<string>,
  name: fc.Arbitrary<string> = text,
): fc.Arbitrary<IndiMessage> {
  const o = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined })
  const state = fc.constantFrom('Idle', 'Ok', 'Busy', 'Alert' as const)
  const perm = fc.constantFrom('ro', 'wo', 'rw' as const)
  const rule = fc.constantFrom('OneOfMany', 'AtMostOne', 'AnyOfMany' as const)
  const sw = fc.constantFrom('On', 'Off' as const)
  const num = fc.oneof(
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => String(d)),
    fc.constantFrom('10:30:00', '-0:30', '1e-06', '0', '45'),
  )
  const members = <T>(a: fc.Arbitrary<T>) => fc.array(a, { minLength: 1, maxLength: 20 })
  const defHead = {
    device: name,
    name,
    timestamp: o(text),
    message: o(text),
    label: o(text),
    group: o(text),
    state,
  }
  const setHead = { device: name, name, timestamp: o(text), message: o(text), state: o(state) }
  const newHead = { device: name, name, timestamp: o(text) }
  const blob = fc
    .record({
      name,
      // Buffers, as both decoders (XML and binary) return BLOB data as Buffer views.
      data: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
      format: fc.constantFrom('.fits', '.jpg', '.stream', '.bin'),
      enclen: o(fc.nat()),
      len: o(fc.nat()),
    })
    .map(({ data, ...rest }) => ({ ...rest, data, size: data.length }))
  const clean = <T extends object>(a: fc.Arbitrary<T>) =>
    a.map((v) => Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined)) as T)
  const rec = <T extends Record<string, unknown>>(
    tag: string,
    fields: { [K in keyof T]: fc.Arbitrary<T[K]> },
  ) => clean(fc.record({ tag: fc.constant(tag), ...fields } as never)) as unknown as fc.Arbitrary<IndiMessage>
  const defNumber = clean(
    fc.record({
      name,
      label: o(text),
      format: fc.constantFrom('%g', '%.3f', '%010.6m'),
      min: num,
      max: num,
      step: num,
      value: num,
    }),
  )
  const oneNumber = clean(fc.record({ name, value: num, min: o(num), max: o(num), step: o(num) }))
  return fc.oneof(
    rec('getProperties', { version: o(fc.constantFrom('1.7', '2.0')), device: o(name), name: o(name) }),
    rec('enableBLOB', { device: name, name: o(name), policy: fc.constantFrom('Never', 'Also', 'Only') }),
    rec('pingRequest', { uid: name }),
    rec('pingReply', { uid: name }),
    rec('defTextVector', {
      ...defHead,
      perm,
      timeout: o(num),
      members: members(clean(fc.record({ name, label: o(text), value: text }))),
    }),
    rec('defNumberVector', { ...defHead, perm, timeout: o(num), members: members(defNumber) }),
    rec('defSwitchVector', {
      ...defHead,
      perm,
      rule,
      timeout: o(num),
      members: members(clean(fc.record({ name, label: o(text), value: sw }))),
    }),
    rec('defLightVector', {
      ...defHead,
      members: members(clean(fc.record({ name, label: o(text), value: state }))),
    }),
    rec('defBLOBVector', {
      ...defHead,
      perm,
      timeout: o(num),
      members: members(clean(fc.record({ name, label: o(text) }))),
    }),
    rec('setTextVector', {
      ...setHead,
      timeout: o(num),
      members: members(clean(fc.record({ name, value: text }))),
    }),
    rec('setNumberVector', { ...setHead, timeout: o(num), members: members(oneNumber) }),
    rec('setSwitchVector', {
      ...setHead,
      timeout: o(num),
      members: members(clean(fc.record({ name, value: sw }))),
    }),
    rec('setLightVector', { ...setHead, members: members(clean(fc.record({ name, value: state }))) }),
    rec('setBLOBVector', { ...setHead, timeout: o(num), members: members(clean(blob)) }),
    rec('newTextVector', { ...newHead, members: members(clean(fc.record({ name, value: text }))) }),
    rec('newNumberVector', { ...newHead, members: members(oneNumber) }),
    rec('newSwitchVector', { ...newHead, members: members(clean(fc.record({ name, value: sw }))) }),
    rec('newBLOBVector', { ...newHead, members: members(clean(blob)) }),
    rec('message', { device: o(name), timestamp: o(text), message: o(text) }),
    rec('delProperty', { device: name, name: o(name), timestamp: o(text), message: o(text) }),
  )
}

/** Any Unicode text (the binary codec carries every string unchanged). */
export const anyText = fc.string({ unit: 'binary', maxLength: 40 })

/** Text that XML carries unchanged: no control characters, no leading or trailing space. */
export const xmlText = fc
  .string({ unit: fc.constantFrom(...'abcXYZ019 _.:+-&<>"\'°µ'.split('')), minLength: 1, maxLength: 24 })
  .map((s) => s.trim())
  .filter((s) => s.length > 0)

/** Names for XML: letters, digits, underscore, space inside. */
export const xmlName = fc
  .string({ unit: fc.constantFrom(...'abcXYZ019_ '.split('')), minLength: 1, maxLength: 16 })
  .map((s) => s.trim())
  .filter((s) => s.length > 0)
