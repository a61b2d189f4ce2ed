import type { Message } from '@indi-ts/indi-xml'
import { describe, expect, it } from 'vitest'
import type { NewNumberEvent, RejectedEvent } from '../src/index.js'
import { makeDriver, start, TS, xml } from './harness.js'

/** The refusal the driver sends: a message to the device saying why. */
const refusal = (name: string, reason: string): Message => ({
  tag: 'message',
  device: 'Dev',
  timestamp: TS,
  message: `[ERROR] ${name}: ${reason}`,
})

function setup(options: Parameters<typeof makeDriver>[0] = {}) {
  const s = start(makeDriver(options))
  const rejected: RejectedEvent[] = []
  const accepted: unknown[] = []
  s.driver.on('rejected', (e) => {
    rejected.push(e)
  })
  s.driver.on('newVector', (e) => {
    accepted.push(e)
  })
  return { ...s, rejected, accepted }
}

describe('refused client input', () => {
  it('refuses new* to a read-only vector with a message, keeping the vector state', async () => {
    const { client, driver, rejected, accepted } = setup()
    const d = driver.dev
    d.number('NUM').perm = 'ro'
    const out = await client.exchange(
      `<newNumberVector device='Dev' name='NUM'><oneNumber name='X'>1</oneNumber></newNumberVector>`,
    )
    expect(out).toBe(xml(refusal('NUM', 'NUM is read-only')))
    expect(rejected.map((r) => r.reason)).toEqual(['NUM is read-only'])
    expect(accepted).toEqual([])
    expect(d.number('NUM').state).toBe('Idle')
    expect(d.number('NUM').get('X')).toBe(1.5)
    expect(driver.stats.rejected).toBe(1)
  })

  it('refuses an unknown member', async () => {
    const { client, accepted } = setup()
    const out = await client.exchange(
      `<newNumberVector device='Dev' name='NUM'><oneNumber name='Z'>1</oneNumber></newNumberVector>`,
    )
    expect(out).toBe(xml(refusal('NUM', 'NUM has no member Z')))
    expect(accepted).toEqual([])
  })

  it('refuses a number that does not parse', async () => {
    const { client, accepted } = setup()
    const out = await client.exchange(
      `<newNumberVector device='Dev' name='NUM'><oneNumber name='X'>abc</oneNumber></newNumberVector>`,
    )
    expect(out).toBe(xml(refusal('NUM', 'X: "abc" is not a number')))
    expect(accepted).toEqual([])
  })

  it('refuses a switch value that is not On or Off', async () => {
    const { client, accepted, rejected } = setup()
    const out = await client.exchange(
      `<newSwitchVector device='Dev' name='SW'><oneSwitch name='A'>Maybe</oneSwitch></newSwitchVector>`,
    )
    expect(rejected).toHaveLength(1)
    expect(rejected[0]!.tag).toBe('newSwitchVector')
    expect(out).toContain('[ERROR] SW: ')
    expect(accepted).toEqual([])
  })

  it('refuses a OneOfMany request with two members On', async () => {
    const { client, accepted } = setup()
    const out = await client.exchange(
      `<newSwitchVector device='Dev' name='SW'><oneSwitch name='A'>On</oneSwitch><oneSwitch name='B'>On</oneSwitch></newSwitchVector>`,
    )
    expect(out).toBe(xml(refusal('SW', 'OneOfMany allows one member On, the request has A, B')))
    expect(accepted).toEqual([])
  })

  it('refuses a OneOfMany request that leaves no member On', async () => {
    const { client, accepted } = setup()
    const out = await client.exchange(
      `<newSwitchVector device='Dev' name='SW'><oneSwitch name='A'>Off</oneSwitch></newSwitchVector>`,
    )
    expect(out).toBe(xml(refusal('SW', 'OneOfMany needs exactly one member On')))
    expect(accepted).toEqual([])
  })

  it('refuses an AtMostOne request with two members On, and accepts all Off', async () => {
    const { client, driver, accepted } = setup()
    driver.dev.switch('SW').rule = 'AtMostOne'
    const out = await client.exchange(
      `<newSwitchVector device='Dev' name='SW'><oneSwitch name='B'>On</oneSwitch><oneSwitch name='C'>On</oneSwitch></newSwitchVector>`,
    )
    expect(out).toBe(xml(refusal('SW', 'AtMostOne allows one member On, the request has B, C')))
    await client.exchange(
      `<newSwitchVector device='Dev' name='SW'><oneSwitch name='A'>Off</oneSwitch></newSwitchVector>`,
    )
    expect(accepted).toHaveLength(1)
  })

  it('refuses a kind mismatch (newNumberVector aimed at a switch vector)', async () => {
    const { client, accepted } = setup()
    const out = await client.exchange(
      `<newNumberVector device='Dev' name='SW'><oneNumber name='A'>1</oneNumber></newNumberVector>`,
    )
    expect(out).toBe(xml(refusal('SW', 'SW is a Switch vector; newNumberVector does not apply')))
    expect(accepted).toEqual([])
  })

  it('refuses a new* aimed at a light vector (lights are read-only by definition)', async () => {
    const { client } = setup()
    const out = await client.exchange(
      `<newSwitchVector device='Dev' name='LIGHT'><oneSwitch name='L1'>On</oneSwitch></newSwitchVector>`,
    )
    expect(out).toBe(xml(refusal('LIGHT', 'LIGHT is a Light vector; newSwitchVector does not apply')))
  })

  it("accepts numbers outside the range by default ('accept')", async () => {
    const { client, driver } = setup()
    const got: NewNumberEvent[] = []
    driver.on('newNumberVector', (e) => {
      got.push(e)
    })
    await client.exchange(
      `<newNumberVector device='Dev' name='NUM'><oneNumber name='X'>150</oneNumber></newNumberVector>`,
    )
    expect(got[0]!.values.get('X')).toBe(150)
  })

  it("clamps numbers into [min, max] with numberRange 'clamp'", async () => {
    const { client, driver } = setup({ numberRange: 'clamp' })
    const got: NewNumberEvent[] = []
    driver.on('newNumberVector', (e) => {
      got.push(e)
    })
    await client.exchange(
      `<newNumberVector device='Dev' name='NUM'><oneNumber name='X'>150</oneNumber><oneNumber name='Y'>-100</oneNumber></newNumberVector>`,
    )
    expect([...got[0]!.values]).toEqual([
      ['X', 100],
      ['Y', -90],
    ])
  })

  it("refuses numbers outside [min, max] with numberRange 'reject'", async () => {
    const { client, accepted } = setup({ numberRange: 'reject' })
    const out = await client.exchange(
      `<newNumberVector device='Dev' name='NUM'><oneNumber name='X'>150</oneNumber></newNumberVector>`,
    )
    expect(out).toBe(xml(refusal('NUM', 'X: 150 is outside [0, 100]')))
    expect(accepted).toEqual([])
  })

  it('ignores the range when min == max', async () => {
    const d = makeDriver({ numberRange: 'reject' })
    d.other.number('POS').perm = 'rw'
    const { client } = start(d)
    const got: NewNumberEvent[] = []
    d.on('newNumberVector', (e) => {
      got.push(e)
    })
    await client.exchange(
      `<newNumberVector device='Other Device' name='POS'><oneNumber name='P'>1e6</oneNumber></newNumberVector>`,
    )
    expect(got[0]!.values.get('P')).toBe(1e6)
  })

  it('a per-vector range policy overrides the driver option', async () => {
    const d = makeDriver({ numberRange: 'reject' })
    d.dev.number('NUM').range = 'clamp'
    const { client } = start(d)
    const got: NewNumberEvent[] = []
    d.on('newNumberVector', (e) => {
      got.push(e)
    })
    await client.exchange(
      `<newNumberVector device='Dev' name='NUM'><oneNumber name='X'>-5</oneNumber></newNumberVector>`,
    )
    expect(got[0]!.values.get('X')).toBe(0)
  })

  it('never throws past the framework on malformed input and keeps running', async () => {
    const { client, driver } = setup()
    await client.exchange(
      `<newNumberVector device='Dev' name='NUM'><oneNumber name='X'>1</oneNumber><bad attr=x/>`,
    )
    await client.exchange(`<garbage/><newTextVector device='Dev'/>`)
    expect(driver.running).toBe(true)
    expect(await client.exchange(`<getProperties version='1.7' device='Other Device'/>`)).toContain('POS')
  })

  it('refuses an uploaded BLOB whose size does not match its decoded bytes', async () => {
    const d = makeDriver()
    d.dev.blob('BLOB').perm = 'rw'
    const { client } = start(d)
    const accepted: unknown[] = []
    d.on('newVector', (e) => {
      accepted.push(e)
    })
    const data = Buffer.from('12345678').toString('base64')
    const out = await client.exchange(
      `<newBLOBVector device='Dev' name='BLOB'><oneBLOB name='B1' size='10' format='.bin'>${data}</oneBLOB></newBLOBVector>`,
    )
    expect(out).toBe(xml(refusal('BLOB', 'B1: size 10 does not match the 8 decoded bytes')))
    expect(accepted).toEqual([])
  })
})
