import type { Connection } from '@indi-ts/transport'
import { connectionCompliance } from '@indi-ts/transport/compliance'
import { connectWs, listenWs, type WsListener } from '../src/ws-transport.js'

const listeners: WsListener[] = []

connectionCompliance('WebSocket (ws) over loopback', {
  async create(): Promise<[Connection, Connection]> {
    const listener = await listenWs({ port: 0 })
    listeners.push(listener)
    const accepted = listener[Symbol.asyncIterator]().next()
    const client = await connectWs(`ws://127.0.0.1:${listener.address.port}/`)
    return [client, (await accepted).value as Connection]
  },
  async teardown() {
    await Promise.all(listeners.splice(0).map((l) => l.close()))
  },
})
