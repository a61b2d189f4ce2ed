/**
 * `-l dir` (indi-protocol.md §2.14, §6 A14): every driver message carrying a `message` attribute is
 * appended to `dir/YYYY-MM-DD.islog` as `<timestamp>: <device>: <message>`.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
  connectDevices,
  hasIndi,
  portBlock,
  SCOPE,
  serverKinds,
  startServer,
  stopAllServers,
  until,
  waitForDevices,
} from './harness.js'

const nextPort = portBlock(18087, 2)

describe.skipIf(!hasIndi).each(serverKinds)('interop on %s: -l message log', (kind) => {
  afterAll(stopAllServers)

  it("logs the driver's messages to DIR/YYYY-MM-DD.islog", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'indi-interop-log-'))
    try {
      const server = await startServer({
        kind,
        port: nextPort(),
        drivers: ['indi_simulator_telescope'],
        args: ['-l', dir],
      })
      const client = await waitForDevices(server.port, [SCOPE])
      await connectDevices(client, [SCOPE])
      client.close()
      const online =
        /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d: Telescope Simulator: \[INFO\] Telescope simulator is online\.$/m
      const read = (): string =>
        readdirSync(dir)
          .map((f) => readFileSync(join(dir, f), 'utf8'))
          .join('')
      await until(() => online.test(read()), 'the "online" message in the log file', 10_000)
      expect(readdirSync(dir).every((f) => /^\d{4}-\d\d-\d\d\.islog$/.test(f))).toBe(true)
      await server.stop()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
