/**
 * What each client receives (indi-protocol.md §2.5–§2.6) and how the server copes with awkward
 * client input (§6 A8): device-limited getProperties, silence before getProperties, a request
 * dribbled one byte per write, several requests in one write, and malformed XML.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  CCD,
  CCD_SCENE_DRIVERS,
  childNamed,
  hasIndi,
  is,
  isAlive,
  portBlock,
  RawClient,
  type RunningServer,
  SCOPE,
  serverKinds,
  startCcdScene,
  stopAllServers,
  waitForDevices,
} from './harness.js'

const nextPort = portBlock(18052, 2)

describe.skipIf(!hasIndi).each(serverKinds)('interop on %s: what clients receive', (kind) => {
  let server: RunningServer
  let control: RawClient
  const clients: RawClient[] = []

  async function connect(): Promise<RawClient> {
    const c = await RawClient.connect(server.port)
    clients.push(c)
    return c
  }

  /** Resolves after the control client has seen `n` more telescope set* (it emits every 250 ms). */
  async function telescopeActivity(n = 2): Promise<void> {
    let from = control.mark()
    for (let i = 0; i < n; i++) {
      const e = await control.waitFor(
        (x) => x.tag.startsWith('set') && x.attrs.device === SCOPE,
        10_000,
        from,
      )
      from = control.elements.indexOf(e, from) + 1
    }
  }

  // One server per kind for the whole file (each test uses its own fresh clients): server start
  // and connection dominate this file's run time otherwise.
  beforeAll(async () => {
    ;({ server, client: control } = await startCcdScene(kind, nextPort(), { connect: [SCOPE], blobs: false }))
  })
  afterEach(() => {
    for (const c of clients.splice(0)) c.close()
  })
  afterAll(async () => {
    control?.close()
    await server?.stop()
    await stopAllServers()
  })

  it('a client that asked for one device gets nothing about another', async () => {
    const ccdOnly = await connect()
    ccdOnly.send(`<getProperties version="1.7" device="${CCD}"/>`)
    await ccdOnly.waitFor(is('defSwitchVector', CCD, 'CONNECTION'), 10_000)
    await telescopeActivity()
    await ccdOnly.ping('barrier')
    expect(ccdOnly.elements.filter((e) => e.attrs.device === SCOPE)).toEqual([])
  })

  it('a client that never sent getProperties gets no device traffic', async () => {
    const silent = await connect()
    await telescopeActivity()
    await silent.ping('barrier')
    expect(silent.elements.map((e) => e.tag)).toEqual(['pingReply'])
  })

  it('answers a getProperties written one byte per write', async () => {
    const slow = await connect()
    slow.socket.setNoDelay(true)
    for (const byte of Buffer.from('<?xml version="1.0"?>\n<getProperties version="1.7"/>')) {
      await new Promise<void>((res) => slow.socket.write(Buffer.of(byte), () => res()))
    }
    for (const d of [SCOPE, CCD]) await slow.waitFor(is('defSwitchVector', d, 'CONNECTION'), 10_000)
  })

  it('answers several requests written at once, in order', async () => {
    const batch = await connect()
    batch.send('<pingRequest uid="1"/><pingRequest uid="2"/>\n<pingRequest uid="3"/>')
    await batch.waitFor((e) => e.tag === 'pingReply' && e.attrs.uid === '3', 10_000)
    expect(batch.elements.filter((e) => e.tag === 'pingReply').map((e) => e.attrs.uid)).toEqual([
      '1',
      '2',
      '3',
    ])
  })

  it('survives malformed XML from a client: drivers untouched, other clients served', async () => {
    const pids = CCD_SCENE_DRIVERS.map((d) => childNamed(server.pid, d))
    const bad = await connect()
    bad.send('<bad attr=x/><a></b></oops><newSwitchVector device="')
    bad.socket.end()
    await telescopeActivity()
    const fresh = await waitForDevices(server.port, [SCOPE, CCD])
    clients.push(fresh)
    expect(CCD_SCENE_DRIVERS.map((d) => childNamed(server.pid, d))).toEqual(pids)
    expect(pids.every((p) => p !== undefined && isAlive(p))).toBe(true)
  })
})
