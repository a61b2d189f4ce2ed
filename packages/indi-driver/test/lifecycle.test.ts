import { getEventListeners } from 'node:events'
import { connectionPair } from '@indi-ts/transport'
import { describe, expect, it } from 'vitest'
import { Driver, type DriverErrorEvent, silentLogger } from '../src/index.js'
import { ALL_DEFS, DEF_NUM } from './expected.js'
import { makeDevices, makeDriver, NOW, RawClient, start, xml } from './harness.js'

describe('lifecycle', () => {
  it('flushes what it queued and ends the connection at end of input', async () => {
    const { client, run, driver } = start(makeDriver())
    client.send(`<getProperties version='1.7'/>`)
    await client.conn.end()
    await run
    await client.done
    expect(client.text).toBe(xml(...ALL_DEFS))
    expect(driver.running).toBe(false)
  })

  it('starts hardware() with the driver and aborts its signal on shutdown', async () => {
    const events: string[] = []
    class Hw extends Driver {
      protected override async hardware(signal: AbortSignal): Promise<void> {
        events.push('started')
        await new Promise<void>((resolve) =>
          signal.addEventListener('abort', () => resolve(), { once: true }),
        )
        events.push(`aborted ${signal.aborted}`)
      }
    }
    const d = new Hw({ devices: [makeDevices().dev], logger: silentLogger })
    const { client, run } = start(d)
    await client.exchange('')
    expect(events).toEqual(['started'])
    await d.close()
    await run
    expect(events).toEqual(['started', 'aborted true'])
  })

  it('lets the hardware loop send updates that reach the client', async () => {
    class Hw extends Driver {
      protected override async hardware(signal: AbortSignal): Promise<void> {
        const v = this.device('Dev')!.number('NUM')
        for (let i = 0; i < 3 && !signal.aborted; i++) await v.set('X', i).sendSet()
      }
    }
    const d = new Hw({ devices: [makeDevices().dev], logger: silentLogger, now: () => NOW })
    const { client } = start(d)
    await client.waitFor((ms) => ms.filter((m) => m.tag === 'setNumberVector').length === 3, '3 updates')
    client.conn.destroy()
  })

  it('isolates a failing spawned task: logged as an error event, the driver keeps running', async () => {
    const d = makeDriver()
    const errors: DriverErrorEvent[] = []
    d.on('error', (e) => {
      errors.push(e)
    })
    const { client } = start(d)
    const failed = new Promise<void>((r) => d.on('error', () => r()))
    d.spawn(async () => {
      throw new Error('task broke')
    })
    await failed
    expect(errors.map((e) => [e.where, (e.error as Error).message])).toEqual([['task', 'task broke']])
    expect(d.running).toBe(true)
    expect(await client.exchange(`<getProperties version='1.7' device='Other Device'/>`)).toContain('POS')
    client.conn.destroy()
  })

  it('starts tasks spawned before run() when it starts, and aborts them on close', async () => {
    const d = makeDriver()
    let aborted = false
    let started!: () => void
    const didStart = new Promise<void>((r) => {
      started = r
    })
    d.spawn(async (signal) => {
      started()
      await new Promise<void>((r) => signal.addEventListener('abort', () => r()))
      aborted = true
    })
    const { run } = start(d)
    await didStart
    await d.close()
    await run
    expect(aborted).toBe(true)
  })

  it('a failing hardware loop is reported, not fatal', async () => {
    class Hw extends Driver {
      protected override async hardware(): Promise<void> {
        throw new Error('no camera')
      }
    }
    const d = new Hw({ devices: [makeDevices().dev], logger: silentLogger })
    const failed = new Promise<DriverErrorEvent>((r) => d.on('error', r))
    const { client } = start(d)
    expect((await failed).where).toBe('hardware')
    expect(d.running).toBe(true)
    client.conn.destroy()
  })

  it('close() gives up waiting after its deadline for a task that ignores its signal', async () => {
    const d = makeDriver()
    d.spawn(() => new Promise(() => {}))
    const { run } = start(d)
    await d.close({ deadlineMs: 50 })
    await run
    await d.closed
    expect(d.running).toBe(false)
  })

  it('shuts down when the run signal aborts', async () => {
    const [a, b] = connectionPair()
    const d = makeDriver()
    const ac = new AbortController()
    const run = d.run({ connection: a, signal: ac.signal })
    const c = new RawClient(b)
    ac.abort()
    await run
    await c.done
    expect(d.running).toBe(false)
  })

  it('refuses run() while running', async () => {
    const { client, driver } = start(makeDriver())
    await expect(driver.run({ connection: connectionPair()[0] })).rejects.toMatchObject({
      code: 'ERR_INDI_CLOSED',
    })
    client.conn.destroy()
  })

  it('runs again after shutdown with the same model (in-process server restarts)', async () => {
    const d = makeDriver()
    d.snoop({ device: 'Tele' })
    const first = start(d)
    d.dev.number('NUM').set('X', 42)
    await d.close()
    await first.run
    const second = start(d)
    expect(await second.client.exchange(`<getProperties version='1.7' device='Dev' name='NUM'/>`)).toBe(
      xml(
        { tag: 'getProperties', version: '1.7', device: 'Tele' },
        { ...DEF_NUM, members: [{ ...DEF_NUM.members[0]!, value: '42' }, DEF_NUM.members[1]!] },
      ),
    )
    expect(d.running).toBe(true)
    second.client.conn.destroy()
    await second.run
  })

  it('resolves false for sends after shutdown and ends command iterators', async () => {
    const { run, driver } = start(makeDriver())
    const it = driver.commands()[Symbol.asyncIterator]()
    const next = it.next()
    await driver.close()
    await run
    expect((await next).done).toBe(true)
    expect(await driver.dev.number('NUM').sendSet()).toBe(false)
  })

  it('survives the connection being destroyed under it', async () => {
    const { client, run, driver } = start(makeDriver())
    client.conn.destroy(new Error('gone'))
    await run
    expect(driver.running).toBe(false)
  })

  it('drops a connection that stays over its buffer past drainTimeoutMs with ERR_INDI_SLOW_PEER', async () => {
    const [a] = connectionPair({ highWaterMark: 1024 }) // the other end never reads
    const d = makeDriver({ drainTimeoutMs: 50 })
    const run = d.run({ connection: a })
    const v = d.dev.number('NUM')
    for (let i = 0; i < 100; i++) v.set('X', i).trySendSet()
    const reason = await a.closed
    expect(reason).toMatchObject({ code: 'ERR_INDI_SLOW_PEER' })
    await run
    expect(d.running).toBe(false)
  })

  it('leaves no listener on the run signal after 1 000 runs and shutdowns', async () => {
    const d = makeDriver()
    const ac = new AbortController()
    for (let i = 0; i < 1000; i++) {
      const [a, b] = connectionPair()
      const run = d.run({ connection: a, signal: ac.signal })
      await d.close()
      await run
      b.destroy()
    }
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0)
  })
})
