import { IndiError } from '@indi-ts/indi-xml'
import { describe, expect, it } from 'vitest'
import { Driver, type SnoopEvent, silentLogger } from '../src/index.js'
import { makeDevices, makeDriver, NOW, start } from './harness.js'

const DEF_TELE = `<defNumberVector device='Tele' name='EQ' state='Ok' perm='rw' timeout='60' timestamp='2026-01-01T00:00:00'>
  <defNumber name='RA' format='%10.6m' min='0' max='24' step='0'>10:30:00</defNumber>
  <defNumber name='DEC' format='%9.6m' min='-90' max='90' step='0'>45</defNumber>
</defNumberVector>`

async function take(it: AsyncIterator<SnoopEvent>): Promise<SnoopEvent> {
  const r = await it.next()
  if (r.done) throw new Error('subscription ended')
  return r.value
}

describe('snooping', () => {
  it('sends getProperties version 1.7 for the device and vector when the driver starts', async () => {
    const d = makeDriver()
    d.snoop({ device: 'Tele', vector: 'EQ' })
    const { client } = start(d)
    const gp = await client.next('getProperties')
    expect(gp).toEqual({ tag: 'getProperties', version: '1.7', device: 'Tele', name: 'EQ' })
    client.conn.destroy()
  })

  it('sends getProperties at once when snooping a running driver', async () => {
    const { client, driver } = start(makeDriver())
    driver.snoop({ device: 'Tele' })
    expect(await client.next('getProperties')).toEqual({
      tag: 'getProperties',
      version: '1.7',
      device: 'Tele',
    })
    client.conn.destroy()
  })

  it('sends enableBLOB for snooped BLOBs after the getProperties', async () => {
    const d = makeDriver()
    d.snoop({ device: 'CCD Simulator', vector: 'CCD1' })
    d.enableBlob('CCD Simulator', 'CCD1', 'Also')
    const { client } = start(d)
    await client.next('enableBLOB')
    expect(client.messages.map((m) => m.tag)).toEqual(['getProperties', 'enableBLOB'])
    expect(client.messages[1]).toEqual({
      tag: 'enableBLOB',
      device: 'CCD Simulator',
      name: 'CCD1',
      policy: 'Also',
    })
    client.conn.destroy()
  })

  it('yields typed def, set, delProperty and message events with parsed values', async () => {
    const { client, driver } = start(makeDriver())
    const sub = driver.snoop({ device: 'Tele' })
    const it = sub[Symbol.asyncIterator]()
    client.send(DEF_TELE)
    client.send(
      `<setNumberVector device='Tele' name='EQ' timestamp='2026-01-01T00:00:01'><oneNumber name='RA'>11.25</oneNumber></setNumberVector>`,
    )
    client.send(`<message device='Tele' timestamp='2026-01-01T00:00:02' message='slewing'/>`)
    client.send(`<delProperty device='Tele' name='EQ'/>`)
    const def = await take(it)
    expect(def.type).toBe('def')
    if (def.type !== 'def') return
    expect(def.kind).toBe('Number')
    expect(def.state).toBe('Ok')
    expect([...def.values]).toEqual([
      ['RA', 10.5],
      ['DEC', 45],
    ])
    expect(def.timestamp?.toISOString()).toBe('2026-01-01T00:00:00.000Z')
    const set = await take(it)
    expect(set.type === 'set' && [...set.values]).toEqual([['RA', 11.25]])
    expect(set.type === 'set' && set.state).toBe(undefined)
    const msg = await take(it)
    expect(msg.type === 'message' && msg.text).toBe('slewing')
    const del = await take(it)
    expect(del.type === 'delete' && del.name).toBe('EQ')
    client.conn.destroy()
  })

  it('reports a snooped element with a bad value as a typed error event', async () => {
    const { client, driver } = start(makeDriver())
    const it = driver.snoop({ device: 'Tele' })[Symbol.asyncIterator]()
    client.send(
      `<setNumberVector device='Tele' name='EQ'><oneNumber name='RA'>abc</oneNumber></setNumberVector>`,
    )
    const ev = await take(it)
    expect(ev.type).toBe('error')
    if (ev.type !== 'error') return
    expect(ev.tag).toBe('setNumberVector')
    expect(IndiError.is(ev.error, 'ERR_INDI_NUMBER')).toBe(true)
    expect(driver.running).toBe(true)
    client.conn.destroy()
  })

  it('reports malformed XML about a snooped device as a typed error event', async () => {
    const { client, driver } = start(makeDriver())
    const it = driver.snoop({ device: 'Tele' })[Symbol.asyncIterator]()
    client.send(
      `<setSwitchVector device='Tele' name='S'><oneSwitch name='A'>Maybe</oneSwitch></setSwitchVector>`,
    )
    const ev = await take(it)
    expect(ev.type === 'error' && ev.device).toBe('Tele')
    client.conn.destroy()
  })

  it('delivers only what matches the subscription', async () => {
    const { client, driver } = start(makeDriver())
    const it = driver.snoop({ device: 'Tele', vector: 'EQ' })[Symbol.asyncIterator]()
    client.send(
      `<setNumberVector device='Tele' name='OTHER'><oneNumber name='x'>1</oneNumber></setNumberVector>`,
    )
    client.send(
      `<setNumberVector device='Dome' name='EQ'><oneNumber name='x'>1</oneNumber></setNumberVector>`,
    )
    client.send(
      `<setNumberVector device='Tele' name='EQ'><oneNumber name='RA'>2</oneNumber></setNumberVector>`,
    )
    const ev = await take(it)
    expect(ev.type === 'set' && ev.values.get('RA')).toBe(2)
    client.conn.destroy()
  })

  it('calls the onSnoop hook and snoop listeners', async () => {
    const seen: string[] = []
    class Snooper extends Driver {
      protected override async onSnoop(event: SnoopEvent): Promise<void> {
        seen.push(`hook ${event.type}`)
      }
    }
    const d = new Snooper({ devices: [makeDevices().dev], logger: silentLogger, now: () => NOW })
    d.on('snoop', (e) => {
      seen.push(`listener ${e.type}`)
    })
    d.snoop({ device: 'Tele' })
    const { client } = start(d)
    client.send(DEF_TELE)
    await client.exchange('')
    await new Promise<void>((r) => setImmediate(r))
    expect(seen).toEqual(['listener def', 'hook def'])
    client.conn.destroy()
  })

  it('throws ERR_INDI_SNOOP_OWN_DEVICE when snooping one of its own devices', () => {
    const d = makeDriver()
    expect(() => d.snoop({ device: 'Dev' })).toThrow(
      expect.objectContaining({ code: 'ERR_INDI_SNOOP_OWN_DEVICE' }),
    )
    expect(() => d.enableBlob('Dev', undefined, 'Also')).toThrow(
      expect.objectContaining({ code: 'ERR_INDI_SNOOP_OWN_DEVICE' }),
    )
  })

  it('keeps read-only bookkeeping of subscriptions with last-seen times', async () => {
    const { client, driver } = start(makeDriver())
    const sub = driver.snoop({ device: 'Tele', vector: 'EQ', refreshAfterMs: 60_000 })
    expect(driver.snoops).toEqual([
      { device: 'Tele', vector: 'EQ', refreshAfterMs: 60_000, lastSeen: undefined, received: 0, dropped: 0 },
    ])
    client.send(DEF_TELE)
    await take(sub[Symbol.asyncIterator]())
    expect(driver.snoops[0]!.received).toBe(1)
    expect(driver.snoops[0]!.lastSeen).toBeInstanceOf(Date)
    sub.cancel()
    expect(driver.snoops).toEqual([])
    client.conn.destroy()
  })

  it('ends the iteration on cancel() and on abort', async () => {
    const { client, driver } = start(makeDriver())
    const sub = driver.snoop({ device: 'Tele' })
    const it = sub[Symbol.asyncIterator]()
    const pending = it.next()
    sub.cancel()
    expect((await pending).done).toBe(true)
    const ac = new AbortController()
    const sub2 = driver.snoop({ device: 'Tele' }, { signal: ac.signal })
    ac.abort()
    expect(sub2.cancelled).toBe(true)
    client.conn.destroy()
  })

  it('re-sends getProperties after refreshAfterMs without traffic', async () => {
    const { client, driver } = start(makeDriver())
    driver.snoop({ device: 'Tele', vector: 'EQ', refreshAfterMs: 20 })
    await client.waitFor((ms) => ms.filter((m) => m.tag === 'getProperties').length >= 2, 'a refresh')
    client.conn.destroy()
  })

  it('drops the oldest event when nobody reads a subscription, and counts it', async () => {
    const { client, driver } = start(makeDriver())
    driver.snoop({ device: 'Tele', buffer: 2 })
    let xmlIn = ''
    for (let i = 0; i < 5; i++)
      xmlIn += `<setNumberVector device='Tele' name='EQ'><oneNumber name='RA'>${i}</oneNumber></setNumberVector>`
    await client.exchange(xmlIn)
    expect(driver.stats.snoopDropped).toBe(3)
    client.conn.destroy()
  })

  it('logs and ignores a definition of one of its own devices arriving on input', async () => {
    const { client, driver } = start(makeDriver())
    driver.snoop({})
    await client.exchange(
      `<defTextVector device='Dev' name='TEXT' state='Idle' perm='rw'><defText name='T1'>x</defText></defTextVector>`,
    )
    expect(driver.stats.ownDefsIgnored).toBe(1)
    expect(driver.running).toBe(true)
    expect(driver.dev.text('TEXT').get('T1')).toBe('hello')
    client.conn.destroy()
  })

  it('snoops everything with an empty filter, global messages included', async () => {
    const { client, driver } = start(makeDriver())
    const it = driver.snoop({})[Symbol.asyncIterator]()
    expect(await client.next('getProperties')).toEqual({ tag: 'getProperties', version: '1.7' })
    client.send(`<message message='server going down'/>`)
    const ev = await take(it)
    expect(ev.type === 'message' && [ev.device, ev.text]).toEqual([undefined, 'server going down'])
    client.conn.destroy()
  })
})
