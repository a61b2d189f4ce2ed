import { afterEach, describe, expect, it } from 'vitest'
import type { IndiServer } from '../src/index.js'
import { addClient, once, RawDriver, type TestClient, testServer } from './helpers.js'

const GP = '<getProperties version="1.7"/>'
const setSwitch = (dev: string, name = 'CONNECTION') =>
  `<setSwitchVector device="${dev}" name="${name}" state="Ok"><oneSwitch name="CONNECT">On</oneSwitch></setSwitchVector>`
const newSwitch = (dev: string, name = 'CONNECTION') =>
  `<newSwitchVector device="${dev}" name="${name}"><oneSwitch name="CONNECT">On</oneSwitch></newSwitchVector>`
const marker = (n: string) => `<message message="mark ${n}"/>`

let server: IndiServer
afterEach(async () => {
  await server?.close()
})

/** Two clients and three in-process raw drivers, every device announced. */
async function setup(options = {}): Promise<{
  tele: RawDriver
  ccd: RawDriver
  focus: RawDriver
  a: TestClient
  b: TestClient
  logs: { text: string }[]
}> {
  const t = testServer(options)
  server = t.server
  const tele = new RawDriver(['Telescope'])
  const ccd = new RawDriver(['CCD'])
  const focus = new RawDriver(['Focuser'])
  const known = new Promise<void>((resolve) => {
    let n = 0
    server.on('device', () => {
      if (++n === 3) resolve()
    })
  })
  server.addDriver(tele, { name: 'tele' })
  server.addDriver(ccd, { name: 'ccd' })
  server.addDriver(focus, { name: 'focus' })
  await known
  return { tele, ccd, focus, a: addClient(server, 'A'), b: addClient(server, 'B'), logs: t.logs }
}

describe('routing between clients and drivers (indiserver §2.5–§2.6)', () => {
  it('sends each local driver getProperties version 1.7 when it starts', async () => {
    const { tele, ccd, focus } = await setup()
    for (const d of [tele, ccd, focus]) expect(d.in.text).toMatch(/^<getProperties version="1\.7"\s*\/>/)
  })

  it('routes a bare getProperties to every driver and their defs only to the asking client', async () => {
    const { tele, ccd, focus, a, b } = await setup()
    a.send(GP)
    await a.in.waitFor('<defSwitchVector', 3)
    for (const d of [tele, ccd, focus]) expect(d.in.count('<getProperties')).toBe(2)
    for (const dev of ['Telescope', 'CCD', 'Focuser']) expect(a.in.has(`device="${dev}"`)).toBe(true)
    await b.sync()
    expect(b.in.has('defSwitchVector')).toBe(false)
  })

  it('sends new* only to the driver owning the device', async () => {
    const { tele, ccd, focus, a } = await setup()
    a.send(newSwitch('CCD'))
    a.send('<getProperties version="1.7" device="Telescope"/>')
    a.send('<getProperties version="1.7" device="Focuser"/>')
    await ccd.in.waitFor('<newSwitchVector device="CCD"')
    await tele.in.waitFor('device="Telescope"')
    await focus.in.waitFor('device="Focuser"')
    expect(tele.in.has('newSwitchVector')).toBe(false)
    expect(focus.in.has('newSwitchVector')).toBe(false)
  })

  it('echoes new* to other interested clients but not to the sender', async () => {
    const { ccd, a, b } = await setup()
    a.send(GP)
    b.send(GP)
    await a.in.waitFor('<defSwitchVector', 3)
    await b.in.waitFor('<defSwitchVector', 3)
    a.send(newSwitch('CCD'))
    await ccd.in.waitFor('<newSwitchVector')
    await b.in.waitFor('<newSwitchVector device="CCD"')
    await a.sync()
    expect(a.in.has('newSwitchVector')).toBe(false)
  })

  it('drops new* for a device nobody announced', async () => {
    const { tele, ccd, focus, a } = await setup()
    a.send(GP)
    await a.in.waitFor('<defSwitchVector', 3)
    a.send(newSwitch('Nobody'))
    a.send(GP)
    await a.in.waitFor('<defSwitchVector', 6)
    for (const d of [tele, ccd, focus]) expect(d.in.has('Nobody')).toBe(false)
  })

  it('gives a client that never sent getProperties only global messages', async () => {
    const { tele, b } = await setup()
    tele.send(setSwitch('Telescope'))
    tele.send(marker('1'))
    await b.in.waitFor('mark 1')
    expect(b.in.has('setSwitchVector')).toBe(false)
  })

  it('gives a client that only sent new* the set* of that property', async () => {
    const { tele, b } = await setup()
    b.send(newSwitch('Telescope'))
    await tele.in.waitFor('<newSwitchVector')
    tele.send(setSwitch('Telescope', 'OTHER'))
    tele.send(setSwitch('Telescope'))
    tele.send(marker('2'))
    await b.in.waitFor('mark 2')
    expect(b.in.count('<setSwitchVector')).toBe(1)
    expect(b.in.has('name="CONNECTION"')).toBe(true)
  })

  it('gives a client with getProperties device=X only X', async () => {
    const { tele, ccd, a } = await setup()
    a.send('<getProperties version="1.7" device="CCD"/>')
    await a.in.waitFor('<defSwitchVector device="CCD"')
    tele.send(setSwitch('Telescope'))
    ccd.send(setSwitch('CCD'))
    tele.send(marker('3'))
    await a.in.waitFor('mark 3')
    expect(a.in.has('device="Telescope"')).toBe(false)
    expect(a.in.has('<setSwitchVector device="CCD"')).toBe(true)
  })

  it('never upgrades a client to all devices after a device-specific message (order rule)', async () => {
    const { tele, ccd, a } = await setup()
    a.send('<enableBLOB device="CCD">Also</enableBLOB>')
    a.send(GP)
    await tele.in.waitFor('<getProperties', 2)
    tele.send(setSwitch('Telescope'))
    ccd.send(setSwitch('CCD'))
    tele.send(marker('4'))
    await a.in.waitFor('mark 4')
    expect(a.in.has('device="Telescope"')).toBe(false)
    expect(a.in.has('<setSwitchVector device="CCD"')).toBe(true)
  })

  it('does not give a (device, property) client device-level messages without a name', async () => {
    const { tele, a } = await setup()
    a.send('<getProperties version="1.7" device="Telescope" name="CONNECTION"/>')
    await a.in.waitFor('<defSwitchVector')
    tele.send('<message device="Telescope" message="device-level"/>')
    tele.send('<delProperty device="Telescope" name="OTHER"/>')
    tele.send(setSwitch('Telescope'))
    tele.send(marker('5'))
    await a.in.waitFor('mark 5')
    expect(a.in.has('device-level')).toBe(false)
    expect(a.in.has('delProperty')).toBe(false)
    expect(a.in.has('<setSwitchVector')).toBe(true)
  })

  it('forwards driver frames byte for byte', async () => {
    const { tele, a } = await setup()
    a.send(GP)
    await a.in.waitFor('<defSwitchVector', 3)
    const odd = `<setSwitchVector device='Telescope' name='CONNECTION'  state='Ok' message='at 45° &amp; &apos;up&apos;' timestamp='2026-11-24T01:09:21'>\n  <oneSwitch name='CONNECT'>\n On\n  </oneSwitch>\n</setSwitchVector>`
    tele.send(`<?xml version='1.0'?>\n${odd}\n`)
    tele.send(marker('6'))
    await a.in.waitFor('mark 6')
    expect(a.in.has(odd)).toBe(true)
  })

  it('sends global driver messages to every client', async () => {
    const { focus, a, b } = await setup()
    focus.send('<message message="to everyone"/>')
    await a.in.waitFor('to everyone')
    await b.in.waitFor('to everyone')
  })

  it('server.message() reaches every client', async () => {
    const { a, b } = await setup()
    server.message('maintenance at noon')
    await a.in.waitFor('maintenance at noon')
    await b.in.waitFor('maintenance at noon')
  })

  it('forwards a set* from a client (chained upstream) to drivers snooping that device', async () => {
    const { ccd, a } = await setup()
    ccd.send('<getProperties version="1.7" device="Remote Scope"/>')
    await a.sync()
    a.send(setSwitch('Remote Scope'))
    await ccd.in.waitFor('<setSwitchVector device="Remote Scope"')
  })

  it('refuses a second driver claiming a device already served (ERR_INDI_DEVICE_LOOP)', async () => {
    const { a } = await setup()
    const warnings: string[] = []
    server.on('warning', (e) => warnings.push(e.code))
    const dup = new RawDriver(
      ['Telescope'],
      () =>
        '<defSwitchVector device="Telescope" name="DUP" state="Idle" perm="rw" rule="OneOfMany"><defSwitch name="X">On</defSwitch></defSwitchVector>',
    )
    a.send(GP)
    await a.in.waitFor('<defSwitchVector', 3)
    server.addDriver(dup, { name: 'dup' })
    await dup.ready
    await dup.in.waitFor('<getProperties')
    dup.send(marker('7'))
    await a.in.waitFor('mark 7')
    expect(warnings).toContain('ERR_INDI_DEVICE_LOOP')
    expect(a.in.has('name="DUP"')).toBe(false)
  })
})

describe('getProperties version clamping (§0.1)', () => {
  it('rewrites version 2.0 to 1.7 before drivers see it', async () => {
    const { tele, a } = await setup()
    a.send('<getProperties version="2.0"/>')
    await tele.in.waitFor('<getProperties', 2)
    expect(tele.in.has('2.0')).toBe(false)
    expect(tele.in.count('version="1.7"')).toBe(2)
  })

  it('adds version 1.7 to a getProperties without one', async () => {
    const { ccd, a } = await setup()
    a.send('<getProperties device="CCD" name="CONNECTION"/>')
    await ccd.in.waitFor('<getProperties', 2)
    const last = ccd.in.text.slice(ccd.in.text.lastIndexOf('<getProperties'))
    expect(last).toMatch(
      /^<getProperties (?=[^>]*version="1\.7")(?=[^>]*device="CCD")(?=[^>]*name="CONNECTION")[^>]*\/>\s*$/,
    )
  })

  it("serves INDIGO's switch='2.0' handshake as plain 1.7", async () => {
    const { focus, a } = await setup()
    a.send(`<getProperties version='1.7' switch='2.0'/>`)
    await focus.in.waitFor('<getProperties', 2)
    expect(focus.in.has('switch')).toBe(false)
  })

  it('forwards a plain 1.7 getProperties unchanged', async () => {
    const { ccd, a } = await setup()
    const exact = `<getProperties version='1.7' device='CCD'/>`
    a.send(exact)
    await ccd.in.waitFor(exact)
  })
})

describe('pings (§0.2)', () => {
  it('answers a client pingRequest itself and never forwards it', async () => {
    const { tele, a } = await setup()
    a.send('<pingRequest uid="abc"/>')
    a.send('<getProperties version="1.7" device="Telescope"/>')
    await a.in.until(() => /<pingReply uid="abc"\s*\/>/.test(a.in.text))
    await tele.in.waitFor('<getProperties', 2)
    expect(tele.in.has('ping')).toBe(false)
  })

  it('answers a driver pingRequest after what is already queued to it, and never forwards it', async () => {
    const { tele, ccd, a } = await setup()
    a.send(GP)
    await a.in.waitFor('<defSwitchVector', 3)
    a.send(newSwitch('CCD'))
    await ccd.in.waitFor('<newSwitchVector')
    ccd.send("<pingRequest uid='SetBLOB/1'/>")
    await ccd.in.until(() => /<pingReply uid="SetBLOB\/1"\s*\/>/.test(ccd.in.text))
    expect(ccd.in.text.indexOf('newSwitchVector')).toBeLessThan(ccd.in.text.indexOf('pingReply'))
    tele.send(marker('8'))
    await a.in.waitFor('mark 8')
    expect(a.in.has('ping')).toBe(false)
  })
})

describe('bad input (§2.15.3)', () => {
  it('drops malformed XML from a client and still routes its next element', async () => {
    const { ccd, a, b, logs } = await setup()
    b.send(GP)
    await b.in.waitFor('<defSwitchVector', 3)
    a.send(
      'this is not xml <newSwitchVector device=CCD name="CONNECTION"><oneSwitch name="X">On</oneSwitch></newSwitchVector>',
    )
    a.send(newSwitch('CCD'))
    await ccd.in.waitFor('<oneSwitch name="CONNECT">On</oneSwitch>')
    expect(ccd.in.has('device=CCD')).toBe(false)
    expect(ccd.in.has('not xml')).toBe(false)
    await b.in.waitFor('<newSwitchVector', 1)
    expect(b.in.count('<newSwitchVector')).toBe(1)
    expect(logs.some((l) => l.text.startsWith(`Client ${a.id}: XML error:`))).toBe(true)
    expect(server.clientStats().map((c) => c.id)).toEqual([a.id, b.id])
  })

  it('drops unknown elements instead of passing them to drivers', async () => {
    const { ccd, a } = await setup()
    a.send('<foo device="CCD" name="x"/>')
    a.send('<getProperties version="1.7" device="CCD"/>')
    await ccd.in.waitFor('<getProperties', 2)
    expect(ccd.in.has('foo')).toBe(false)
  })

  it('loses nothing for others when a client disconnects mid-element', async () => {
    const { tele, a, b } = await setup()
    b.send(GP)
    await b.in.waitFor('<defSwitchVector', 3)
    a.send('<newSwitchVector device="Telescope" name="CONN')
    await a.conn.close()
    tele.send(setSwitch('Telescope'))
    await b.in.waitFor('<setSwitchVector')
    expect(tele.in.has('newSwitchVector')).toBe(false)
  })
})

describe('client limits', () => {
  it('refuses clients over maxClients with an INDI message', async () => {
    const { a } = await setup({ maxClients: 2 })
    const refused: string[] = []
    server.on('clientRefused', (label) => refused.push(label))
    const { connectionPair } = await import('@indi-ts/transport')
    const [s, c] = connectionPair({ labels: ['server:C', 'C'] })
    const chunks: Buffer[] = []
    const done = (async () => {
      for await (const chunk of c) chunks.push(Buffer.from(chunk))
    })()
    expect(server.addClient(s)).toBeUndefined()
    await done
    expect(Buffer.concat(chunks).toString()).toMatch(/<message [^>]*message="This INDI server is full/)
    expect(refused).toEqual(['server:C'])
    await a.sync()
  })

  it('frees a slot as soon as a client disconnects', async () => {
    const { a, b } = await setup({ maxClients: 2 })
    const gone = once(server, 'clientClosed')
    await b.conn.close()
    await gone
    const c = addClient(server, 'C')
    c.send(GP)
    await c.in.waitFor('<defSwitchVector', 3)
    await a.sync()
  })
})
