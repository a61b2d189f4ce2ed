import { getEventListeners } from 'node:events'
import { IndiError } from '@indi-ts/indi-xml'
import { connectionPair } from '@indi-ts/transport'
import { describe, expect, it } from 'vitest'
import { Device, Driver, NumberVector, silentLogger } from '../src/index.js'
import { DEF_NUM, DEF_POS, DEF_TEXT } from './expected.js'
import { makeDriver, NOW, start, TS, xml } from './harness.js'

function setup() {
  return start(makeDriver())
}

const setNum = (x: string, y: string, extra: Record<string, unknown> = {}) => ({
  tag: 'setNumberVector' as const,
  device: 'Dev',
  name: 'NUM',
  timestamp: TS,
  state: 'Idle' as const,
  timeout: '5',
  members: [
    { name: 'X', value: x },
    { name: 'Y', value: y },
  ],
  ...extra,
})

describe('sending', () => {
  it('sendSet sends every member with state and timestamp', async () => {
    const { client, driver } = setup()
    expect(await driver.dev.number('NUM').sendSet()).toBe(true)
    expect(await client.exchange('')).toBe(xml(setNum('1.5', '-0.5')))
  })

  it('sendSet takes state, message, timestamp and timeout', async () => {
    const { client, driver } = setup()
    await driver.dev
      .number('NUM')
      .sendSet({ state: 'Busy', message: 'moving', timestamp: '2025-05-05T01:02:03', timeout: 9 })
    expect(await client.exchange('')).toBe(
      xml(
        setNum('1.5', '-0.5', {
          state: 'Busy',
          message: 'moving',
          timestamp: '2025-05-05T01:02:03',
          timeout: '9',
        }),
      ),
    )
    expect(driver.dev.number('NUM').state).toBe('Busy')
  })

  it('onlyChanged sends only changed members', async () => {
    const { client, driver } = setup()
    const v = driver.dev.number('NUM')
    await v.sendSet()
    v.set('Y', 2)
    await v.sendSet({ onlyChanged: true })
    expect(await client.exchange('')).toBe(
      xml(setNum('1.5', '-0.5'), { ...setNum('', ''), members: [{ name: 'Y', value: '2' }] }),
    )
  })

  it('onlyChanged sends nothing when nothing changed', async () => {
    const { client, driver } = setup()
    const v = driver.dev.number('NUM')
    await v.sendSet()
    v.set('X', 1.5) // same value: not a change
    expect(v.changed).toBe(false)
    expect(await v.sendSet({ onlyChanged: true })).toBe(true)
    expect(await client.exchange('')).toBe(xml(setNum('1.5', '-0.5')))
  })

  it('onlyChanged still sends a bare vector when the state or message changed', async () => {
    const { client, driver } = setup()
    const v = driver.dev.number('NUM')
    await v.sendSet()
    await v.sendSet({ onlyChanged: true, state: 'Ok' })
    await v.sendSet({ onlyChanged: true, message: 'hi' })
    expect(await client.exchange('')).toBe(
      xml(
        setNum('1.5', '-0.5'),
        { ...setNum('', ''), state: 'Ok', members: [] },
        { ...setNum('', ''), state: 'Ok', message: 'hi', members: [] },
      ),
    )
  })

  it('members names the members sent; an empty list sends a bare vector', async () => {
    const { client, driver } = setup()
    const v = driver.dev.number('NUM')
    await v.sendSet({ members: ['Y'] })
    await v.sendSet({ members: [], state: 'Alert' })
    expect(await client.exchange('')).toBe(
      xml(
        { ...setNum('', ''), members: [{ name: 'Y', value: '-0.5' }] },
        { ...setNum('', ''), state: 'Alert', members: [] },
      ),
    )
  })

  it('writes switch Off members before On members', async () => {
    const { client, driver } = setup()
    const sw = driver.dev.switch('SW')
    sw.update({ A: 'Off', B: 'On' })
    await sw.sendSet()
    expect(await client.exchange('')).toBe(
      xml({
        tag: 'setSwitchVector',
        device: 'Dev',
        name: 'SW',
        timestamp: TS,
        state: 'Idle',
        timeout: '0',
        members: [
          { name: 'A', value: 'Off' },
          { name: 'C', value: 'Off' },
          { name: 'B', value: 'On' },
        ],
      }),
    )
  })

  it('sends text and light vectors', async () => {
    const { client, driver } = setup()
    await driver.dev.text('TEXT').set('T1', 'a<b & "c"').sendSet()
    await driver.dev.light('LIGHT').set('L1', 'Busy').sendSet({ state: 'Busy' })
    expect(await client.exchange('')).toBe(
      xml(
        {
          tag: 'setTextVector',
          device: 'Dev',
          name: 'TEXT',
          timestamp: TS,
          state: 'Idle',
          timeout: '0',
          members: [{ name: 'T1', value: 'a<b & "c"' }],
        },
        {
          tag: 'setLightVector',
          device: 'Dev',
          name: 'LIGHT',
          timestamp: TS,
          state: 'Busy',
          members: [{ name: 'L1', value: 'Busy' }],
        },
      ),
    )
  })

  it('define sends def*, with options', async () => {
    const { client, driver } = setup()
    await driver.dev.text('TEXT').define({ state: 'Ok', message: 'ready' })
    expect(await client.exchange('')).toBe(xml({ ...DEF_TEXT, state: 'Ok', message: 'ready' }))
  })

  it('vector.delete sends delProperty and restore re-defines it', async () => {
    const { client, driver } = setup()
    const v = driver.dev.number('NUM')
    await v.delete({ message: 'gone' })
    expect(v.enabled).toBe(false)
    expect(await v.sendSet()).toBe(false)
    await v.restore()
    expect(await client.exchange('')).toBe(
      xml({ tag: 'delProperty', device: 'Dev', name: 'NUM', timestamp: TS, message: 'gone' }, DEF_NUM),
    )
  })

  it('device.delete sends delProperty for the device and restore re-defines its vectors', async () => {
    const { client, driver } = setup()
    await driver.other.delete('bye')
    expect(await driver.other.message('x')).toBe(false)
    await driver.other.restore()
    expect(await client.exchange('')).toBe(
      xml({ tag: 'delProperty', device: 'Other Device', timestamp: TS, message: 'bye' }, DEF_POS),
    )
  })

  it('device.message and driver.message', async () => {
    const { client, driver } = setup()
    await driver.dev.message('hello')
    await driver.message('to all', { timestamp: new Date('2024-02-03T04:05:06.789Z') })
    expect(await client.exchange('')).toBe(
      xml(
        { tag: 'message', device: 'Dev', timestamp: TS, message: 'hello' },
        { tag: 'message', timestamp: '2024-02-03T04:05:06', message: 'to all' },
      ),
    )
  })

  it('resolves false when the driver is not running', async () => {
    const d = makeDriver()
    expect(await d.dev.number('NUM').sendSet()).toBe(false)
    expect(d.dev.number('NUM').trySendSet()).toBe(false)
    expect(await d.dev.message('x')).toBe(false)
    expect(await d.message('x')).toBe(false)
  })

  it('resolves false for a vector not added to a device', async () => {
    const v = new NumberVector({ name: 'N', members: [{ name: 'a' }] })
    expect(await v.sendSet()).toBe(false)
  })

  it('throws ERR_INDI_TIMESTAMP synchronously on a bad timestamp, queueing nothing', async () => {
    const { client, driver } = setup()
    let thrown: unknown
    try {
      void driver.dev.number('NUM').sendSet({ timestamp: 'yesterday' })
    } catch (e) {
      thrown = e
    }
    expect(IndiError.is(thrown, 'ERR_INDI_TIMESTAMP')).toBe(true)
    expect(await client.exchange('')).toBe('')
  })

  it('trySendSet queues synchronously and marks members sent', async () => {
    const { client, driver } = setup()
    const v = driver.dev.number('NUM')
    v.set('X', 3)
    expect(v.trySendSet({ onlyChanged: true })).toBe(true)
    expect(v.changed).toBe(false)
    expect(await client.exchange('')).toBe(xml({ ...setNum('', ''), members: [{ name: 'X', value: '3' }] }))
  })

  it('coalesces many small messages into few writes', async () => {
    const [a, b] = connectionPair()
    const { dev } = (await import('./harness.js')).makeDevices()
    const d = new Driver({ devices: [dev], logger: silentLogger, now: () => NOW })
    const run = d.run({ connection: a })
    const v = dev.number('NUM')
    let writes = 0
    let text = ''
    const reader = (async () => {
      for await (const c of b) {
        writes++
        text += Buffer.from(c).toString()
      }
    })()
    for (let i = 0; i < 1000; i++) v.set('X', i).trySendSet()
    await d.close()
    await run
    await reader
    expect(text.split('<setNumberVector').length - 1).toBe(1000)
    expect(writes).toBeLessThan(10)
  })

  it('waits when the writer queue is full and the transport is not reading (backpressure)', async () => {
    const [a, b] = connectionPair({ highWaterMark: 1024 })
    const dev = new Device({
      name: 'D',
      vectors: [new NumberVector({ name: 'N', members: [{ name: 'a' }] })],
    })
    const d = new Driver({ devices: [dev], logger: silentLogger, highWaterMark: 4096, now: () => NOW })
    void d.run({ connection: a })
    const v = dev.number('N')
    // The writer hands one batch to the connection, which then stays over its own mark because
    // nobody reads: the second fill stays in the writer queue and the next send must wait.
    while (v.trySendSet()) {}
    await new Promise((r) => setImmediate(r))
    while (v.trySendSet()) {}
    expect(d.bufferedBytes).toBeGreaterThanOrEqual(4096)
    let done = false
    const p = v.sendSet().then((r) => {
      done = r
    })
    await new Promise((r) => setImmediate(r))
    await new Promise((r) => setImmediate(r))
    expect(done).toBe(false)
    expect(d.bufferedBytes).toBeGreaterThanOrEqual(4096)
    const reader = (async () => {
      for await (const _ of b) {
        /* drain */
      }
    })()
    await p
    expect(done).toBe(true)
    await d.close()
    await reader
  })

  it('rejects a waiting send with the abort reason', async () => {
    const [a] = connectionPair({ highWaterMark: 1024 })
    const dev = new Device({
      name: 'D',
      vectors: [new NumberVector({ name: 'N', members: [{ name: 'a' }] })],
    })
    const d = new Driver({ devices: [dev], logger: silentLogger, highWaterMark: 4096 })
    void d.run({ connection: a })
    const v = dev.number('N')
    while (v.trySendSet()) {}
    const ac = new AbortController()
    const p = v.sendSet({ signal: ac.signal })
    const reason = new Error('stop')
    ac.abort(reason)
    await expect(p).rejects.toBe(reason)
    a.destroy()
    await d.close({ deadlineMs: 100 })
  })

  it('rejects at once with an already aborted signal when it would wait', async () => {
    const [a] = connectionPair({ highWaterMark: 1024 })
    const dev = new Device({
      name: 'D',
      vectors: [new NumberVector({ name: 'N', members: [{ name: 'a' }] })],
    })
    const d = new Driver({ devices: [dev], logger: silentLogger, highWaterMark: 4096 })
    void d.run({ connection: a })
    const v = dev.number('N')
    while (v.trySendSet()) {}
    await expect(v.sendSet({ signal: AbortSignal.abort(new Error('pre')) })).rejects.toThrow('pre')
    a.destroy()
    await d.close({ deadlineMs: 100 })
  })

  it('leaves no abort listener behind after 10 000 sends that waited', async () => {
    const [a, b] = connectionPair({ highWaterMark: 512 })
    const dev = new Device({
      name: 'D',
      vectors: [new NumberVector({ name: 'N', members: [{ name: 'a' }] })],
    })
    const d = new Driver({ devices: [dev], logger: silentLogger, highWaterMark: 256 })
    void d.run({ connection: a })
    const reader = (async () => {
      for await (const _ of b) {
        /* drain */
      }
    })()
    const ac = new AbortController()
    const v = dev.number('N')
    for (let i = 0; i < 10_000; i++) await v.set('a', i).sendSet({ signal: ac.signal })
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0)
    await d.close()
    await reader
  })
})
