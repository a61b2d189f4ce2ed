/**
 * A client that stops reading (indi-protocol.md §2.9, §6 A11): with `-m 1` the server drops it once
 * more than 1 MB is queued for it, while a client that reads (without BLOBs, as in the reference
 * check) keeps getting every update. The stalled reader is a real TCP socket we stop reading, so the
 * kernel buffers fill before the server's queue grows; we only look at it again afterwards.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  CCD,
  hasIndi,
  is,
  newNumber,
  portBlock,
  RawClient,
  type RunningServer,
  serverKinds,
  startCcdScene,
  stopAllServers,
  until,
} from './harness.js'

const nextPort = portBlock(18076, 2)
const FRAMES = 6

describe.skipIf(!hasIndi).each(serverKinds)('interop on %s: a client that stops reading', (kind) => {
  let server: RunningServer
  let fast: RawClient
  let stalled: RawClient | undefined

  beforeEach(async () => {
    ;({ server, client: fast } = await startCcdScene(kind, nextPort(), { blobs: false, args: ['-m', '1'] }))
  })
  afterEach(async () => {
    fast?.close()
    stalled?.close()
    await server?.stop()
  })
  afterAll(stopAllServers)

  it('with -m 1 drops the stalled client and keeps serving the one that reads', async () => {
    stalled = await RawClient.connect(server.port)
    stalled.send(`<getProperties version="1.7"/><enableBLOB device="${CCD}">Also</enableBLOB>`)
    await stalled.waitFor(is('defNumberVector', CCD, 'CCD_EXPOSURE'), 10_000)
    stalled.socket.pause()

    for (let i = 0; i < FRAMES; i++) {
      const from = fast.mark()
      fast.send(newNumber(CCD, 'CCD_EXPOSURE', { CCD_EXPOSURE_VALUE: 0.1 }))
      await fast.waitFor(
        (e) => is('setNumberVector', CCD, 'CCD_EXPOSURE')(e) && e.attrs.state === 'Ok',
        15_000,
        from,
      )
    }
    await fast.ping('fast client still served')
    // Read what the kernel kept for the stalled client: the server must have closed it.
    stalled.socket.resume()
    await until(() => stalled!.closed, 'the server to close the stalled client', 15_000)
    expect(stalled.elements.filter((e) => e.tag === 'setBLOBVector').length).toBeLessThan(FRAMES)
  })
})
