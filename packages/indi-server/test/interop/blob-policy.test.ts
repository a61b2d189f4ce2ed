/**
 * BLOB policy per client (indi-protocol.md §2.7): Never by default, Also, Only (BLOBs and nothing
 * else), per-property enableBLOB, and indi_getprop downloading a frame to a file. A control
 * client with `Also` triggers the exposures and tells us when a frame has gone out.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  CCD,
  expose,
  getpropDownload,
  hasIndi,
  is,
  portBlock,
  RawClient,
  type RunningServer,
  serverKinds,
  startCcdScene,
  stopAllServers,
} from './harness.js'

const nextPort = portBlock(18048, 2)

describe.skipIf(!hasIndi).each(serverKinds)('interop on %s: BLOB policies', (kind) => {
  let server: RunningServer
  let control: RawClient
  const clients: RawClient[] = []

  /** A client that sent getProperties plus `extra`, once it has the CCD's definitions (or a ping back). */
  async function client(extra: string, waitForDefs = true): Promise<RawClient> {
    const c = await RawClient.connect(server.port)
    clients.push(c)
    c.send(`<getProperties version="1.7"/>${extra}`)
    if (waitForDefs) await c.waitFor(is('defNumberVector', CCD, 'CCD_EXPOSURE'), 10_000)
    return c
  }

  // One server per kind for the whole file (each test uses its own fresh clients): server start
  // and connection dominate this file's run time otherwise.
  beforeAll(async () => {
    ;({ server, client: control } = await startCcdScene(kind, nextPort()))
  })
  afterEach(() => {
    for (const c of clients.splice(0)) c.close()
  })
  afterAll(async () => {
    control?.close()
    await server?.stop()
    await stopAllServers()
  })

  it('sends no BLOB to a client that never enabled them, but the rest of the exposure', async () => {
    const never = await client('')
    const from = never.mark()
    await expose(control)
    // A ping reply is queued behind whatever the server already queued for this client.
    await never.ping('barrier')
    const got = never.elements.slice(from)
    expect(got.some(is('setNumberVector', CCD, 'CCD_EXPOSURE'))).toBe(true)
    expect(got.filter((e) => e.tag === 'setBLOBVector')).toEqual([])
  })

  it('sends only BLOBs to a client with enableBLOB Only', async () => {
    const only = await client(`<enableBLOB device="${CCD}">Only</enableBLOB>`, false)
    await only.ping('ready')
    const from = only.mark()
    await expose(control)
    await only.waitFor(is('setBLOBVector', CCD, 'CCD1'), 10_000, from)
    await only.ping('barrier')
    const tags = new Set(only.elements.slice(from).map((e) => e.tag))
    expect([...tags].sort()).toEqual(['pingReply', 'setBLOBVector'])
  })

  it('sends no CCD1 frame to a client that enabled BLOBs for CCD2 only', async () => {
    const ccd2 = await client(`<enableBLOB device="${CCD}" name="CCD2">Also</enableBLOB>`)
    await ccd2.ping('ready')
    const from = ccd2.mark()
    await expose(control)
    await ccd2.ping('barrier')
    expect(ccd2.elements.slice(from).filter((e) => e.tag === 'setBLOBVector')).toEqual([])
  })

  it('indi_getprop downloads the frame into a file of exactly `size` bytes', async () => {
    const { result, files, last } = await getpropDownload(server.port, `${CCD}.CCD1.CCD1`, () =>
      expose(control),
    )
    expect(result.code).toBe(0)
    expect([...files.keys()]).toEqual([`${CCD}.CCD1.CCD1.fits`])
    const bytes = files.get(`${CCD}.CCD1.CCD1.fits`)!
    expect(bytes.length).toBe(last!.bytes.length)
    expect(bytes.subarray(0, 9).toString('latin1')).toBe('SIMPLE  =')
  })
})
