#!/usr/bin/env node
// Quick local throughput check (not a test): one driver floods setNumberVector messages through
// IndiServer to one TCP client on loopback; prints messages per second delivered to the client.
// Usage: node bench/flood.mjs [messages=2000000] [port=17890]   (after `npx tsc -b packages/indi-server`)
import { connect } from 'node:net'
import { connectionPair } from '@indi-ts/transport'
import { IndiServer } from '../dist/index.js'

const total = Number(process.argv[2] ?? 2_000_000)
const port = Number(process.argv[3] ?? 17890)

// Fixed-length messages (names P000..P099), so the client counts messages by bytes alone.
const msg = (i) =>
  `<setNumberVector device="Flood" name="P${String(i % 100).padStart(3, '0')}" state="Ok"><oneNumber name="V">1234.5678</oneNumber></setNumberVector>\n`
const msgLen = Buffer.byteLength(msg(0))
const perChunk = 512
const chunk = Buffer.from(Array.from({ length: perChunk }, (_, i) => msg(i)).join(''))

const server = new IndiServer({ port, verbosity: 0 })
await server.listen()
const [serverEnd, driverEnd] = connectionPair({ labels: ['server:flood', 'flood'], highWaterMark: 1 << 20 })
server.addDriverConnection(serverEnd, { name: 'flood' })
// Announce the device before the client asks, so routing is in steady state.
driverEnd.send(Buffer.from(msg(0)))

const sock = connect({ host: '127.0.0.1', port })
await new Promise((r) => sock.once('connect', r))
let bytes = 0
let t0 = 0
// The server forwards each element without the whitespace around it (the newline here).
const want = total * (msgLen - 1)
const done = new Promise((resolve) => {
  sock.on('data', (d) => {
    if (t0 === 0) t0 = performance.now()
    bytes += d.length
    if (bytes >= want) resolve(performance.now())
  })
})
sock.write('<getProperties version="1.7"/>')
// Wait until the client is registered (its getProperties routed) before flooding.
while (server.clientStats().length === 0) await new Promise((r) => setTimeout(r, 5))
await new Promise((r) => setTimeout(r, 50))

const tStart = performance.now()
for (let sent = 0; sent < total; sent += perChunk) {
  const ok = driverEnd.send(sent + perChunk <= total ? chunk : chunk.subarray(0, (total - sent) * msgLen))
  if (!ok) await driverEnd.drained()
}
const tEnd = await done
const secs = (tEnd - tStart) / 1000
const stats = server.clientStats()[0]
console.log(
  JSON.stringify({
    node: process.version,
    messages: total,
    messageBytes: msgLen,
    seconds: Number(secs.toFixed(3)),
    msgsPerSec: Math.round(total / secs),
    MBps: Number(((total * msgLen) / secs / 1048576).toFixed(1)),
    delivered: stats?.delivered,
    conflated: stats?.conflated,
  }),
)
sock.destroy()
driverEnd.destroy()
await server.close()
