/**
 * Server duties that indilib clients and drivers rely on (indi-protocol.md §1.3, §2.5, §2.10):
 * pings from clients, the new* echo to other clients, and a crashed driver's delProperty and
 * restart. Each runs on indiserver (the reference) and on ours.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  childNamed,
  hasIndi,
  is,
  isAlive,
  newSwitch,
  portBlock,
  RawClient,
  type RunningServer,
  SCOPE,
  serverKinds,
  startServer,
  stopAllServers,
  until,
  waitForDevices,
} from './harness.js'

const nextPort = portBlock(18040, 8)

describe.skipIf(!hasIndi).each(serverKinds)('interop on %s: routing duties', (kind) => {
  let server: RunningServer
  const clients: RawClient[] = []

  beforeEach(async () => {
    server = await startServer({
      kind,
      port: nextPort(),
      drivers: ['indi_simulator_telescope'],
      args: ['-r', '2'],
    })
    clients.push(await waitForDevices(server.port, [SCOPE]))
  })
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close()
    await server?.stop()
  })
  afterAll(stopAllServers)

  it("answers a client's pingRequest with a pingReply carrying the same uid", async () => {
    const client = await RawClient.connect(server.port)
    clients.push(client)
    client.send("<pingRequest uid='interop &amp; 1'/>")
    const reply = await client.waitFor(is('pingReply'), 10_000)
    expect(reply.attrs.uid).toBe('interop & 1')
  })

  it("echoes a client's newSwitchVector to another interested client, not to the sender", async () => {
    const [a] = clients as [RawClient]
    const b = await waitForDevices(server.port, [SCOPE])
    clients.push(b)
    const fromB = b.mark()
    a.send(newSwitch(SCOPE, 'DEBUG', ['ENABLE']))
    await b.waitFor(is('newSwitchVector', SCOPE, 'DEBUG'), 10_000, fromB)
    // The ping reply is queued behind anything already queued to A (§1.3), so it is a barrier.
    await a.ping('barrier')
    expect(a.elements.filter((e) => e.tag === 'newSwitchVector')).toEqual([])
  })

  it("forwards a client's new* even when that client resets the connection right after", async () => {
    // indi_setprop does this: getProperties, newSwitchVector, exit, while the server is still
    // writing definitions to it; the server's write then fails (EPIPE/ECONNRESET).
    const [monitor] = clients as [RawClient]
    const from = monitor.mark()
    const hasty = await RawClient.connect(server.port)
    hasty.send('<getProperties version="1.7"/>')
    await hasty.waitFor(is('defSwitchVector', SCOPE, 'CONNECTION'), 10_000)
    // Requests ahead of the new* keep the server writing to us while it reads it, widening the
    // window in which its write fails before the new* has been routed (ours lost it ~1 run in 5
    // without them).
    const pings = Array.from({ length: 500 }, (_, i) => `<pingRequest uid="${i}"/>`).join('')
    hasty.socket.write(`${pings}${newSwitch(SCOPE, 'CONNECTION', ['CONNECT'])}`, () =>
      hasty.socket.resetAndDestroy(),
    )
    await monitor.waitFor(
      (e) => is('setSwitchVector', SCOPE, 'CONNECTION')(e) && e.attrs.state === 'Ok',
      10_000,
      from,
    )
  })

  it('tells clients the device is gone when its driver dies, restarts it and redefines it', async () => {
    const [monitor] = clients as [RawClient]
    const pid = childNamed(server.pid, 'indi_simulator_telescope')
    expect(pid).toBeDefined()
    const from = monitor.mark()
    process.kill(pid!, 'SIGKILL')
    await monitor.waitFor((e) => is('delProperty', SCOPE)(e) && e.attrs.name === undefined, 10_000, from)
    const deleted = monitor.elements.findIndex((e, i) => i >= from && e.tag === 'delProperty')
    await monitor.waitFor(is('defSwitchVector', SCOPE, 'CONNECTION'), 15_000, deleted)
    await until(() => {
      const restarted = childNamed(server.pid, 'indi_simulator_telescope')
      return restarted !== undefined && restarted !== pid && isAlive(restarted)
    }, 'a new telescope driver process')
  })
})

const exhaustPort = portBlock(18089, 2)

describe.skipIf(!hasIndi).each(serverKinds)('interop on %s: restarts used up', (kind) => {
  afterAll(stopAllServers)

  it('with -r 0 a dead driver is not restarted, and with no driver left and no FIFO the server exits 1', async () => {
    const server = await startServer({
      kind,
      port: exhaustPort(),
      drivers: ['indi_simulator_telescope'],
      args: ['-r', '0'],
    })
    const client = await waitForDevices(server.port, [SCOPE])
    const from = client.mark()
    process.kill(childNamed(server.pid, 'indi_simulator_telescope')!, 'SIGKILL')
    await server.waitForLog(/Terminated after #0 restarts/, 10_000)
    expect((await server.exited).code).toBe(1)
    await until(() => client.closed, 'the client connection to close')
    // indiserver usually exits before flushing the delProperty it queued (not asserted: a race);
    // ours must deliver it first.
    if (kind === 'ours') {
      const gone = client.elements.slice(from).some((e) => is('delProperty', SCOPE)(e) && !e.attrs.name)
      expect(gone).toBe(true)
    }
    client.close()
  })
})
