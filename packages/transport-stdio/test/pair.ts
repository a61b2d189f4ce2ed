import { once } from 'node:events'
import { createServer, type Server, type Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import type { Connection } from '@indi-ts/transport'
import { duplexConnection } from '@indi-ts/transport/node'
import { type DriverProcess, spawnDriver } from '../src/index.js'

export const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

/**
 * A pair whose first end is spawnDriver(relay.mjs).connection and whose second end is a TCP
 * socket the relay child connects to: bytes go through the child's stdin/stdout (FIFOs) and its
 * own stdioConnection(). Destroying an end breaks the other as a reset.
 */
export function relayPairFactory() {
  const drivers: DriverProcess[] = []
  const servers: Server[] = []
  return {
    async create(): Promise<[Connection, Connection]> {
      const server = createServer({ allowHalfOpen: true })
      servers.push(server)
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
      const port = (server.address() as { port: number }).port
      const accepted = once(server, 'connection') as Promise<[Socket]>
      const driver = spawnDriver(process.execPath, [fixture('relay.mjs'), String(port)], {
        label: 'exec:relay',
        onStderrLine: (l) => process.stderr.write(`relay: ${l}\n`),
      })
      drivers.push(driver)
      const [sock] = await accepted
      const tcp = duplexConnection(sock, {
        label: 'tcp:relay',
        release: (how) => (how === 'abort' ? sock.resetAndDestroy() : sock.destroy()),
      })
      return [driver.connection, tcp]
    },
    async teardown(): Promise<void> {
      for (const d of drivers) d.kill('SIGKILL')
      await Promise.all(drivers.splice(0).map((d) => d.exited))
      await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))))
    },
  }
}
