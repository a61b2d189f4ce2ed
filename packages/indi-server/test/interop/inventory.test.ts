/**
 * Scenario 1: with the same C++ drivers, indi_getprop lists exactly the same
 * `device.property.element` names through our server as through indilib's indiserver
 * (values ignored), before and after both devices are connected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  connectDevices,
  getprop,
  hasIndi,
  portBlock,
  propertyNames,
  type RunningServer,
  type ServerKind,
  serverKinds,
  startServer,
  stopAllServers,
  waitForDevices,
} from './harness.js'

const nextPort = portBlock(18000, 2)
const DEVICES = ['Telescope Simulator', 'CCD Simulator']
const DRIVERS = ['indi_simulator_telescope', 'indi_simulator_ccd']

interface Inventory {
  idle: Set<string>
  connected: Set<string>
  codes: (number | null)[]
}

/** The getprop inventory of a fresh server of `kind`, before and after connecting both devices. */
async function inventory(kind: ServerKind): Promise<Inventory> {
  const server: RunningServer = await startServer({ kind, port: nextPort(), drivers: DRIVERS })
  try {
    const client = await waitForDevices(server.port, DEVICES)
    const idle = await getprop(server.port)
    await connectDevices(client, DEVICES)
    // Drivers define their "connected" properties right after CONNECTION turns Ok; a ping round
    // trip through the server orders our read after what the drivers have sent so far.
    await client.ping('inventory')
    const connected = await getprop(server.port)
    client.close()
    return {
      idle: propertyNames(idle.stdout),
      connected: propertyNames(connected.stdout),
      codes: [idle.code, connected.code],
    }
  } finally {
    await server.stop()
  }
}

const sorted = (s: Set<string>): string[] => [...s].sort()

describe.skipIf(!hasIndi)('interop: property inventory (indi_getprop)', () => {
  let reference: Inventory

  beforeAll(async () => {
    reference = await inventory('indiserver')
  })
  afterAll(stopAllServers)

  it('indiserver reference lists both simulators (sanity check of the harness)', () => {
    expect(reference.codes).toEqual([0, 0])
    expect(reference.idle).toContain('Telescope Simulator.CONNECTION.CONNECT')
    expect(reference.idle).toContain('CCD Simulator.CONNECTION.CONNECT')
    expect(reference.connected.size).toBeGreaterThan(reference.idle.size)
    expect(reference.connected).toContain('Telescope Simulator.EQUATORIAL_EOD_COORD.RA')
  })

  it.runIf(serverKinds.includes('ours'))('our server lists the same names as indiserver', async () => {
    const ours = await inventory('ours')
    expect(ours.codes).toEqual([0, 0])
    expect(sorted(ours.idle)).toEqual(sorted(reference.idle))
    expect(sorted(ours.connected)).toEqual(sorted(reference.connected))
  })
})
