/**
 * Lifecycle duties (indi-protocol.md §2.4, §2.10–§2.11, §6 A12, B6, C3): drivers started and
 * stopped through the `-f` FIFO, a TS driver exiting when its server goes away, and a remote
 * server going away under a chain (indiserver exits, indilib/indi#1927; ours keeps running, tells
 * clients the device is gone and gets it back when the remote returns).
 */
import { execFileSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  childNamed,
  fixturesDir,
  hasIndi,
  is,
  isAlive,
  portBlock,
  type RawClient,
  type RunningServer,
  SCOPE,
  serverKinds,
  startServer,
  stopAllServers,
  until,
  waitForDevices,
} from './harness.js'

const nextPort = portBlock(18068, 8)
const FOCUSER = 'My Focuser'

const clients: RawClient[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.close()
  await stopAllServers()
})

describe.skipIf(!hasIndi).each(serverKinds)('interop on %s: lifecycle', (kind) => {
  it('starts and stops a driver through the -f FIFO, with INDIDEV from -n', async () => {
    const port = nextPort()
    const fifo = `/tmp/indi-interop-fifo-${port}`
    rmSync(fifo, { force: true })
    execFileSync('mkfifo', [fifo])
    try {
      const server = await startServer({ kind, port, drivers: [], args: ['-f', fifo] })
      const client = await waitForDevices(server.port, [])
      clients.push(client)
      await writeFile(fifo, `start indi_simulator_focus -n "${FOCUSER}"\n`)
      await client.waitFor(is('defSwitchVector', FOCUSER, 'CONNECTION'), 15_000)
      const pid = childNamed(server.pid, 'indi_simulator_focus')
      expect(pid).toBeDefined()

      const from = client.mark()
      await writeFile(fifo, `stop indi_simulator_focus -n "${FOCUSER}"\n`)
      await client.waitFor((e) => is('delProperty', FOCUSER)(e) && e.attrs.name === undefined, 10_000, from)
      await until(() => !isAlive(pid!), 'the focuser driver to be stopped')
    } finally {
      rmSync(fifo, { force: true })
    }
  })

  it('a TS driver exits once its server is gone (end of stdin)', async () => {
    const server = await startServer({
      kind,
      port: nextPort(),
      drivers: [resolve(fixturesDir, 'ts-fixture-driver.mjs')],
    })
    clients.push(await waitForDevices(server.port, ['TS Fixture'], { property: 'NOTE' }))
    const pid = childNamed(server.pid, 'ts-fixture-driver.mjs')
    expect(pid).toBeDefined()
    // SIGKILL: the server gets no chance to stop its drivers, so only EOF can tell the driver.
    process.kill(server.pid, 'SIGKILL')
    await server.exited
    await until(() => !isAlive(pid!), 'the TS driver to exit', 5_000)
  })
})

describe.skipIf(!hasIndi)('interop: the remote end of a chain goes away', () => {
  async function chain(top: 'indiserver' | 'ours'): Promise<{ bottom: RunningServer; top: RunningServer }> {
    const bottom = await startServer({
      kind: 'indiserver',
      port: nextPort(),
      drivers: ['indi_simulator_telescope'],
    })
    const upper = await startServer({
      kind: top,
      port: nextPort(),
      drivers: [`${SCOPE}@127.0.0.1:${bottom.port}`],
    })
    return { bottom, top: upper }
  }

  it.runIf(serverKinds.includes('indiserver'))(
    'reference: indiserver exits when its remote goes away',
    async () => {
      const { bottom, top } = await chain('indiserver')
      clients.push(await waitForDevices(top.port, [SCOPE]))
      await bottom.stop()
      expect((await top.exited).code).toBe(1)
    },
  )

  it.runIf(serverKinds.includes('ours'))(
    'ours sends delProperty, keeps serving, and redefines the device when the remote returns',
    async () => {
      const { bottom, top } = await chain('ours')
      const client = await waitForDevices(top.port, [SCOPE])
      clients.push(client)
      const from = client.mark()
      await bottom.stop()
      const gone = await client.waitFor(
        (e) => is('delProperty', SCOPE)(e) && e.attrs.name === undefined,
        10_000,
        from,
      )
      await client.ping('still serving')
      const back = await startServer({
        kind: 'indiserver',
        port: bottom.port,
        drivers: ['indi_simulator_telescope'],
      })
      expect(back.port).toBe(bottom.port)
      await client.waitFor(is('defSwitchVector', SCOPE, 'CONNECTION'), 30_000, client.elements.indexOf(gone))
    },
  )
})
