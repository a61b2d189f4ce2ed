/**
 * Scenario 5: libindi drivers call exit(1) on a getProperties whose version is missing or above
 * 1.7 (indi-protocol.md §0.1). indiserver forwards such requests unchanged and the driver dies; our
 * server must clamp the version so no C++ driver dies and they keep answering.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  CCD,
  childNamed,
  hasIndi,
  is,
  isAlive,
  portBlock,
  RawClient,
  type RunningServer,
  SCOPE,
  type ServerKind,
  serverKinds,
  startServer,
  stopAllServers,
  until,
  waitForDevices,
} from './harness.js'

const nextPort = portBlock(18081, 6)
const DRIVERS = ['indi_simulator_telescope', 'indi_simulator_ccd']

interface Setup {
  server: RunningServer
  monitor: RawClient
  pids: number[]
}

async function setup(kind: ServerKind): Promise<Setup> {
  const server = await startServer({ kind, port: nextPort(), drivers: DRIVERS })
  const monitor = await waitForDevices(server.port, [SCOPE, CCD])
  const pids = DRIVERS.map((d) => childNamed(server.pid, d))
  if (pids.some((p) => p === undefined)) throw new Error(`driver pids not found under server ${server.pid}`)
  return { server, monitor, pids: pids as number[] }
}

/**
 * A fresh client sends `xml` and gets both devices' definitions; then the drivers still answer a
 * device-specific getProperties, and they are the same processes (none died and was restarted).
 */
async function expectDriversSurvive(s: Setup, xml: string): Promise<void> {
  const client = await RawClient.connect(s.server.port)
  try {
    client.send(xml)
    for (const d of [SCOPE, CCD]) await client.waitFor(is('defSwitchVector', d, 'CONNECTION'), 15_000)
  } finally {
    client.close()
  }
  const from = s.monitor.mark()
  s.monitor.send(`<getProperties version="1.7" device="${SCOPE}" name="CONNECTION"/>`)
  s.monitor.send(`<getProperties version="1.7" device="${CCD}" name="CONNECTION"/>`)
  for (const d of [SCOPE, CCD]) await s.monitor.waitFor(is('defSwitchVector', d, 'CONNECTION'), 10_000, from)
  expect(s.pids.map(isAlive)).toEqual([true, true])
  expect(DRIVERS.map((d) => childNamed(s.server.pid, d))).toEqual(s.pids)
  expect(s.monitor.elements.filter((e) => e.tag === 'delProperty')).toEqual([])
}

const runOurs = hasIndi && serverKinds.includes('ours')
const runReference = hasIndi && serverKinds.includes('indiserver')

describe.skipIf(!runOurs)('interop on ours: getProperties version guard', () => {
  let s: Setup

  beforeEach(async () => {
    s = await setup('ours')
  })
  afterEach(async () => {
    s?.monitor.close()
    await s?.server.stop()
  })
  afterAll(stopAllServers)

  it('a client\'s getProperties version="2.0" is answered and no C++ driver dies', async () => {
    await expectDriversSurvive(s, '<getProperties version="2.0"/>')
  })

  it("a client's getProperties without version is answered and no C++ driver dies", async () => {
    await expectDriversSurvive(s, '<getProperties/>')
  })

  it('an INDIGO-style getProperties version="1.7" switch="2.0" is served as 1.7', async () => {
    await expectDriversSurvive(s, '<getProperties version="1.7" switch="2.0" client="interop"/>')
  })
})

describe.skipIf(!runReference)('reference: indiserver and getProperties versions', () => {
  let s: Setup

  beforeEach(async () => {
    s = await setup('indiserver')
  })
  afterEach(async () => {
    s?.monitor.close()
    await s?.server.stop()
  })
  afterAll(stopAllServers)

  it('control: with version="1.7" the drivers survive', async () => {
    await expectDriversSurvive(s, '<getProperties version="1.7"/>')
  })

  it('control: version="1.7" switch="2.0" (INDIGO handshake) is served as 1.7', async () => {
    await expectDriversSurvive(s, '<getProperties version="1.7" switch="2.0" client="interop"/>')
  })

  it('indiserver forwards version="2.0" unchanged and the C++ drivers exit (known defect)', async () => {
    const client = await RawClient.connect(s.server.port)
    client.send('<getProperties version="2.0"/>')
    await until(() => s.pids.every((p) => !isAlive(p)), 'both drivers to exit', 10_000)
    await s.monitor.waitFor(is('delProperty', SCOPE), 10_000)
    await s.server.waitForLog(/restart #0/, 10_000)
    client.close()
  })
})
