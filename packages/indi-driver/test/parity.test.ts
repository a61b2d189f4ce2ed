import { IndiError } from '@indi-ts/indi-xml'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { BlobVector, LightVector, NumberVector, SwitchVector, TextVector } from '../src/index.js'
import { DEF_TEXT } from './expected.js'
import { makeDriver, type RawClient, start, xml } from './harness.js'

// Lines of indipydriver-parity.md that no other test file covers on its own (docs/parity.md).

const open: RawClient[] = []
afterEach(() => {
  vi.useRealTimers()
  for (const c of open.splice(0)) c.conn.destroy()
})

function code(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return IndiError.is(err) ? err.code : `not an IndiError: ${String(err)}`
  }
  return undefined
}

describe('parity: runtime guards behind the types (§3 member-type guard)', () => {
  it('refuses a text member whose value is not a string', () => {
    expect(code(() => new TextVector({ name: 'T', members: [{ name: 'a', value: 5 as never }] }))).toBe(
      'ERR_INDI_INVALID_VALUE',
    )
  })

  it('refuses a number member whose value is not a number or numeric text', () => {
    expect(code(() => new NumberVector({ name: 'N', members: [{ name: 'a', value: {} as never }] }))).toBe(
      'ERR_INDI_INVALID_VALUE',
    )
    expect(code(() => new NumberVector({ name: 'N', members: [{ name: 'a', value: Number.NaN }] }))).toBe(
      'ERR_INDI_INVALID_VALUE',
    )
  })

  it('refuses a switch or light member value from another kind', () => {
    expect(code(() => new SwitchVector({ name: 'S', members: [{ name: 'a', value: 'Ok' as never }] }))).toBe(
      'ERR_INDI_INVALID_VALUE',
    )
    expect(code(() => new LightVector({ name: 'L', members: [{ name: 'a', value: 'On' as never }] }))).toBe(
      'ERR_INDI_INVALID_VALUE',
    )
  })

  it('refuses BLOB data that is not bytes', () => {
    const v = new BlobVector({ name: 'B', members: [{ name: 'a' }] })
    expect(code(() => v.set('a', { data: 'text' as never, format: '.txt' }))).toBe('ERR_INDI_INVALID_VALUE')
  })
})

describe('parity: event-driven input (§8 latency)', () => {
  it('answers a getProperties with setTimeout and setInterval frozen, and arms no timer', async () => {
    // indipydriver polls stdin every 20 ms. With timers frozen nothing timer-driven can run, so an
    // answer proves the reply is driven by the arrival of bytes (output is flushed by setImmediate,
    // which stays real: that is coalescing, not polling).
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval', 'Date'] })
    const { client } = start(makeDriver())
    open.push(client)
    expect(await client.exchange(`<getProperties version='1.7' device='Dev' name='TEXT'/>`)).toBe(
      xml(DEF_TEXT),
    )
    expect(vi.getTimerCount()).toBe(0)
  })
})
