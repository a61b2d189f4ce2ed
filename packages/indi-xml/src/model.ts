/**
 * The INDI 1.7 message model (plus libindi's pingRequest/pingReply), as plain data objects.
 *
 * This is the *wire* model: every value is what travels on the wire. Numbers inside number
 * vectors (`value`, `min`, `max`, `step`) and `timeout` are kept as the exact text received,
 * trimmed, because INDI numbers may be sexagesimal (`10:30:00`) and libindi writes `%.20g`;
 * convert with `parseIndiNumber` and write with `formatWireNumber`. Timestamps are INDI's UTC text
 * (`2026-11-24T01:09:21`); convert with `parseTimestamp` / `formatTimestamp`.
 * BLOB payloads are decoded bytes (`data`); `size` is the decoded (uncompressed for `.z`) size.
 *
 * Optional attributes are absent (`undefined`) when the element did not carry them, so a
 * parse → build → parse round trip is exact.
 */

/** `propertyState`: the state of a vector, and the value of a Light member. */
export type PropertyState = 'Idle' | 'Ok' | 'Busy' | 'Alert'
/** `propertyPerm`: a hint to clients of whether they may change the vector. */
export type PropertyPerm = 'ro' | 'wo' | 'rw'
/** `switchRule`: exactly one / at most one / any number of members On. */
export type SwitchRule = 'OneOfMany' | 'AtMostOne' | 'AnyOfMany'
/** `switchState`. */
export type SwitchState = 'On' | 'Off'
/** `BLOBenable`: the content of `enableBLOB`. Never is the default for every peer. */
export type BlobPolicy = 'Never' | 'Also' | 'Only'
/** The five kinds of vector. */
export type VectorKind = 'Text' | 'Number' | 'Switch' | 'Light' | 'BLOB'

export const PROPERTY_STATES: readonly PropertyState[] = ['Idle', 'Ok', 'Busy', 'Alert']
export const PROPERTY_PERMS: readonly PropertyPerm[] = ['ro', 'wo', 'rw']
export const SWITCH_RULES: readonly SwitchRule[] = ['OneOfMany', 'AtMostOne', 'AnyOfMany']
export const SWITCH_STATES: readonly SwitchState[] = ['On', 'Off']
export const BLOB_POLICIES: readonly BlobPolicy[] = ['Never', 'Also', 'Only']
export const VECTOR_KINDS: readonly VectorKind[] = ['Text', 'Number', 'Switch', 'Light', 'BLOB']

// ---------------------------------------------------------------- getProperties, enableBLOB, ping

/** C→S (and D→S as a snoop request): define everything matching. */
export interface GetProperties {
  readonly tag: 'getProperties'
  /** Protocol version. Required by the DTD; libindi drivers exit when it is absent or above 1.7. */
  version?: string
  device?: string
  name?: string
}

/** C→S (and D→S for snooped BLOBs): set the BLOB policy of this channel. */
export interface EnableBlob {
  readonly tag: 'enableBLOB'
  device: string
  name?: string
  policy: BlobPolicy
}

/** libindi ≥ 1.9.7: answer at once with a pingReply carrying the same uid. */
export interface PingRequest {
  readonly tag: 'pingRequest'
  uid: string
}
export interface PingReply {
  readonly tag: 'pingReply'
  uid: string
}

// ---------------------------------------------------------------- common vector attributes

interface VectorHead {
  device: string
  name: string
  timestamp?: string
  message?: string
}
interface DefHead extends VectorHead {
  label?: string
  group?: string
  state: PropertyState
}
interface SetHead extends VectorHead {
  /** Absent means unchanged. */
  state?: PropertyState
}

// ---------------------------------------------------------------- members

export interface DefText {
  name: string
  label?: string
  value: string
}
export interface DefNumber {
  name: string
  label?: string
  /** printf-style or `%<w>.<f>m`: a display hint only. */
  format: string
  min: string
  max: string
  step: string
  value: string
}
export interface DefSwitch {
  name: string
  label?: string
  value: SwitchState
}
export interface DefLight {
  name: string
  label?: string
  value: PropertyState
}
export interface DefBlob {
  name: string
  label?: string
}

export interface OneText {
  name: string
  value: string
}
export interface OneNumber {
  name: string
  value: string
  /** libindi extension (IUUpdateMinMax): a set may carry a new range. */
  min?: string
  max?: string
  step?: string
}
export interface OneSwitch {
  name: string
  value: SwitchState
}
export interface OneLight {
  name: string
  value: PropertyState
}
export interface OneBlob {
  name: string
  /** Decoded size in bytes (uncompressed size when format ends in `.z`); 0 means no data. */
  size: number
  /** A file suffix such as `.fits`; a trailing `.z` means zlib-compressed. */
  format: string
  /** Length of the base64 text (libindi extension), when given. */
  enclen?: number
  /** Byte length of an attached buffer (libindi ≥ 1.9.7 extension), when given. */
  len?: number
  /** The decoded payload. */
  data: Uint8Array
}

// ---------------------------------------------------------------- def*Vector (D→C)

export interface DefTextVector extends DefHead {
  readonly tag: 'defTextVector'
  perm: PropertyPerm
  timeout?: string
  members: DefText[]
}
export interface DefNumberVector extends DefHead {
  readonly tag: 'defNumberVector'
  perm: PropertyPerm
  timeout?: string
  members: DefNumber[]
}
export interface DefSwitchVector extends DefHead {
  readonly tag: 'defSwitchVector'
  perm: PropertyPerm
  rule: SwitchRule
  timeout?: string
  members: DefSwitch[]
}
export interface DefLightVector extends DefHead {
  readonly tag: 'defLightVector'
  members: DefLight[]
}
export interface DefBlobVector extends DefHead {
  readonly tag: 'defBLOBVector'
  perm: PropertyPerm
  timeout?: string
  members: DefBlob[]
}

// ---------------------------------------------------------------- set*Vector (D→C)

export interface SetTextVector extends SetHead {
  readonly tag: 'setTextVector'
  timeout?: string
  members: OneText[]
}
export interface SetNumberVector extends SetHead {
  readonly tag: 'setNumberVector'
  timeout?: string
  members: OneNumber[]
}
export interface SetSwitchVector extends SetHead {
  readonly tag: 'setSwitchVector'
  timeout?: string
  members: OneSwitch[]
}
export interface SetLightVector extends SetHead {
  readonly tag: 'setLightVector'
  members: OneLight[]
}
export interface SetBlobVector extends SetHead {
  readonly tag: 'setBLOBVector'
  timeout?: string
  members: OneBlob[]
}

// ---------------------------------------------------------------- new*Vector (C→S)

export interface NewTextVector {
  readonly tag: 'newTextVector'
  device: string
  name: string
  timestamp?: string
  members: OneText[]
}
export interface NewNumberVector {
  readonly tag: 'newNumberVector'
  device: string
  name: string
  timestamp?: string
  members: OneNumber[]
}
export interface NewSwitchVector {
  readonly tag: 'newSwitchVector'
  device: string
  name: string
  timestamp?: string
  members: OneSwitch[]
}
export interface NewBlobVector {
  readonly tag: 'newBLOBVector'
  device: string
  name: string
  timestamp?: string
  members: OneBlob[]
}

// ---------------------------------------------------------------- message, delProperty

/** D→C: free text; without `device` it is a global message. */
export interface Message {
  readonly tag: 'message'
  device?: string
  timestamp?: string
  message?: string
}

/** D→C: delete one property, or the whole device when `name` is absent. */
export interface DelProperty {
  readonly tag: 'delProperty'
  device: string
  name?: string
  timestamp?: string
  message?: string
}

// ---------------------------------------------------------------- unions

export type DefVector = DefTextVector | DefNumberVector | DefSwitchVector | DefLightVector | DefBlobVector
export type SetVector = SetTextVector | SetNumberVector | SetSwitchVector | SetLightVector | SetBlobVector
export type NewVector = NewTextVector | NewNumberVector | NewSwitchVector | NewBlobVector

/** Every INDI message. Discriminate on `tag`. */
export type IndiMessage =
  | GetProperties
  | EnableBlob
  | PingRequest
  | PingReply
  | DefVector
  | SetVector
  | NewVector
  | Message
  | DelProperty

export type IndiTag = IndiMessage['tag']

/** Every top-level tag this package knows. */
export const INDI_TAGS: readonly IndiTag[] = [
  'getProperties',
  'enableBLOB',
  'pingRequest',
  'pingReply',
  'defTextVector',
  'defNumberVector',
  'defSwitchVector',
  'defLightVector',
  'defBLOBVector',
  'setTextVector',
  'setNumberVector',
  'setSwitchVector',
  'setLightVector',
  'setBLOBVector',
  'newTextVector',
  'newNumberVector',
  'newSwitchVector',
  'newBLOBVector',
  'message',
  'delProperty',
]
