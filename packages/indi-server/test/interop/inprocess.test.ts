/**
 * The library form of our server (`fixtures/inprocess-server.mjs`): `IndiServer.addDriver()` with
 * an in-process @indi-ts/indi-driver driver beside `addExecutable()`'s C++ telescope, reached by
 * indilib's tools directly and through indilib's indiserver chained on top.
 */
import { resolve } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  fixturesDir,
  getprop,
  hasIndi,
  is,
  portBlock,
  propertyValues,
  type RawClient,
  SCOPE,
  serverKinds,
  setprop,
  startServer,
  stopAllServers,
  waitForDevices,
} from './harness.js'

const nextPort = portBlock(18078, 3)
// The hasty indi_setprop test's own block: 18081 starts version-guard's.
const hastyPort = portBlock(18093, 1)
const DEVICE = 'TS In-Process'
const script = resolve(fixturesDir, 'inprocess-server.mjs')

const clients: RawClient[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.close()
  await stopAllServers()
})

describe.skipIf(!hasIndi || !serverKinds.includes('ours'))('interop: IndiServer as a library', () => {
  it('serves an in-process driver and an executable to indi_getprop and indi_setprop', async () => {
    const server = await startServer({ kind: 'ours', port: nextPort(), drivers: [], script })
    const client = await waitForDevices(server.port, [SCOPE])
    clients.push(client)
    await client.waitFor(is('defNumberVector', DEVICE, 'FOCUS'), 10_000)

    const listed = propertyValues((await getprop(server.port)).stdout)
    expect(listed.get(`${DEVICE}.FOCUS.POSITION`)).toBe('5000')
    expect(listed.has(`${SCOPE}.CONNECTION.CONNECT`)).toBe(true)

    const from = client.mark()
    expect((await setprop(server.port, [`${DEVICE}.FOCUS.POSITION=1234`])).code).toBe(0)
    await client.waitFor(
      (e) =>
        is('setNumberVector', DEVICE, 'FOCUS')(e) && e.attrs.state === 'Ok' && e.children[0]?.text === '1234',
      10_000,
      from,
    )
  })

  it("routes indi_setprop's new* although it leaves while definitions are still being written to it", async () => {
    // indi_setprop sends its new* as soon as it has seen the property's definition and exits; with
    // 500 more definitions behind FOCUS our write to it then fails (EPIPE/ECONNRESET). The new*
    // had already arrived and must still be read and routed (indilib #1669).
    const server = await startServer({
      kind: 'ours',
      port: hastyPort(),
      drivers: [],
      script,
      env: { BULK_VECTORS: '500' },
    })
    const client = await waitForDevices(server.port, [SCOPE])
    clients.push(client)
    await client.waitFor(is('defNumberVector', DEVICE, 'FOCUS'), 10_000)
    for (const value of [4321, 4322, 4323]) {
      const from = client.mark()
      expect((await setprop(server.port, [`${DEVICE}.FOCUS.POSITION=${value}`])).code).toBe(0)
      await client.waitFor(
        (e) =>
          is('setNumberVector', DEVICE, 'FOCUS')(e) &&
          e.attrs.state === 'Ok' &&
          e.children[0]?.text === String(value),
        10_000,
        from,
      )
    }
  })

  it.runIf(serverKinds.includes('indiserver'))('is reachable through indiserver chained on top', async () => {
    const server = await startServer({ kind: 'ours', port: nextPort(), drivers: [], script })
    const top = await startServer({
      kind: 'indiserver',
      port: nextPort(),
      drivers: [`@127.0.0.1:${server.port}`],
    })
    const client = await waitForDevices(top.port, [SCOPE])
    clients.push(client)
    await client.waitFor(is('defNumberVector', DEVICE, 'FOCUS'), 10_000)
    const from = client.mark()
    expect((await setprop(top.port, [`${DEVICE}.FOCUS.POSITION=777`])).code).toBe(0)
    await client.waitFor(
      (e) =>
        is('setNumberVector', DEVICE, 'FOCUS')(e) && e.attrs.state === 'Ok' && e.children[0]?.text === '777',
      10_000,
      from,
    )
  })
})
