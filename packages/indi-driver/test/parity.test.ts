import { IndiError } from '@indi-ts/indi-xml'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  BlobVector,
  type DriverErrorEvent,
  LightVector,
  NumberVector,
  SwitchVector,
  TextVector,
  withRestarts,
} from '../src/index.js'
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

describe('parity: restart policy for background tasks (§2 background tasks)', () => {
  it('runs a failing spawned task again until it returns, with no error event', async () => {
    const d = makeDriver()
    const errors: DriverErrorEvent[] = []
    d.on('error', (e) => {
      errors.push(e)
    })
    const { client } = start(d)
    open.push(client)
    let runs = 0
    const restarts: number[] = []
    let done!: () => void
    const finished = new Promise<void>((r) => {
      done = r
    })
    d.spawn(
      withRestarts(
        async () => {
          runs++
          if (runs < 3) throw new Error(`run ${runs} broke`)
          done()
        },
        { minDelayMs: 1, onRestart: (_e, n) => restarts.push(n) },
      ),
    )
    await finished
    expect(runs).toBe(3)
    expect(restarts).toEqual([1, 2])
    expect(errors).toEqual([])
  })

  it('gives up after its restarts and the driver reports the last error as an error event', async () => {
    const d = makeDriver()
    const { client } = start(d)
    open.push(client)
    const failed = new Promise<DriverErrorEvent>((r) => d.on('error', (e) => r(e)))
    let runs = 0
    d.spawn(
      withRestarts(
        async () => {
          runs++
          throw new Error(`run ${runs} broke`)
        },
        { restarts: 2, minDelayMs: 1 },
      ),
    )
    const e = await failed
    expect(runs).toBe(3)
    expect([e.where, (e.error as Error).message]).toEqual(['task', 'run 3 broke'])
    expect(d.running).toBe(true)
  })

  it('ends quietly when the signal aborts during the backoff, leaving no timer', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const ac = new AbortController()
    let failedOnce!: () => void
    const waiting = new Promise<void>((r) => {
      failedOnce = r
    })
    const task = withRestarts(
      async () => {
        throw new Error('broke')
      },
      { minDelayMs: 60_000, onRestart: () => failedOnce() },
    )(ac.signal)
    await waiting
    expect(vi.getTimerCount()).toBe(1)
    ac.abort()
    await expect(task).resolves.toBeUndefined()
    expect(vi.getTimerCount()).toBe(0)
  })
})
