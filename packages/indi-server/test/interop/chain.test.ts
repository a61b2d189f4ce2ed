/**
 * Scenario 7: chaining in both directions. A top server gets the telescope as a remote device
 * (`'Telescope Simulator@127.0.0.1:PORT'`) from a bottom server that runs the driver; indilib's
 * tools talk to the top server only. The indiserver-on-indiserver pair is the reference.
 */
import { afterEach, describe, expect, it } from 'vitest'
import {
  CCD,
  connectDevices,
  expose,
  fitsCard,
  getprop,
  hasIndi,
  is,
  portBlock,
  propertyNames,
  propertyValues,
  type RawClient,
  type RunningServer,
  SCOPE,
  type ServerKind,
  serverKinds,
  setprop,
  sexagesimal,
  startServer,
  stopAllServers,
  syncTelescope,
  waitForDevices,
} from './harness.js'

// 4 server pairs × 2 tests × 2 servers
const nextPort = portBlock(18028, 12)

const pairs: [top: ServerKind, bottom: ServerKind][] = (
  [
    ['indiserver', 'indiserver'],
    ['indiserver', 'ours'],
    ['ours', 'indiserver'],
  ] as [ServerKind, ServerKind][]
).filter(([t, b]) => serverKinds.includes(t) && serverKinds.includes(b))

describe.skipIf(!hasIndi || pairs.length === 0).each(pairs)(
  'interop: %s on top of %s',
  (topKind, bottomKind) => {
    let bottom: RunningServer | undefined
    let top: RunningServer | undefined
    let client: RawClient | undefined

    afterEach(async () => {
      client?.close()
      // Top first: indiserver exits when its remote goes away (indilib/indi#1927).
      await top?.stop()
      await bottom?.stop()
      await stopAllServers()
    })

    it('indi_getprop through the top server sees the remote device and indi_setprop connects it', async () => {
      bottom = await startServer({
        kind: bottomKind,
        port: nextPort(),
        drivers: ['indi_simulator_telescope'],
      })
      ;(await waitForDevices(bottom.port, [SCOPE])).close()
      const direct = await getprop(bottom.port, [`${SCOPE}.*.*`], 1)
      expect(direct.code).toBe(0)

      top = await startServer({
        kind: topKind,
        port: nextPort(),
        drivers: [`${SCOPE}@127.0.0.1:${bottom.port}`],
      })
      client = await waitForDevices(top.port, [SCOPE])

      const through = await getprop(top.port, [`${SCOPE}.*.*`], 1)
      expect(through.code).toBe(0)
      expect([...propertyNames(through.stdout)].sort()).toEqual([...propertyNames(direct.stdout)].sort())

      const from = client.mark()
      const connect = await setprop(top.port, [`${SCOPE}.CONNECTION.CONNECT=On`])
      expect(connect.code).toBe(0)
      await client.waitFor(
        (e) =>
          is('setSwitchVector', SCOPE, 'CONNECTION')(e) &&
          e.attrs.state === 'Ok' &&
          e.children.some((c) => c.attrs.name === 'CONNECT' && c.text === 'On'),
        15_000,
        from,
      )
      // The bottom server's driver really is connected.
      const state = await getprop(bottom.port, [`${SCOPE}.CONNECTION.CONNECT`])
      expect(propertyValues(state.stdout).get(`${SCOPE}.CONNECTION.CONNECT`)).toBe('On')
    })

    it('a CCD on the top server snoops the telescope on the bottom server across the chain', async () => {
      bottom = await startServer({
        kind: bottomKind,
        port: nextPort(),
        drivers: ['indi_simulator_telescope'],
      })
      top = await startServer({
        kind: topKind,
        port: nextPort(),
        drivers: [`${SCOPE}@127.0.0.1:${bottom.port}`, 'indi_simulator_ccd'],
      })
      client = await waitForDevices(top.port, [SCOPE, CCD])
      await connectDevices(client, [SCOPE, CCD])
      client.send(`<enableBLOB device="${CCD}" name="CCD1">Also</enableBLOB>`)
      await syncTelescope(client, 7, 30)
      const frame = await expose(client)
      const objctra = fitsCard(frame.bytes, 'OBJCTRA')
      expect(objctra, 'OBJCTRA in FITS header').toBeDefined()
      expect(sexagesimal(objctra!)).toBeCloseTo(7, 1)
    })
  },
)
