import { createHash, randomBytes } from 'node:crypto'
import { parseArgs } from '@indi-ts/indi-server'
import { connect } from 'nats'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  addClient,
  closeSites,
  hasNatsServer,
  NatsServer,
  once,
  RawDriver,
  type Site,
  startSite,
  until,
} from './helpers.js'

const GP = '<getProperties version="1.7"/>'
const CONNECT_ON =
  '<newSwitchVector device="Scope" name="CONNECTION"><oneSwitch name="CONNECT">On</oneSwitch></newSwitchVector>'
const setRa = (ra: number): string =>
  `<setNumberVector device="Scope" name="COORD" state="Ok"><oneNumber name="RA">${ra}</oneNumber></setNumberVector>`
const scopeDefs = (d: string): string =>
  `<defSwitchVector device="${d}" name="CONNECTION" state="Idle" perm="rw" rule="OneOfMany"><defSwitch name="CONNECT">Off</defSwitch><defSwitch name="DISCONNECT">On</defSwitch></defSwitchVector>` +
  `<defNumberVector device="${d}" name="COORD" state="Idle" perm="ro"><defNumber name="RA" format="%g" min="0" max="24" step="0">0</defNumber></defNumberVector>` +
  `<defBLOBVector device="${d}" name="IMAGE" state="Idle" perm="ro"><defBLOB name="FRAME"/></defBLOBVector>`

const nats = new NatsServer(18203)
const sites: Site[] = []

if (!hasNatsServer) console.warn('transport-nats: nats-server is not installed; skipping the NATS tests')

describe.skipIf(!hasNatsServer)('export and import across indi-servers', () => {
  beforeAll(() => nats.start())
  afterAll(() => nats.stop())
  afterEach(() => closeSites(sites))

  async function site(
    name: string,
    roles: { export?: string[]; import?: string[] },
    devices: string[] = [],
  ): Promise<{ s: Site; driver: RawDriver | undefined }> {
    const s = await startSite(nats, { site: name, ...roles })
    sites.push(s)
    if (devices.length === 0) return { s, driver: undefined }
    const driver = new RawDriver(devices, scopeDefs)
    const known = once(s.server, 'device')
    s.server.addDriver(driver, { name: devices.join('+') })
    await known
    return { s, driver }
  }

  async function twoSites(): Promise<{ a: Site; b: Site; driver: RawDriver }> {
    const { s: a, driver } = await site('A', { export: ['*'] }, ['Scope'])
    const { s: b } = await site('B', { import: ['*'] })
    return { a, b, driver: driver! }
  }

  it('gives a client of the importing server the definitions of a device on the exporting one', async () => {
    const { b } = await twoSites()
    const c = addClient(b.server)
    c.send(GP)
    await c.in.waitFor('<defSwitchVector device="Scope" name="CONNECTION"')
    await c.in.waitFor('<defNumberVector device="Scope" name="COORD"')
  })

  it('carries a command to the owning driver and its answer back', async () => {
    const { b, driver } = await twoSites()
    const c = addClient(b.server)
    c.send(GP)
    await c.in.waitFor('<defSwitchVector device="Scope"')
    c.send(CONNECT_ON)
    await driver.in.waitFor('<newSwitchVector device="Scope" name="CONNECTION">')
    driver.send(
      '<setSwitchVector device="Scope" name="CONNECTION" state="Ok"><oneSwitch name="CONNECT">On</oneSwitch><oneSwitch name="DISCONNECT">Off</oneSwitch></setSwitchVector>',
    )
    await c.in.waitFor('<setSwitchVector device="Scope" name="CONNECTION" state="Ok">')
    expect(b.bridge.stats().import!.commands).toBe(1)
  })

  it('answers a later getProperties with definitions that carry the current values', async () => {
    const { b, driver } = await twoSites()
    const first = addClient(b.server)
    first.send(GP)
    await first.in.waitFor('<defNumberVector device="Scope" name="COORD"')
    driver.send(setRa(7.5))
    await first.in.waitFor('<oneNumber name="RA">7.5</oneNumber>')
    const late = addClient(b.server)
    late.send('<getProperties version="1.7" device="Scope" name="COORD"/>')
    await late.in.until(() =>
      /<defNumberVector device="Scope" name="COORD"[^>]*>[\s\S]*?7\.5/.test(late.in.text),
    )
    expect(late.in.has('name="CONNECTION"')).toBe(false)
  })

  it('lets a driver on the importing server snoop a device of the exporting one', async () => {
    const { b } = await twoSites()
    const snooper = new RawDriver(['Guider'])
    b.server.addDriver(snooper, { name: 'guider' })
    await snooper.ready
    await until(() => b.bridge.stats().import!.devices.some((d) => d.defined), 'Scope imported')
    snooper.send('<getProperties version="1.7" device="Scope" name="COORD"/>')
    await snooper.in.waitFor('<defNumberVector device="Scope" name="COORD"')
  })

  it('sends set updates through NATS only to servers whose clients asked for the device', async () => {
    const { s: a, driver } = await site('A', { export: ['*'] }, ['Scope'])
    const { s: b } = await site('B', { import: ['*'] })
    const { s: c } = await site('C', { import: ['*'] })
    // A getProperties for a device the server does not know yet is dropped (as indiserver does).
    await until(() => b.bridge.stats().import!.devices.some((d) => d.defined), 'B imported Scope')
    const client = addClient(b.server)
    client.send('<getProperties version="1.7" device="Scope"/>')
    await client.in.waitFor('<defNumberVector device="Scope"')
    // Known is not enough: C defines it once its fetch is answered, which may come a little later.
    await until(() => c.bridge.stats().import!.devices.some((d) => d.defined), 'C defined Scope')
    for (let i = 1; i <= 50; i++) driver!.send(setRa(i))
    await client.in.waitFor('<oneNumber name="RA">50</oneNumber>')
    // Flush A's publishes through the NATS server, then compare what each importer received.
    await a.bridge.stats()
    const bs = b.bridge.stats().import!
    const cs = c.bridge.stats().import!
    expect(bs.received).toBeGreaterThanOrEqual(50)
    expect(cs.received).toBe(0)
    expect(cs.devices).toEqual([{ device: 'Scope', site: 'A', subscribed: false, defined: true }])
  })

  it('imports only the devices that match --nats-import and exports only those matching --nats-export', async () => {
    await site('A', { export: ['Tele*'] }, ['Telescope', 'Camera'])
    const { s: b } = await site('B', { import: ['*'] })
    const { s: c } = await site('C', { import: ['Cam*'] })
    const client = addClient(b.server)
    client.send(GP)
    await client.in.waitFor('<defSwitchVector device="Telescope"')
    await until(() => b.bridge.stats().import!.sites.includes('A'), 'B saw A')
    // C must have heard A's hello too, or its empty list would prove nothing.
    await until(() => c.bridge.stats().import!.sites.includes('A'), 'C saw A')
    expect(b.bridge.stats().import!.devices.map((d) => d.device)).toEqual(['Telescope'])
    expect(c.bridge.stats().import!.devices).toEqual([])
    expect(client.in.has('device="Camera"')).toBe(false)
  })

  it('never re-exports an imported device: two servers importing and exporting everything make no loop', async () => {
    const { s: a } = await site('A', { export: ['*'], import: ['*'] }, ['Scope'])
    const { s: b } = await site('B', { export: ['*'], import: ['*'] }, ['Dome'])
    const warnings: Error[] = []
    a.server.on('warning', (w) => warnings.push(w))
    b.server.on('warning', (w) => warnings.push(w))
    const ca = addClient(a.server)
    const cb = addClient(b.server)
    ca.send(GP)
    cb.send(GP)
    await ca.in.waitFor('<defSwitchVector device="Dome"')
    await cb.in.waitFor('<defSwitchVector device="Scope"')
    expect(a.bridge.stats().export!.devices).toEqual(['Scope'])
    expect(b.bridge.stats().export!.devices).toEqual(['Dome'])
    expect(warnings.filter((w) => (w as { code?: string }).code === 'ERR_INDI_DEVICE_LOOP')).toEqual([])
  })

  it('deletes the devices of a server that says goodbye, and defines them again when it returns', async () => {
    const { s: a, driver } = await site('A', { export: ['*'] }, ['Scope'])
    const { s: b } = await site('B', { import: ['*'] })
    const c = addClient(b.server)
    c.send(GP)
    await c.in.waitFor('<defSwitchVector device="Scope"')
    await a.bridge.close()
    await c.in.waitFor('<delProperty device="Scope"')
    // The same server, a new bridge: the device comes back without the client asking again.
    const { NatsBridge } = await import('../src/index.js')
    const again = new NatsBridge({
      servers: nats.url,
      site: 'A',
      export: ['*'],
      heartbeatMs: 1000,
      logger: () => undefined,
    })
    again.attach(a.server)
    await again.start()
    sites.push({ server: a.server, bridge: again } as Site)
    await c.in.waitFor('<defSwitchVector device="Scope"', 2)
    expect(driver).toBeDefined()
  })

  it('deletes the devices of a site whose heartbeat stops', async () => {
    const { s: b } = await site('B', { import: ['*'] })
    const c = addClient(b.server)
    c.send(GP)
    // A fake exporter: one hello and one answer to the definition request, then silence.
    const nc = await connect({ servers: nats.url })
    try {
      nc.subscribe('indi.Ghost.*.-.get', {
        callback: (_e, m) =>
          m.respond(
            Buffer.from(
              '<defSwitchVector device="Phantom" name="P" state="Idle" perm="rw" rule="AnyOfMany"><defSwitch name="S">Off</defSwitch></defSwitchVector>',
            ),
          ),
      })
      nc.publish(
        'indi.Ghost.-.-.hello',
        Buffer.from(JSON.stringify({ v: 1, site: 'Ghost', instance: 'x', hb: 100, devices: ['Phantom'] })),
      )
      await c.in.waitFor('<defSwitchVector device="Phantom"')
      await c.in.waitFor('<delProperty device="Phantom"')
      expect(b.bridge.stats().import!.sitesLost).toBe(1)
    } finally {
      await nc.close()
    }
  })

  it('carries a BLOB larger than max_payload byte for byte, chunked and verified', async () => {
    const { b, driver } = await twoSites()
    const c = addClient(b.server)
    c.send(GP)
    c.send('<enableBLOB device="Scope">Also</enableBLOB>')
    await c.in.waitFor('<defBLOBVector device="Scope"')
    const image = randomBytes(3 * 1024 * 1024 + 17)
    const b64 = image.toString('base64')
    driver.send(
      `<setBLOBVector device="Scope" name="IMAGE" state="Ok"><oneBLOB name="FRAME" size="${image.length}" format=".fits">${b64}</oneBLOB></setBLOBVector>`,
    )
    await c.in.waitFor('</setBLOBVector>')
    const got = /<oneBLOB[^>]*>\s*([A-Za-z0-9+/=]+)\s*<\/oneBLOB>/.exec(c.in.text)![1]!
    const sha = (x: Uint8Array): string => createHash('sha256').update(x).digest('hex')
    expect(sha(Buffer.from(got, 'base64'))).toBe(sha(image))
    expect(b.bridge.stats().import!.chunksLost).toBe(0)
  })

  it('never blocks the exporter for a slow importer: the import side conflates and counts it', async () => {
    const { s: a, driver } = await site('A', { export: ['*'] }, ['Scope'])
    const local = addClient(a.server)
    local.send(GP)
    const { s: b } = await startSite(
      nats,
      { site: 'B', import: ['*'], importHighWaterMark: 4096 },
      { maxQueueMB: 1 },
    ).then((s) => {
      sites.push(s)
      return { s }
    })
    // A client of B that never reads: B's server stops reading its driver links, NATS does not wait.
    const stuck = addClient(b.server, { read: false, highWaterMark: 1024 })
    stuck.send(GP)
    // Updates that cross a definition request are superseded by its answer: start after it.
    await until(() => {
      const s = b.bridge.stats().import!
      return s.devices.some((d) => d.subscribed) && s.fetchesInFlight === 0
    }, 'B subscribed and defined')
    const n = 20_000
    for (let i = 1; i <= n; i++) driver!.send(setRa(i))
    // A's own client gets everything: nothing on A waits for B.
    await local.in.waitFor(`<oneNumber name="RA">${n}</oneNumber>`)
    await until(() => b.bridge.stats().import!.received >= n, 'B received the updates from NATS')
    const s = b.bridge.stats().import!
    expect(s.conflated).toBeGreaterThan(0)
    expect(s.superseded).toBe(0)
    // A reading client of B still gets the latest value once B's server gave up on the stuck one.
    const reader = addClient(b.server)
    reader.send(GP)
    await reader.in.until(() => new RegExp(`name="RA"[^>]*>\\s*${n}\\s*<`).test(reader.in.text))
  })

  it('keeps serving local drivers while NATS is down, deletes imported devices, and restores them after it returns', async () => {
    const own = new NatsServer(18204)
    await own.start()
    try {
      const a = await startSite(own, { site: 'A', export: ['*'] })
      const b = await startSite(own, { site: 'B', import: ['*'] })
      sites.push(a, b)
      const driver = new RawDriver(['Scope'], scopeDefs)
      a.server.addDriver(driver, { name: 'scope' })
      await driver.ready
      const local = addClient(a.server)
      local.send(GP)
      const remote = addClient(b.server)
      remote.send(GP)
      await remote.in.waitFor('<defSwitchVector device="Scope"')
      await own.stop()
      await remote.in.waitFor('<delProperty device="Scope"')
      driver.send(setRa(3))
      await local.in.waitFor('<oneNumber name="RA">3</oneNumber>')
      await own.start()
      await remote.in.waitFor('<defSwitchVector device="Scope"', 2)
      driver.send(setRa(4))
      await remote.in.waitFor('<oneNumber name="RA">4</oneNumber>')
      expect(b.bridge.stats().reconnects).toBeGreaterThanOrEqual(1)
    } finally {
      await closeSites(sites)
      await own.stop()
    }
  })
})

describe('indi-server command line', () => {
  it('parses the NATS flags, repeatable globs included', () => {
    const o = parseArgs([
      '--nats',
      'nats://h:4222',
      '--nats-site',
      'dome',
      '--nats-export',
      'Tele*',
      '--nats-export=Dome',
      '--nats-import',
      '*',
    ])
    expect(o.nats).toEqual(['nats://h:4222'])
    expect(o.natsSite).toBe('dome')
    expect(o.natsExport).toEqual(['Tele*', 'Dome'])
    expect(o.natsImport).toEqual(['*'])
  })

  it('refuses NATS roles without a NATS URL, and a URL without a role', () => {
    expect(() => parseArgs(['--nats-import', '*'])).toThrow(/need --nats/)
    expect(() => parseArgs(['--nats', 'nats://h:4222', 'drv'])).toThrow(
      /needs --nats-export or --nats-import/,
    )
  })
})
