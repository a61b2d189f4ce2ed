import { IndiError } from './errors.js'
import {
  BLOB_POLICIES,
  PROPERTY_PERMS,
  PROPERTY_STATES,
  SWITCH_RULES,
  SWITCH_STATES,
  type SwitchState,
} from './model.js'

function guard<T extends string>(values: readonly T[], what: string) {
  return {
    is: (v: unknown): v is T => typeof v === 'string' && (values as readonly string[]).includes(v),
    assert: (v: unknown): T => {
      if (typeof v === 'string' && (values as readonly string[]).includes(v)) return v as T
      throw new IndiError(
        'ERR_INDI_INVALID_VALUE',
        `${what} must be one of ${values.join(', ')}; got ${JSON.stringify(v)}`,
      )
    },
  }
}

const state = guard(PROPERTY_STATES, 'property state')
const perm = guard(PROPERTY_PERMS, 'property perm')
const rule = guard(SWITCH_RULES, 'switch rule')
const sw = guard(SWITCH_STATES, 'switch state')
const policy = guard(BLOB_POLICIES, 'BLOB policy')

/** True for `Idle`, `Ok`, `Busy`, `Alert`. */
export const isPropertyState = state.is
/** Returns the value as a PropertyState; throws IndiError ERR_INDI_INVALID_VALUE otherwise. */
export const assertPropertyState = state.assert
/** True for `ro`, `wo`, `rw`. */
export const isPropertyPerm = perm.is
/** Returns the value as a PropertyPerm; throws IndiError ERR_INDI_INVALID_VALUE otherwise. */
export const assertPropertyPerm = perm.assert
/** True for `OneOfMany`, `AtMostOne`, `AnyOfMany`. */
export const isSwitchRule = rule.is
/** Returns the value as a SwitchRule; throws IndiError ERR_INDI_INVALID_VALUE otherwise. */
export const assertSwitchRule = rule.assert
/** True for `On`, `Off`. */
export const isSwitchState = sw.is
/** Returns the value as a SwitchState; throws IndiError ERR_INDI_INVALID_VALUE otherwise. */
export const assertSwitchState = sw.assert
/** True for `Never`, `Also`, `Only`. */
export const isBlobPolicy = policy.is
/** Returns the value as a BlobPolicy; throws IndiError ERR_INDI_INVALID_VALUE otherwise. */
export const assertBlobPolicy = policy.assert

/**
 * A switch member's content as libindi reads it (`crackISState`): anything starting with `On` is
 * On, exactly `Off` is Off (after trimming), anything else is undefined.
 */
export function crackSwitchState(text: string): SwitchState | undefined {
  if (text.startsWith('On')) return 'On'
  if (text === 'Off') return 'Off'
  return undefined
}
