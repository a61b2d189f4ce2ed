import type { Connection } from '@indi-ts/transport'
import { connectTcp, listenTcp, type TcpListener } from '../src/index.js'

/** A connected pair over real loopback sockets: [client end, server end]. */
export function tcpPairFactory(host: string): {
  create(): Promise<[Connection, Connection]>
  teardown(): Promise<void>
} {
  const listeners: TcpListener[] = []
  return {
    async create() {
      const listener = await listenTcp({ host, port: 0 })
      listeners.push(listener)
      const accepted = listener[Symbol.asyncIterator]().next()
      const client = await connectTcp({ host, port: listener.address.port })
      const server = (await accepted).value as Connection
      return [client, server]
    },
    async teardown() {
      await Promise.all(listeners.splice(0).map((l) => l.close()))
    },
  }
}
