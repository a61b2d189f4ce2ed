/**
 * Scenario 3: the CCD simulator snoops the telescope's coordinates through the server. The CCD
 * writes what it snooped into each frame's FITS header (OBJCTRA, J2000), so after syncing the
 * telescope to a new RA the next exposure must carry that RA.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  CCD,
  expose,
  fitsCard,
  hasIndi,
  portBlock,
  type RawClient,
  type RunningServer,
  SCOPE,
  serverKinds,
  sexagesimal,
  startCcdScene,
  stopAllServers,
  syncTelescope,
} from './harness.js'

const nextPort = portBlock(18004, 2)

describe.skipIf(!hasIndi).each(serverKinds)('interop on %s: snooping between C++ drivers', (kind) => {
  let server: RunningServer
  let client: RawClient

  beforeEach(async () => {
    ;({ server, client } = await startCcdScene(kind, nextPort(), {
      connect: [SCOPE, CCD],
      blobProperty: 'CCD1',
    }))
  })
  afterEach(async () => {
    client?.close()
    await server?.stop()
  })
  afterAll(stopAllServers)

  it("the CCD's FITS header follows the telescope's RA", async () => {
    // OBJCTRA is precessed to J2000, so it differs from the EOD value by a few arcminutes.
    for (const ra of [3, 15]) {
      await syncTelescope(client, ra, 20)
      const frame = await expose(client)
      const objctra = fitsCard(frame.bytes, 'OBJCTRA')
      expect(objctra, 'OBJCTRA in FITS header').toBeDefined()
      expect(sexagesimal(objctra!)).toBeCloseTo(ra, 1)
      expect(fitsCard(frame.bytes, 'TELESCOP')).toBe(SCOPE)
    }
  })
})
