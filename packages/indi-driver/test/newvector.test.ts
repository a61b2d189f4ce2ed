import { afterEach, describe, expect, it } from 'vitest'
import {
  Driver,
  type NewNumberEvent,
  type NewSwitchEvent,
  type NewTextEvent,
  type NewVectorEvent,
  silentLogger,
  type TextVector,
} from '../src/index.js'
import { makeDevices, makeDriver, NOW, type RawClient, start, TS, xml } from './harness.js'

const open: RawClient[] = []
afterEach(() => {
  for (const c of open.splice(0)) c.conn.destroy()
})
function setup(options: Parameters<typeof makeDriver>[0] = {}) {
  const s = start(makeDriver(options))
  open.push(s.client)
  return s
}

describe('client events', () => {
  it('gives newNumberVector values parsed from decimal and sexagesimal, with the raw text', async () => {
    const { client, driver } = setup()
    const got: NewNumberEvent[] = []
    driver.on('newNumberVector', (e) => {
      got.push(e)
    })
    await client.exchange(
      `<newNumberVector device='Dev' name='NUM' timestamp='2026-03-04T05:06:07'><oneNumber name='X'> 12.5 </oneNumber><oneNumber name='Y'>-0:30</oneNumber></newNumberVector>`,
    )
    expect(got).toHaveLength(1)
    const e = got[0]!
    expect(e.type).toBe('newNumberVector')
    expect(e.vector).toBe(driver.dev.number('NUM'))
    expect(e.device).toBe(driver.dev)
    expect([...e.values]).toEqual([
      ['X', 12.5],
      ['Y', -0.5],
    ])
    expect(e.raw.get('Y')).toBe('-0:30')
    expect(e.timestamp?.toISOString()).toBe('2026-03-04T05:06:07.000Z')
    expect(e.rawTimestamp).toBe('2026-03-04T05:06:07')
  })

  it('leaves the vector unchanged until the handler applies the values', async () => {
    const { client, driver } = setup()
    const num = driver.dev.number('NUM')
    num.onNew(async (e) => {
      expect(num.get('X')).toBe(1.5)
      e.apply()
      num.state = 'Ok'
      await num.send()
    })
    const out = await client.exchange(
      `<newNumberVector device='Dev' name='NUM'><oneNumber name='X'>3</oneNumber></newNumberVector>`,
    )
    expect(num.get('X')).toBe(3)
    expect(out).toBe(
      xml({
        tag: 'setNumberVector',
        device: 'Dev',
        name: 'NUM',
        timestamp: TS,
        state: 'Ok',
        timeout: '5',
        members: [
          { name: 'X', value: '3' },
          { name: 'Y', value: '-0.5' },
        ],
      }),
    )
  })

  it('gives newTextVector values as text', async () => {
    const { client, driver } = setup()
    const got: NewTextEvent[] = []
    driver.dev.text('TEXT').onNew((e) => {
      got.push(e)
    })
    await client.exchange(
      `<newTextVector device='Dev' name='TEXT'><oneText name='T1'>caf&#233; &amp; tea °</oneText></newTextVector>`,
    )
    // (&#233; is not an INDI entity; whatever the parser makes of it, our value is its text)
    expect(got).toHaveLength(1)
    expect(got[0]!.values.get('T1')).toContain('& tea °')
  })

  it('completes a OneOfMany request naming only the member switched On (others Off)', async () => {
    const { client, driver } = setup()
    const got: NewSwitchEvent[] = []
    driver.on('newSwitchVector', (e) => {
      got.push(e)
    })
    await client.exchange(
      `<newSwitchVector device='Dev' name='SW'><oneSwitch name='C'>On</oneSwitch></newSwitchVector>`,
    )
    expect([...got[0]!.values]).toEqual([
      ['C', 'On'],
      ['A', 'Off'],
      ['B', 'Off'],
    ])
    got[0]!.apply()
    expect(driver.dev.switch('SW').on()).toEqual(['C'])
  })

  it('gives newBLOBVector bytes with size and format', async () => {
    const d = makeDriver()
    d.dev.blob('BLOB').perm = 'rw'
    const { client } = start(d)
    open.push(client)
    const got: NewVectorEvent[] = []
    d.on('newBLOBVector', (e) => {
      got.push(e)
    })
    const data = Buffer.from('SIMPLE  = T')
    await client.exchange(
      `<newBLOBVector device='Dev' name='BLOB'><oneBLOB name='B1' size='${data.length}' format='.fits'>${data.toString('base64')}</oneBLOB></newBLOBVector>`,
    )
    const e = got[0]!
    if (e.type !== 'newBLOBVector') throw new Error('wrong event')
    const b = e.values.get('B1')!
    expect(Buffer.from(b.data).equals(data)).toBe(true)
    expect(b.size).toBe(data.length)
    expect(b.format).toBe('.fits')
  })

  it('offers async iteration of commands', async () => {
    const { client, driver } = setup()
    const ac = new AbortController()
    const it = driver.commands({ signal: ac.signal })[Symbol.asyncIterator]()
    client.send(`<newTextVector device='Dev' name='TEXT'><oneText name='T1'>a</oneText></newTextVector>`)
    client.send(
      `<newNumberVector device='Dev' name='NUM'><oneNumber name='X'>2</oneNumber></newNumberVector>`,
    )
    const first = await it.next()
    const second = await it.next()
    expect(first.value?.type).toBe('newTextVector')
    expect(second.value?.type).toBe('newNumberVector')
    ac.abort()
    expect((await it.next()).done).toBe(true)
  })

  it('calls the subclass hook onNewVector', async () => {
    const seen: string[] = []
    class MyDriver extends Driver<{ tag: string }> {
      protected override async onNewVector(event: NewVectorEvent): Promise<void> {
        seen.push(`${this.context.tag}:${event.vector.name}`)
      }
    }
    const { dev } = makeDevices()
    const d = new MyDriver({ devices: [dev], context: { tag: 'ctx' }, logger: silentLogger, now: () => NOW })
    const { client } = start(d)
    open.push(client)
    await client.exchange(
      `<newTextVector device='Dev' name='TEXT'><oneText name='T1'>a</oneText></newTextVector>`,
    )
    expect(seen).toEqual(['ctx:TEXT'])
  })

  it('runs handlers for one vector in arrival order, one at a time', async () => {
    const { client, driver } = setup()
    const log: string[] = []
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    let done!: () => void
    const finished = new Promise<void>((r) => {
      done = r
    })
    driver.dev.text('TEXT').onNew(async (e) => {
      const v = e.values.get('T1')!
      log.push(`start ${v}`)
      if (v === '1') await gate
      log.push(`end ${v}`)
      if (v === '2') done()
    })
    client.send(`<newTextVector device='Dev' name='TEXT'><oneText name='T1'>1</oneText></newTextVector>`)
    client.send(`<newTextVector device='Dev' name='TEXT'><oneText name='T1'>2</oneText></newTextVector>`)
    await client.exchange('')
    expect(log).toEqual(['start 1'])
    release()
    await finished
    expect(log).toEqual(['start 1', 'end 1', 'start 2', 'end 2'])
  })

  it('does not let a slow handler for one vector block another vector', async () => {
    const { client, driver } = setup()
    driver.dev.text('TEXT').onNew(() => new Promise(() => {})) // never finishes
    const got = new Promise<NewNumberEvent>((r) => driver.dev.number('NUM').onNew(r))
    client.send(`<newTextVector device='Dev' name='TEXT'><oneText name='T1'>1</oneText></newTextVector>`)
    client.send(
      `<newNumberVector device='Dev' name='NUM'><oneNumber name='X'>9</oneNumber></newNumberVector>`,
    )
    expect((await got).values.get('X')).toBe(9)
  })

  it('reports a throwing handler as an error event and keeps going', async () => {
    const { client, driver } = setup()
    const errors: string[] = []
    driver.on('error', (e) => {
      errors.push(`${e.where}: ${(e.error as Error).message}`)
    })
    driver.dev.text('TEXT').onNew(() => {
      throw new Error('boom')
    })
    await client.exchange(
      `<newTextVector device='Dev' name='TEXT'><oneText name='T1'>1</oneText></newTextVector>`,
    )
    expect(errors).toEqual(['handler newTextVector Dev.TEXT: boom'])
    expect(driver.running).toBe(true)
  })

  it('ignores and counts new* for an unknown device or vector', async () => {
    const { client, driver } = setup()
    const out = await client.exchange(
      `<newNumberVector device='Nope' name='NUM'><oneNumber name='X'>1</oneNumber></newNumberVector>` +
        `<newNumberVector device='Dev' name='NOPE'><oneNumber name='X'>1</oneNumber></newNumberVector>`,
    )
    expect(out).toBe('')
    expect(driver.stats.ignored).toBe(2)
  })

  it('ignores and counts input to a disabled vector', async () => {
    const { client, driver } = setup()
    const got: unknown[] = []
    driver.on('newVector', (e) => {
      got.push(e)
    })
    await driver.dev.text('TEXT').delete()
    await client.exchange(
      `<newTextVector device='Dev' name='TEXT'><oneText name='T1'>1</oneText></newTextVector>`,
    )
    expect(got).toEqual([])
    expect(driver.stats.ignored).toBe(1)
  })

  it('calls per-device handlers for every vector of that device only', async () => {
    const { client, driver } = setup()
    const seen: string[] = []
    driver.dev.onNew((e) => {
      seen.push(`Dev ${e.vector.name}`)
    })
    driver.other.onNew((e) => {
      seen.push(`Other ${e.vector.name}`)
    })
    await client.exchange(
      `<newTextVector device='Dev' name='TEXT'><oneText name='T1'>a</oneText></newTextVector>` +
        `<newSwitchVector device='Dev' name='SW'><oneSwitch name='B'>On</oneSwitch></newSwitchVector>`,
    )
    expect(seen).toEqual(['Dev TEXT', 'Dev SW'])
  })

  it('runs handlers of a concurrent vector without waiting for the previous one', async () => {
    const { client, driver } = setup()
    const text = driver.dev.text('TEXT')
    text.concurrent = true
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    const second = new Promise<void>((resolve) =>
      text.onNew(async (e) => {
        if (e.values.get('T1') === '1') await gate
        else resolve()
      }),
    )
    client.send(`<newTextVector device='Dev' name='TEXT'><oneText name='T1'>1</oneText></newTextVector>`)
    client.send(`<newTextVector device='Dev' name='TEXT'><oneText name='T1'>2</oneText></newTextVector>`)
    await second
    release()
  })

  it('counts an unparsable client timestamp and gives undefined', async () => {
    const { client, driver } = setup()
    const got: NewTextEvent[] = []
    driver.on('newTextVector', (e) => {
      got.push(e)
    })
    await client.exchange(
      `<newTextVector device='Dev' name='TEXT' timestamp='soon'><oneText name='T1'>a</oneText></newTextVector>`,
    )
    expect(got[0]!.timestamp).toBeUndefined()
    expect(got[0]!.rawTimestamp).toBe('soon')
    expect(driver.stats.badTimestamps).toBe(1)
  })

  it('answers a client new* of each settable kind with the exact set* the handler sends', async () => {
    const d = makeDriver()
    d.dev.blob('BLOB').perm = 'rw'
    for (const v of d.dev) {
      if (v.kind === 'Light') continue
      ;(v as TextVector).onNew(async (e) => {
        e.apply()
        await v.sendSet({ state: 'Ok', members: [...e.values.keys()] })
      })
    }
    const { client } = start(d)
    open.push(client)
    const data = Buffer.from('frame')
    const out = await client.exchange(
      `<newTextVector device='Dev' name='TEXT'><oneText name='T1'>new text</oneText></newTextVector>` +
        `<newSwitchVector device='Dev' name='SW'><oneSwitch name='B'>On</oneSwitch></newSwitchVector>` +
        `<newBLOBVector device='Dev' name='BLOB'><oneBLOB name='B1' size='5' format='.raw'>${data.toString('base64')}</oneBLOB></newBLOBVector>`,
    )
    const head = { device: 'Dev', timestamp: TS, state: 'Ok' as const, timeout: '0' }
    expect(out).toBe(
      xml(
        { tag: 'setTextVector', name: 'TEXT', ...head, members: [{ name: 'T1', value: 'new text' }] },
        {
          tag: 'setSwitchVector',
          name: 'SW',
          ...head,
          members: [
            { name: 'A', value: 'Off' },
            { name: 'C', value: 'Off' },
            { name: 'B', value: 'On' },
          ],
        },
        {
          tag: 'setBLOBVector',
          name: 'BLOB',
          ...head,
          members: [{ name: 'B1', size: 5, format: '.raw', data }],
        },
        { tag: 'pingRequest', uid: 'SetBLOB/1' },
      ),
    )
  })
})
