import { readFile } from 'node:fs/promises'
import type {
  DefBlobVector,
  DefLightVector,
  DefNumberVector,
  DefSwitchVector,
  DefTextVector,
  DefVector,
  IndiMessage,
  OneBlob,
  PropertyPerm,
  PropertyState,
  SetBlobVector,
  SetLightVector,
  SetNumberVector,
  SetSwitchVector,
  SetTextVector,
  SetVector,
  SwitchRule,
  SwitchState,
  VectorKind,
} from '@indi-ts/indi-xml'
import {
  escapeXml,
  formatNumber,
  formatTimestamp,
  formatWireNumber,
  IndiError,
  parseIndiNumber,
  parseTimestamp,
} from '@indi-ts/indi-xml'
import type { Device } from './device.js'
import type { NewBlobEvent, NewNumberEvent, NewSwitchEvent, NewTextEvent } from './events.js'
import type { RangePolicy, SendHost } from './host.js'
import type { OutMeta } from './peer.js'
import { checkName, checkPerm, checkRule, checkState, checkSwitch, checkUnique } from './util.js'

// ---------------------------------------------------------------- options

/** Attributes shared by every vector kind. */
export interface VectorOptions {
  /** The property name (≤ 63 bytes, no markup). */
  name: string
  /** GUI label; defaults to `name`. */
  label?: string
  /** GUI group (tab); default ''. */
  group?: string
  /** Initial state; default 'Idle'. */
  state?: PropertyState
  /** A disabled vector is not defined to clients and ignores input until `restore()`. Default true. */
  enabled?: boolean
  /**
   * Run client-event handlers for this vector concurrently instead of one at a time in arrival
   * order (opt-in; the default keeps order). Default false.
   */
  concurrent?: boolean
}

/** Attributes of the four client-settable kinds. */
export interface PermVectorOptions extends VectorOptions {
  /** Client permission hint; new* to an 'ro' vector is refused. Default 'rw'. */
  perm?: PropertyPerm
  /** Worst-case seconds for a change to take effect (0 = unknown). Default 0. */
  timeout?: number
}

export interface MemberOptions {
  name: string
  label?: string
}
export interface TextMemberOptions extends MemberOptions {
  value?: string
}
export interface NumberMemberOptions extends MemberOptions {
  /** printf-style (`%6.2f`) or sexagesimal (`%9.6m`) display format. Default '%g'. */
  format?: string
  min?: number
  max?: number
  step?: number
  /** A number, or text that parses with parseIndiNumber (`'10:30:00'`). Default 0. */
  value?: number | string
}
export interface SwitchMemberOptions extends MemberOptions {
  value?: SwitchState
}
export interface LightMemberOptions extends MemberOptions {
  value?: PropertyState
}
export interface BlobMemberOptions extends MemberOptions {
  /** Default BLOB format (file suffix such as '.fits'); inferred from a file path when unset. */
  format?: string
}

export interface TextVectorOptions extends PermVectorOptions {
  members: TextMemberOptions[]
}
export interface NumberVectorOptions extends PermVectorOptions {
  members: NumberMemberOptions[]
  /** Override of the driver's `numberRange` policy for incoming values. */
  range?: RangePolicy
}
export interface SwitchVectorOptions extends PermVectorOptions {
  /** Default 'AnyOfMany'. */
  rule?: SwitchRule
  members: SwitchMemberOptions[]
}
export interface LightVectorOptions extends VectorOptions {
  members: LightMemberOptions[]
}
export interface BlobVectorOptions extends PermVectorOptions {
  members: BlobMemberOptions[]
}

/** Options of `define()`. */
export interface DefineOptions {
  state?: PropertyState
  /** Free text shown by clients (≤ 254 bytes for libindi). */
  message?: string
  /** Default: now. A string must already be INDI's UTC form. */
  timestamp?: Date | string
  timeout?: number
  signal?: AbortSignal
}

/** Options of `send()` / `sendSet()`. */
export interface SendOptions extends DefineOptions {
  /** Send only members changed since the last send (still sends when state or message changed). */
  onlyChanged?: boolean
  /** Send only these members; an empty list sends a bare vector (state/message only). */
  members?: readonly string[]
}

/** A BLOB value: bytes, a file path, or either with explicit format and size. */
export type BlobInput =
  | Uint8Array
  | string
  | { data: Uint8Array; format?: string; size?: number }
  | { path: string; format?: string; size?: number }
  /** A Node Readable, a web ReadableStream or any async iterable of bytes, read when sent. */
  | { stream: AsyncIterable<Uint8Array>; format?: string; size?: number }

// ---------------------------------------------------------------- members

/** One member of a vector. Values are read and written through the vector. */
export abstract class Member<T> {
  readonly name: string
  readonly label: string
  /** True once the value changed (by a real change) since it was last sent. */
  changed = false
  /** @internal Cached `  <oneX name="…">` of this member. */
  _open: string | undefined
  protected _value: T
  constructor(opts: MemberOptions, value: T) {
    this.name = checkName(opts.name, 'member')
    this.label = opts.label ?? this.name
    this._value = value
  }
  get value(): T {
    return this._value
  }
}

export class TextMember extends Member<string> {
  constructor(opts: TextMemberOptions) {
    super(opts, opts.value ?? '')
    if (typeof this._value !== 'string') {
      throw new IndiError('ERR_INDI_INVALID_VALUE', `text member ${this.name} needs a string value`)
    }
  }
  /** @internal */
  _set(v: unknown): void {
    if (typeof v !== 'string')
      throw new IndiError('ERR_INDI_INVALID_VALUE', `${this.name}: text must be a string`)
    if (v !== this._value) {
      this._value = v
      this.changed = true
    }
  }
}

function toNumber(v: unknown, what: string): number {
  if (typeof v === 'number') {
    if (Number.isNaN(v)) throw new IndiError('ERR_INDI_INVALID_VALUE', `${what}: NaN is not an INDI number`)
    return v
  }
  if (typeof v === 'string') return parseIndiNumber(v)
  throw new IndiError('ERR_INDI_INVALID_VALUE', `${what}: expected a number, got ${typeof v}`)
}

export class NumberMember extends Member<number> {
  /** printf-style or `%<w>.<f>m` display format. */
  format: string
  min: number
  max: number
  step: number
  constructor(opts: NumberMemberOptions) {
    super(opts, toNumber(opts.value ?? 0, `number member ${opts.name}`))
    this.format = opts.format ?? '%g'
    this.min = toNumber(opts.min ?? 0, `${opts.name}.min`)
    this.max = toNumber(opts.max ?? 0, `${opts.name}.max`)
    this.step = toNumber(opts.step ?? 0, `${opts.name}.step`)
  }
  /** The value as a number (same as `value`). */
  get numeric(): number {
    return this._value
  }
  /** The value as clients display it, through `format` (formatNumber). */
  get formatted(): string {
    return formatNumber(this._value, this.format)
  }
  /** @internal */
  _set(v: unknown): void {
    const n = toNumber(v, this.name)
    if (!Object.is(n, this._value)) {
      this._value = n
      this.changed = true
    }
  }
}

export class SwitchMember extends Member<SwitchState> {
  constructor(opts: SwitchMemberOptions) {
    super(opts, checkSwitch(opts.value ?? 'Off', `switch member ${opts.name}`))
  }
  /** @internal */
  _set(v: unknown): void {
    const s = checkSwitch(v, `switch member ${this.name}`)
    if (s !== this._value) {
      this._value = s
      this.changed = true
    }
  }
}

export class LightMember extends Member<PropertyState> {
  constructor(opts: LightMemberOptions) {
    super(opts, checkState(opts.value ?? 'Idle', `light member ${opts.name}`))
  }
  /** @internal */
  _set(v: unknown): void {
    const s = checkState(v, `light member ${this.name}`)
    if (s !== this._value) {
      this._value = s
      this.changed = true
    }
  }
}

/** What a BLOB member holds until it is sent. */
export interface BlobValue {
  data?: Uint8Array
  path?: string
  stream?: AsyncIterable<Uint8Array>
  format?: string
  size?: number
}

/** Infer a BLOB format from a file name: `.fits`, and two suffixes for compressed `.fits.fz`, `.fits.z`. */
export function inferBlobFormat(path: string): string {
  const base = path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1)
  const parts = base.split('.')
  if (parts.length < 2) return ''
  const last = parts[parts.length - 1]!.toLowerCase()
  if ((last === 'z' || last === 'fz' || last === 'gz' || last === 'bz2') && parts.length >= 3) {
    return `.${parts[parts.length - 2]}.${last}`
  }
  return `.${last}`
}

export class BlobMember extends Member<BlobValue | undefined> {
  /** The format used when a value does not give one and no path suffix tells. */
  format: string
  constructor(opts: BlobMemberOptions) {
    super(opts, undefined)
    this.format = opts.format ?? ''
  }
  /** @internal */
  _set(v: unknown): void {
    let value: BlobValue
    if (v instanceof Uint8Array) value = { data: v }
    else if (typeof v === 'string') value = { path: v }
    else if (typeof v === 'object' && v !== null && ('data' in v || 'path' in v || 'stream' in v)) {
      const o = v as BlobValue
      if (o.data !== undefined && !(o.data instanceof Uint8Array)) {
        throw new IndiError('ERR_INDI_INVALID_VALUE', `${this.name}: BLOB data must be a Uint8Array`)
      }
      value = { ...o }
    } else {
      throw new IndiError(
        'ERR_INDI_INVALID_VALUE',
        `${this.name}: a BLOB is a Uint8Array, a file path or {data|path|stream}`,
      )
    }
    this._value = value
    this.changed = true
  }
  /** @internal Called after sending: the bytes are released so a driver does not pin old frames. */
  _clear(): void {
    this._value = undefined
    this.changed = false
  }
}

// ---------------------------------------------------------------- vectors

type Handler<E> = (event: E) => void | Promise<void>

/**
 * The common part of the five vector kinds: attributes, members, change tracking, definition,
 * deletion and sending. Values are read with `get` and written with `set` / `update`.
 */
export abstract class Vector<M extends Member<unknown>, V, VIn, E> {
  abstract readonly kind: VectorKind
  readonly name: string
  label: string
  group: string
  /** Handlers of client events for this vector run concurrently (see VectorOptions.concurrent). */
  concurrent: boolean
  #state: PropertyState
  #enabled: boolean
  /** @internal */ _device: Device<unknown> | undefined
  /** @internal Handlers registered with onNew. */ readonly _handlers = new Set<Handler<E>>()
  /** @internal Per-vector inbox tail: client events for one vector run in order. */ _tail: Promise<void> =
    Promise.resolve()
  /** @internal Events waiting in this vector's inbox. */ _pending = 0
  protected readonly _members: Map<string, M>
  protected _lastSentState: PropertyState | undefined

  constructor(opts: VectorOptions, members: M[]) {
    this.name = checkName(opts.name, 'vector')
    this.label = opts.label ?? this.name
    this.group = opts.group ?? ''
    this.#state = checkState(opts.state ?? 'Idle')
    this.#enabled = opts.enabled ?? true
    this.concurrent = opts.concurrent ?? false
    if (members.length === 0) {
      throw new IndiError('ERR_INDI_INVALID_VALUE', `vector ${this.name} needs at least one member`)
    }
    checkUnique(
      members.map((m) => m.name),
      `member of ${this.name}`,
    )
    this._members = new Map(members.map((m) => [m.name, m]))
    this._list = members
  }
  /** Members in order; members are fixed at construction, so one array serves every send. */
  protected readonly _list: readonly M[]

  /** The device this vector belongs to, once added. */
  get device(): Device<unknown> | undefined {
    return this._device
  }

  /** Current state; setting validates (ERR_INDI_INVALID_VALUE) and is sent with the next set. */
  get state(): PropertyState {
    return this.#state
  }
  set state(s: PropertyState) {
    this.#state = checkState(s)
  }

  /** False after `delete()` (or `enabled: false`): not defined to clients, input ignored. */
  get enabled(): boolean {
    return this.#enabled && (this._device?.enabled ?? true)
  }

  /** Members in definition order. */
  members(): M[] {
    return [...this._list]
  }

  /** The named member; ERR_INDI_UNKNOWN_MEMBER when the vector has none of that name. */
  member(name: string): M {
    const m = this._members.get(name)
    if (m === undefined) {
      throw new IndiError(
        'ERR_INDI_UNKNOWN_MEMBER',
        `vector ${this.name} has no member ${JSON.stringify(name)}`,
      )
    }
    return m
  }

  has(name: string): boolean {
    return this._members.has(name)
  }

  /** A member's value. */
  get(name: string): V {
    return this.member(name).value as V
  }

  /** Set one member (validated; marks it changed on a real change). */
  set(name: string, value: VIn): this {
    ;(this.member(name) as unknown as { _set(v: unknown): void })._set(value)
    return this
  }

  /** Set several members at once; all names are checked before any value changes. */
  update(values: Readonly<Record<string, VIn>> | ReadonlyMap<string, VIn>): this {
    const entries = values instanceof Map ? [...values.entries()] : Object.entries(values)
    for (const [n] of entries) this.member(n)
    for (const [n, v] of entries) this.set(n, v as VIn)
    return this
  }

  /** True when any member changed since last sent. */
  get changed(): boolean {
    for (const m of this._members.values()) if (m.changed) return true
    return false
  }

  /** Register a handler for client `new*` requests to this vector; returns an unsubscribe function. */
  onNew(fn: Handler<E>): () => void {
    this._handlers.add(fn)
    return () => this._handlers.delete(fn)
  }

  /** The def*Vector message for the current values. */
  abstract toDef(opts?: DefineOptions): DefVector

  /** The set*Vector message; clears nothing (send() does). */
  abstract toSet(opts?: SendOptions): SetVector

  protected get _host(): SendHost | undefined {
    return this._device?._host
  }

  protected _deviceName(): string {
    if (this._device === undefined) {
      throw new IndiError('ERR_INDI_NOT_RUNNING', `vector ${this.name} is not part of a device`)
    }
    return this._device.name
  }

  /** @internal Timestamp text for an outgoing message. */
  _timestamp(ts: Date | string | undefined): string {
    if (typeof ts === 'string') {
      parseTimestamp(ts) // throws ERR_INDI_TIMESTAMP on a bad one, before anything is queued
      return ts
    }
    if (ts === undefined && this._host !== undefined) return this._host.stamp()
    return formatTimestamp(ts ?? new Date())
  }

  protected _timeoutText(t: number | undefined, fallback: number): string {
    const v = t ?? fallback
    if (typeof v !== 'number' || !(v >= 0)) {
      throw new IndiError('ERR_INDI_INVALID_VALUE', `timeout must be a number of seconds ≥ 0`)
    }
    return formatWireNumber(v)
  }

  protected _applyState(opts: DefineOptions | undefined): void {
    if (opts?.state !== undefined) this.state = opts.state
  }

  /** Members selected by send options; undefined means "nothing to send" (onlyChanged, no change). */
  protected _select(opts: SendOptions | undefined): readonly M[] | undefined {
    if (opts?.members !== undefined) return opts.members.map((n) => this.member(n))
    if (opts?.onlyChanged) {
      const ms = this._list.filter((m) => m.changed)
      const stateChanged = this.#state !== this._lastSentState || opts.state !== undefined
      if (ms.length === 0 && !stateChanged && !opts.message) return undefined
      return ms
    }
    return this._list
  }

  /** @internal Marks members sent. */
  protected _sent(members: readonly M[]): void {
    for (const m of members) m.changed = false
    this._lastSentState = this.#state
  }

  /**
   * Send def*Vector to clients (current values). Resolves true on hand-off to the writer queue,
   * false when the driver is not running or the vector is disabled. Waits while the queue is full.
   */
  async define(opts?: DefineOptions): Promise<boolean> {
    const host = this._host
    if (host === undefined || !host.running || !this.enabled) return false
    const msg = this.toDef(opts)
    for (const m of this._members.values()) m.changed = false
    this._lastSentState = this.#state
    return host.queue(msg, opts?.signal)
  }

  /**
   * Send set*Vector. By default every member; `onlyChanged` sends changed members (nothing at all
   * when neither values, state nor message changed, resolving true); `members` names them (an
   * empty list sends a bare vector). Resolves on hand-off to the bounded writer queue (waiting
   * while it is full); false when not running or disabled.
   */
  sendSet(opts?: SendOptions): Promise<boolean> {
    // Not async: bad arguments (timestamp, state) throw synchronously, before anything is queued.
    const host = this._host
    if (host === undefined || !host.running || !this.enabled) return Promise.resolve(false)
    this._applyState(opts)
    const ms = this._select(opts)
    if (ms === undefined) return Promise.resolve(true)
    const text = this._setText(ms, opts)
    this._sent(ms)
    return host.queueText(text, this._outMeta(), opts?.signal)
  }

  /**
   * Synchronous fast path of `sendSet` for tight loops: true when queued; false when not queued
   * (not running, disabled, or the writer queue is full: then `await sendSet()` instead). Nothing
   * changes (state, changed flags) when it returns false.
   */
  trySendSet(opts?: SendOptions): boolean {
    const host = this._host
    if (host === undefined || !host.running || !this.enabled || host.full) return false
    this._applyState(opts)
    const ms = this._select(opts)
    if (ms === undefined) return true
    host.pushText(this._setText(ms, opts), this._outMeta())
    this._sent(ms)
    return true
  }

  /** `sendSet` under its short name. */
  send(opts?: SendOptions): Promise<boolean> {
    return this.sendSet(opts)
  }

  #setPrefix: string | undefined
  #meta: OutMeta | undefined
  /** @internal Routing facts of this vector's set* messages (one shared object: no per-send allocation). */
  _outMeta(): OutMeta {
    if (this.#meta === undefined) {
      this.#meta = { blob: false, device: this._deviceName(), name: this.name, target: undefined }
    }
    return this.#meta
  }

  /** Members in wire order (switches put Off before On). */
  protected _ordered(ms: readonly M[]): readonly M[] {
    return ms
  }

  /** One member element of a set*, as the builder writes it. */
  protected abstract _oneText(m: M): string

  /**
   * The set* element as text, byte-identical to `buildMessage(this.toSet(opts))` (a property test
   * checks this). Building text directly — the escaped `<setXVector device= name=` prefix and each
   * member's open tag cached — doubled the throughput of bench/emit.mjs over building a message
   * object for the generic builder.
   */
  _setText(ms: readonly M[], opts: SendOptions | undefined): string {
    const tag = this._setTag
    if (this.#setPrefix === undefined) {
      this.#setPrefix = `<${tag} device="${escapeXml(this._deviceName())}" name="${escapeXml(this.name)}"`
    }
    let s = `${this.#setPrefix} state="${this.state}"`
    if (tag !== 'setLightVector') s += ` timeout="${this._cachedTimeout(opts)}"`
    // A timestamp is digits, '-', ':', 'T' and '.' (validated when given as text): nothing to escape.
    s += ` timestamp="${this._timestamp(opts?.timestamp)}"`
    if (opts?.message !== undefined) s += ` message="${escapeXml(opts.message)}"`
    s += '>\n'
    for (const m of this._ordered(ms)) s += this._oneText(m)
    return `${s}</${tag}>\n`
  }

  protected abstract readonly _setTag: SetVector['tag']

  protected _cachedTimeout(_opts: SendOptions | undefined): string {
    return ''
  }

  /**
   * Remove this vector from clients: disables it and sends delProperty. Resolves false when not
   * running (it is still disabled).
   */
  async delete(opts?: {
    message?: string
    timestamp?: Date | string
    signal?: AbortSignal
  }): Promise<boolean> {
    this.#enabled = false
    const host = this._host
    if (host === undefined || !host.running || this._device?.enabled === false) return false
    const msg: IndiMessage = {
      tag: 'delProperty',
      device: this._deviceName(),
      name: this.name,
      timestamp: this._timestamp(opts?.timestamp),
      ...(opts?.message !== undefined ? { message: opts.message } : {}),
    }
    return host.queue(msg, opts?.signal)
  }

  /** Enable again and send the definition (a libindi client needs delProperty before a changed def). */
  async restore(opts?: DefineOptions): Promise<boolean> {
    this.#enabled = true
    return this.define(opts)
  }

  /** @internal For device.delete()/restore() bookkeeping without sending. */
  _setEnabled(v: boolean): void {
    this.#enabled = v
  }
  /** @internal The vector's own flag, ignoring the device. */
  get _ownEnabled(): boolean {
    return this.#enabled
  }

  protected _head(opts: DefineOptions | undefined): {
    device: string
    name: string
    timestamp: string
    message?: string
  } {
    return {
      device: this._deviceName(),
      name: this.name,
      timestamp: this._timestamp(opts?.timestamp),
      ...(opts?.message !== undefined ? { message: opts.message } : {}),
    }
  }
}

abstract class PermVector<M extends Member<unknown>, V, VIn, E> extends Vector<M, V, VIn, E> {
  perm: PropertyPerm
  timeout: number
  constructor(opts: PermVectorOptions, members: M[]) {
    super(opts, members)
    this.perm = checkPerm(opts.perm ?? 'rw')
    this.timeout = opts.timeout ?? 0
    if (typeof this.timeout !== 'number' || !(this.timeout >= 0)) {
      throw new IndiError(
        'ERR_INDI_INVALID_VALUE',
        `vector ${this.name}: timeout must be a number of seconds ≥ 0`,
      )
    }
  }
  protected _defHead(opts: DefineOptions | undefined) {
    this._applyState(opts)
    if (opts?.timeout !== undefined) this.timeout = opts.timeout
    return {
      ...this._head(opts),
      label: this.label,
      group: this.group,
      state: this.state,
      perm: this.perm,
      timeout: this._timeoutText(this.timeout, 0),
    }
  }
  #timeoutNum = Number.NaN
  #timeoutStr = ''
  /**
   * A set*Vector built in one object literal: spreading a head object here cost a quarter of the
   * send path in bench/emit.mjs (profiled), so the hot path avoids it.
   */
  protected override _cachedTimeout(opts: SendOptions | undefined): string {
    if (opts?.timeout !== undefined) return this._timeoutText(opts.timeout, 0)
    if (this.timeout !== this.#timeoutNum) {
      this.#timeoutStr = this._timeoutText(this.timeout, 0)
      this.#timeoutNum = this.timeout
    }
    return this.#timeoutStr
  }
  protected _setMsg<T extends SetVector['tag'], Mem>(tag: T, members: Mem[], opts: SendOptions | undefined) {
    const timeout = this._cachedTimeout(opts)
    const device = this._deviceName()
    const timestamp = this._timestamp(opts?.timestamp)
    return opts?.message !== undefined
      ? {
          tag,
          device,
          name: this.name,
          timestamp,
          message: opts.message,
          state: this.state,
          timeout,
          members,
        }
      : { tag, device, name: this.name, timestamp, state: this.state, timeout, members }
  }
}

/** A vector of text members. */
export class TextVector extends PermVector<TextMember, string, string, NewTextEvent> {
  readonly kind = 'Text' as const
  protected readonly _setTag = 'setTextVector' as const
  protected _oneText(m: TextMember): string {
    m._open ??= `  <oneText name="${escapeXml(m.name)}">`
    return `${m._open}${escapeXml(m.value)}</oneText>\n`
  }

  constructor(opts: TextVectorOptions) {
    super(
      opts,
      (opts.members ?? []).map((m) => new TextMember(m)),
    )
  }
  toDef(opts?: DefineOptions): DefTextVector {
    return {
      tag: 'defTextVector',
      ...this._defHead(opts),
      members: this.members().map((m) => ({ name: m.name, label: m.label, value: m.value })),
    }
  }
  toSet(opts?: SendOptions): SetTextVector {
    return this._buildSet(this._select(opts) ?? [], opts)
  }
  protected _buildSet(ms: readonly TextMember[], opts: SendOptions | undefined): SetTextVector {
    return this._setMsg(
      'setTextVector',
      ms.map((m) => ({ name: m.name, value: m.value })),
      opts,
    )
  }
}

/** A vector of number members (values are numbers; the wire text is written round-trip exact). */
export class NumberVector extends PermVector<NumberMember, number, number | string, NewNumberEvent> {
  readonly kind = 'Number' as const
  protected readonly _setTag = 'setNumberVector' as const
  protected _oneText(m: NumberMember): string {
    m._open ??= `  <oneNumber name="${escapeXml(m.name)}">`
    // Wire numbers are digits, sign, '.', 'e', or nan/inf: nothing to escape.
    return `${m._open}${formatWireNumber(m.value)}</oneNumber>\n`
  }

  /** Incoming-range policy for this vector; undefined uses the driver's. */
  range: RangePolicy | undefined
  constructor(opts: NumberVectorOptions) {
    super(
      opts,
      (opts.members ?? []).map((m) => new NumberMember(m)),
    )
    if (opts.range !== undefined && !['accept', 'clamp', 'reject'].includes(opts.range)) {
      throw new IndiError('ERR_INDI_INVALID_VALUE', `range must be accept, clamp or reject`)
    }
    this.range = opts.range
  }
  /** A member's value formatted with its display format. */
  formatted(name: string): string {
    return this.member(name).formatted
  }
  toDef(opts?: DefineOptions): DefNumberVector {
    return {
      tag: 'defNumberVector',
      ...this._defHead(opts),
      members: this.members().map((m) => ({
        name: m.name,
        label: m.label,
        format: m.format,
        min: formatWireNumber(m.min),
        max: formatWireNumber(m.max),
        step: formatWireNumber(m.step),
        value: formatWireNumber(m.value),
      })),
    }
  }
  toSet(opts?: SendOptions): SetNumberVector {
    return this._buildSet(this._select(opts) ?? [], opts)
  }
  protected _buildSet(ms: readonly NumberMember[], opts: SendOptions | undefined): SetNumberVector {
    const members = new Array(ms.length)
    for (let i = 0; i < ms.length; i++) {
      const m = ms[i]!
      members[i] = { name: m.name, value: formatWireNumber(m.value) }
    }
    return this._setMsg('setNumberVector', members, opts)
  }
}

/** A vector of On/Off switches with a rule (enforced on client input). */
export class SwitchVector extends PermVector<SwitchMember, SwitchState, SwitchState, NewSwitchEvent> {
  readonly kind = 'Switch' as const
  protected readonly _setTag = 'setSwitchVector' as const
  protected _oneText(m: SwitchMember): string {
    m._open ??= `  <oneSwitch name="${escapeXml(m.name)}">`
    return `${m._open}${m.value}</oneSwitch>\n`
  }
  // Off before On: a client applying members one by one never sees two On in a OneOfMany.
  protected override _ordered(ms: readonly SwitchMember[]): readonly SwitchMember[] {
    return [...ms.filter((m) => m.value === 'Off'), ...ms.filter((m) => m.value === 'On')]
  }

  rule: SwitchRule
  constructor(opts: SwitchVectorOptions) {
    super(
      opts,
      (opts.members ?? []).map((m) => new SwitchMember(m)),
    )
    this.rule = checkRule(opts.rule ?? 'AnyOfMany')
  }
  /** Names of the members that are On. */
  on(): string[] {
    return this.members()
      .filter((m) => m.value === 'On')
      .map((m) => m.name)
  }
  toDef(opts?: DefineOptions): DefSwitchVector {
    const head = this._defHead(opts)
    return {
      tag: 'defSwitchVector',
      ...head,
      rule: this.rule,
      members: this.members().map((m) => ({ name: m.name, label: m.label, value: m.value })),
    }
  }
  toSet(opts?: SendOptions): SetSwitchVector {
    return this._buildSet(this._select(opts) ?? [], opts)
  }
  protected _buildSet(ms: readonly SwitchMember[], opts: SendOptions | undefined): SetSwitchVector {
    const ordered = this._ordered(ms)
    return this._setMsg(
      'setSwitchVector',
      ordered.map((m) => ({ name: m.name, value: m.value })),
      opts,
    )
  }
}

/** A read-only vector of lights (states). */
export class LightVector extends Vector<LightMember, PropertyState, PropertyState, never> {
  readonly kind = 'Light' as const
  protected readonly _setTag = 'setLightVector' as const
  protected _oneText(m: LightMember): string {
    m._open ??= `  <oneLight name="${escapeXml(m.name)}">`
    return `${m._open}${m.value}</oneLight>\n`
  }

  constructor(opts: LightVectorOptions) {
    super(
      opts,
      (opts.members ?? []).map((m) => new LightMember(m)),
    )
  }
  toDef(opts?: DefineOptions): DefLightVector {
    this._applyState(opts)
    return {
      tag: 'defLightVector',
      ...this._head(opts),
      label: this.label,
      group: this.group,
      state: this.state,
      members: this.members().map((m) => ({ name: m.name, label: m.label, value: m.value })),
    }
  }
  toSet(opts?: SendOptions): SetLightVector {
    return this._buildSet(this._select(opts) ?? [], opts)
  }
  protected _buildSet(ms: readonly LightMember[], opts: SendOptions | undefined): SetLightVector {
    return {
      tag: 'setLightVector',
      ...this._head(opts),
      state: this.state,
      members: ms.map((m) => ({ name: m.name, value: m.value })),
    }
  }
}

/**
 * A vector of BLOB members. Set values with `set(member, bytes | path | {data|path, format, size})`
 * and `send()`; a sent value is released. Members without a value are not sent (so a send with
 * none is a bare setBLOBVector: a state change only).
 */
export class BlobVector extends PermVector<BlobMember, BlobValue | undefined, BlobInput, NewBlobEvent> {
  readonly kind = 'BLOB' as const
  protected readonly _setTag = 'setBLOBVector' as const
  protected _oneText(): string {
    throw new IndiError('ERR_INDI_INVALID_VALUE', 'BLOB vectors are streamed by sendSet()')
  }

  constructor(opts: BlobVectorOptions) {
    super(
      opts,
      (opts.members ?? []).map((m) => new BlobMember(m)),
    )
  }
  toDef(opts?: DefineOptions): DefBlobVector {
    return {
      tag: 'defBLOBVector',
      ...this._defHead(opts),
      members: this.members().map((m) => ({ name: m.name, label: m.label })),
    }
  }
  /** The setBLOBVector head with members whose bytes are in memory (paths are not read here). */
  toSet(opts?: SendOptions): SetBlobVector {
    const ms = (this._select(opts) ?? []).filter((m) => m.value?.data !== undefined)
    return this._setMsg(
      'setBLOBVector',
      ms.map((m) => blobOne(m, m.value!.data!, m.value!)),
      opts,
    )
  }
  protected _buildSet(): SetVector {
    throw new IndiError('ERR_INDI_INVALID_VALUE', 'BLOB vectors are sent with send()/sendSet()')
  }

  /** BLOBs are streamed (and may read files), so there is no synchronous path. */
  override trySendSet(): boolean {
    return false
  }

  /**
   * Send setBLOBVector: reads file paths, sets size and format, streams base64 piece by piece,
   * then (when the driver's `blobPing` is on) sends pingRequest and waits for its reply before the
   * next BLOB goes out. Resolves false when not running or disabled.
   */
  override async sendSet(opts?: SendOptions): Promise<boolean> {
    const host = this._host
    if (host === undefined || !host.running || !this.enabled) return false
    this._applyState(opts)
    const selected = this._select(opts) ?? []
    const withValue = selected.filter((m) => m.value !== undefined)
    const members: OneBlob[] = []
    for (const m of withValue) {
      const v = m.value!
      const data = v.data ?? (v.path !== undefined ? await readFile(v.path) : await readAll(v.stream!))
      members.push(blobOne(m, data, v))
    }
    const msg: SetBlobVector = this._setMsg('setBLOBVector', members, opts)
    for (const m of withValue) m._clear()
    this._lastSentState = this.state
    return host.queueBlob(msg, opts?.signal)
  }
}

/** Reads a byte stream to the end (the BLOB's `size` and `enclen` are needed before it is written). */
async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const p of stream) parts.push(p)
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts)
}

function blobOne(m: BlobMember, data: Uint8Array, v: BlobValue): OneBlob {
  const format = v.format ?? (v.path !== undefined ? inferBlobFormat(v.path) : '') ?? ''
  return {
    name: m.name,
    // For `.z` formats `size` is the uncompressed size, which only the caller knows (protocol §1.3).
    size: v.size ?? data.length,
    format: format || m.format,
    data,
  }
}

/** Any of the five vector kinds. */
export type AnyVector = TextVector | NumberVector | SwitchVector | LightVector | BlobVector
