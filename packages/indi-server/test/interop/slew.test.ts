/**
 * Scenario 2: indi_setprop connects the telescope simulator and slews it with a sexagesimal
 * `new*`; indi_eval waits for the slew to finish through the server; RA ends near 10.5 h.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  getprop,
  hasIndi,
  is,
  portBlock,
  propertyValues,
  type RawClient,
  type RunningServer,
  runTool,
  SCOPE,
  serverKinds,
  setprop,
  startServer,
  stopAllServers,
  waitForDevices,
} from './harness.js'

const nextPort = portBlock(18002, 2)

describe.skipIf(!hasIndi).each(serverKinds)('interop on %s: connect and slew with indilib tools', (kind) => {
  let server: RunningServer
  let watcher: RawClient

  beforeEach(async () => {
    server = await startServer({ kind, port: nextPort(), drivers: ['indi_simulator_telescope'] })
    watcher = await waitForDevices(server.port, [SCOPE])
  })
  afterEach(async () => {
    watcher?.close()
    await server?.stop()
  })
  afterAll(stopAllServers)

  it('indi_setprop connects, slews to 10:30:00;45 and indi_eval sees the slew complete', async () => {
    const connect = await setprop(server.port, [`${SCOPE}.CONNECTION.CONNECT=On`])
    expect(connect).toMatchObject({ code: 0 })
    await watcher.waitFor(
      (e) => is('setSwitchVector', SCOPE, 'CONNECTION')(e) && e.attrs.state === 'Ok',
      15_000,
    )
    // The coordinates property only exists once connected.
    await watcher.waitFor(is('defNumberVector', SCOPE, 'EQUATORIAL_EOD_COORD'), 15_000)

    const from = watcher.mark()
    const slew = await setprop(server.port, [`${SCOPE}.EQUATORIAL_EOD_COORD.RA;DEC=10:30:00;45`])
    expect(slew).toMatchObject({ code: 0 })
    // Busy first: otherwise indi_eval could see the pre-slew Ok and pass without waiting.
    await watcher.waitFor(
      (e) => is('setNumberVector', SCOPE, 'EQUATORIAL_EOD_COORD')(e) && e.attrs.state === 'Busy',
      15_000,
      from,
    )

    const evaluated = await runTool(
      'indi_eval',
      [
        '-h',
        '127.0.0.1',
        '-p',
        String(server.port),
        '-t',
        '60',
        '-w',
        `"${SCOPE}.EQUATORIAL_EOD_COORD._STATE"==1`,
      ],
      70_000,
    )
    expect(evaluated).toMatchObject({ code: 0 })

    const coords = await getprop(server.port, [`${SCOPE}.EQUATORIAL_EOD_COORD.*`])
    expect(coords.code).toBe(0)
    const values = propertyValues(coords.stdout)
    expect(Number(values.get(`${SCOPE}.EQUATORIAL_EOD_COORD.RA`))).toBeCloseTo(10.5, 1)
    expect(Number(values.get(`${SCOPE}.EQUATORIAL_EOD_COORD.DEC`))).toBeCloseTo(45, 1)
  })
})
