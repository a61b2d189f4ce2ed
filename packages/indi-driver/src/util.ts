import type { PropertyPerm, PropertyState, SwitchRule, SwitchState } from '@indi-ts/indi-xml'
import { IndiError, PROPERTY_PERMS, PROPERTY_STATES, SWITCH_RULES, SWITCH_STATES } from '@indi-ts/indi-xml'

// Names travel in attributes and in indi_getprop's `device.property.member` syntax; libindi copies
// them into 64-byte buffers (MAXINDINAME, protocol reference §1.1), so longer ones get truncated.
const MAX_NAME_BYTES = 63
const BAD_NAME = /[\u0000-\u001f\u007f<>&"']/

/** Throws ERR_INDI_INVALID_NAME unless `name` is a usable INDI device, vector or member name. */
export function checkName(name: unknown, what: string): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new IndiError('ERR_INDI_INVALID_NAME', `${what} name must be a non-empty string`)
  }
  if (BAD_NAME.test(name) || name.trim() !== name) {
    throw new IndiError(
      'ERR_INDI_INVALID_NAME',
      `${what} name ${JSON.stringify(name)} has control characters, XML markup or outer spaces`,
    )
  }
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) {
    throw new IndiError(
      'ERR_INDI_INVALID_NAME',
      `${what} name ${JSON.stringify(name)} is longer than ${MAX_NAME_BYTES} bytes (libindi truncates it)`,
    )
  }
  return name
}

function checkEnum<T extends string>(value: unknown, allowed: readonly T[], what: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new IndiError(
      'ERR_INDI_INVALID_VALUE',
      `${what} must be one of ${allowed.join(', ')}, not ${JSON.stringify(value)}`,
    )
  }
  return value as T
}

export const checkState = (v: unknown, what = 'state'): PropertyState => checkEnum(v, PROPERTY_STATES, what)
export const checkPerm = (v: unknown): PropertyPerm => checkEnum(v, PROPERTY_PERMS, 'perm')
export const checkRule = (v: unknown): SwitchRule => checkEnum(v, SWITCH_RULES, 'rule')
export const checkSwitch = (v: unknown, what = 'switch value'): SwitchState =>
  checkEnum(v, SWITCH_STATES, what)

/** Throws ERR_INDI_DUPLICATE when two items share a name. */
export function checkUnique(names: Iterable<string>, what: string): void {
  const seen = new Set<string>()
  for (const n of names) {
    if (seen.has(n)) throw new IndiError('ERR_INDI_DUPLICATE', `duplicate ${what} name ${JSON.stringify(n)}`)
    seen.add(n)
  }
}

/** A minimal typed event emitter: listeners may be async; `emit` returns their promises. */
export class Emitter<M extends { [K in keyof M]: (arg: never) => unknown }> {
  readonly #listeners = new Map<keyof M, Set<M[keyof M]>>()

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof M>(type: K, fn: M[K]): () => void {
    let set = this.#listeners.get(type)
    if (set === undefined) {
      set = new Set()
      this.#listeners.set(type, set)
    }
    set.add(fn)
    return () => this.off(type, fn)
  }

  off<K extends keyof M>(type: K, fn: M[K]): void {
    this.#listeners.get(type)?.delete(fn)
  }

  /** Number of listeners for `type`. */
  listenerCount(type: keyof M): number {
    return this.#listeners.get(type)?.size ?? 0
  }

  /** Calls every listener of `type` in order; collects the results (possibly promises). */
  protected emitAll<K extends keyof M>(type: K, arg: Parameters<M[K]>[0]): unknown[] {
    const set = this.#listeners.get(type)
    if (set === undefined || set.size === 0) return []
    const out: unknown[] = []
    for (const fn of [...set]) out.push((fn as unknown as (a: unknown) => unknown)(arg))
    return out
  }
}
