/**
 * Scenario 4: a raw TCP client enables BLOBs and takes three CCD exposures in a row through the
 * server. Each frame must arrive complete: base64 decoding to exactly `size` bytes of FITS. The
 * second and third frames only come if the server answered the driver's
 * `<pingRequest uid='SetBLOB/N'/>` (indi-protocol.md §0.2).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  expose,
  hasIndi,
  portBlock,
  type RawClient,
  type RunningServer,
  serverKinds,
  startCcdScene,
  stopAllServers,
} from './harness.js'

const nextPort = portBlock(18006, 2)

describe.skipIf(!hasIndi).each(serverKinds)('interop on %s: CCD BLOBs to a raw TCP client', (kind) => {
  let server: RunningServer
  let client: RawClient

  beforeAll(async () => {
    ;({ server, client } = await startCcdScene(kind, nextPort()))
  })
  afterAll(async () => {
    client?.close()
    await server?.stop()
    await stopAllServers()
  })

  it('delivers three complete FITS frames in a row', async () => {
    for (let i = 0; i < 3; i++) {
      const frame = await expose(client)
      expect(frame.attrs.format).toBe('.fits')
      expect(frame.bytes.length).toBe(Number(frame.attrs.size))
      expect(frame.bytes.subarray(0, 9).toString('latin1')).toBe('SIMPLE  =')
    }
  })

  it('answers the driver pings itself and never forwards them to clients', async () => {
    // The frames above came only because the server answered each SetBLOB ping.
    await expose(client)
    expect(client.elements.filter((e) => e.tag === 'pingRequest' || e.tag === 'pingReply')).toEqual([])
  })
})
