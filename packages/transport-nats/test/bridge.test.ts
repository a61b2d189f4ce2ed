import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  addClient,
  closeSites,
  hasNatsServer,
  NatsServer,
  RawDriver,
  type Site,
  startSite,
} from './helpers.js'

const GP = '<getProperties version="1.7"/>'
const nats = new NatsServer(18200)
const sites: Site[] = []

if (!hasNatsServer) console.warn('transport-nats: nats-server is not installed; skipping the NATS tests')

describe.skipIf(!hasNatsServer)('export and import across two indi-servers', () => {
  beforeAll(() => nats.start())
  afterAll(() => nats.stop())
  afterEach(() => closeSites(sites))

  async function twoSites(): Promise<{ a: Site; b: Site; driver: RawDriver }> {
    const a = await startSite(nats, { site: 'A', export: ['*'] })
    sites.push(a)
    const driver = new RawDriver(['Scope'])
    a.server.addDriver(driver, { name: 'scope' })
    await driver.ready
    const b = await startSite(nats, { site: 'B', import: ['*'] })
    sites.push(b)
    return { a, b, driver }
  }

  it('gives a client of the importing server the definitions of a device on the exporting one', async () => {
    const { b } = await twoSites()
    const c = addClient(b.server)
    c.send(GP)
    await c.in.waitFor('<defSwitchVector device="Scope" name="CONNECTION"')
  })

  it('carries a command to the owning driver and its answer back', async () => {
    const { b, driver } = await twoSites()
    const c = addClient(b.server)
    c.send(GP)
    await c.in.waitFor('<defSwitchVector device="Scope"')
    c.send(
      '<newSwitchVector device="Scope" name="CONNECTION"><oneSwitch name="CONNECT">On</oneSwitch></newSwitchVector>',
    )
    await driver.in.waitFor('<newSwitchVector device="Scope" name="CONNECTION">')
    driver.send(
      '<setSwitchVector device="Scope" name="CONNECTION" state="Ok"><oneSwitch name="CONNECT">On</oneSwitch><oneSwitch name="DISCONNECT">Off</oneSwitch></setSwitchVector>',
    )
    await c.in.waitFor('<setSwitchVector device="Scope" name="CONNECTION" state="Ok">')
    expect(b.bridge.stats().import!.commands).toBe(1)
  })
})
