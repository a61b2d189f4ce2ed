/**
 * The per-remote BLOB flag (`addRemote({ blobs })`) against indilib's indiserver as the remote,
 * running the C++ CCD simulator: `true` makes indiserver send the link BLOBs no client asked for;
 * `false` makes it send none, even to a client that enabled them.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { IndiServer, type LogEntry } from '../../src/index.js'
import {
  CCD,
  connectDevices,
  hasIndi,
  is,
  newNumber,
  type RawClient,
  type RunningServer,
  startServer,
  stopAllServers,
  waitForDevices,
} from './harness.js'

// Port 18332: this parity work's range (the harness's portBlock is for 18000–18099).
const REMOTE_PORT = 18332

describe.skipIf(!hasIndi)('interop: the blobs flag of a remote link to indiserver', () => {
  let remote: RunningServer
  let setup: RawClient
  let upstream: IndiServer | undefined
  let client: RawClient | undefined

  beforeAll(async () => {
    remote = await startServer({ kind: 'indiserver', port: REMOTE_PORT, drivers: ['indi_simulator_ccd'] })
    setup = await waitForDevices(remote.port, [CCD])
    await connectDevices(setup, [CCD])
  })
  afterEach(async () => {
    client?.close()
    await upstream?.close()
    client = undefined
    upstream = undefined
  })
  afterAll(async () => {
    setup?.close()
    await remote?.stop()
    await stopAllServers()
  })

  /** Our server chained to the indiserver, tracing the link; resolves `read(pattern)` on a trace line. */
  async function chain(blobs: boolean): Promise<{ read: (re: RegExp) => Promise<void>; lines: string[] }> {
    const lines: string[] = []
    const waiters: { re: RegExp; resolve: () => void }[] = []
    const logger = (e: LogEntry): void => {
      if (e.scope !== 'indi:server:trace') return
      lines.push(e.text)
      for (const w of [...waiters]) if (w.re.test(e.text)) waiters.splice(waiters.indexOf(w), 1)[0]!.resolve()
    }
    upstream = new IndiServer({ port: 0, logger })
    upstream.on('driverStarted', (info) => upstream?.setTrace({ driver: info.id }))
    upstream.addRemote({ host: '127.0.0.1', port: REMOTE_PORT, blobs })
    const read = (re: RegExp): Promise<void> =>
      lines.some((l) => re.test(l))
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ re, resolve }))
    await upstream.listen()
    return { read, lines }
  }

  it('with blobs: true the link asks for BLOBs itself and receives frames no client asked for', async () => {
    const { read } = await chain(true)
    await read(/queuing <enableBLOB[^>]*name="CCD1"[^>]*>Also</)
    // Exposure started by a client of the remote itself: nobody on our side enabled BLOBs.
    setup.send(newNumber(CCD, 'CCD_EXPOSURE', { CCD_EXPOSURE_VALUE: 0.2 }))
    await read(/read <setBLOBVector[^>]*CCD1/)
  })

  it('with blobs: false no BLOB crosses the link, even for a client that enabled them', async () => {
    const { read, lines } = await chain(false)
    await read(/queuing <enableBLOB[^>]*name="CCD1"[^>]*>Never</)
    client = await waitForDevices(upstream!.address!.port, [CCD])
    client.send(`<enableBLOB device="${CCD}">Also</enableBLOB>`)
    const from = client.mark()
    client.send(newNumber(CCD, 'CCD_EXPOSURE', { CCD_EXPOSURE_VALUE: 0.2 }))
    await client.waitFor(
      (e) => is('setNumberVector', CCD, 'CCD_EXPOSURE')(e) && e.attrs.state === 'Ok',
      30_000,
      from,
    )
    // A barrier: the driver answers this after it finished the exposure, and indiserver queues the
    // answer behind any BLOB of it.
    client.send(`<getProperties version="1.7" device="${CCD}" name="CCD1"/>`)
    await client.waitFor((e) => is('defBLOBVector', CCD, 'CCD1')(e), 30_000, from)
    expect(client.elements.slice(from).filter((e) => e.tag === 'setBLOBVector')).toEqual([])
    expect(lines.filter((l) => l.includes('read <setBLOBVector'))).toEqual([])
  })
})
