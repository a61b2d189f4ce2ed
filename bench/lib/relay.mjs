#!/usr/bin/env node
// The raw relay: `node relay.mjs -p <port> <driver>`. Copies the driver's stdout to every client and
// every client's bytes to the driver's stdin, and answers the driver's pingRequest (BLOB flow control).
// No routing, no BLOB policy, no bounds: it is the ceiling of what the harness can measure here, not
// a server to compare with. Loopback only.
import { spawn } from 'node:child_process'
import net from 'node:net'
import { parseArgs } from 'node:util'

const { values, positionals } = parseArgs({
  options: { p: { type: 'string', default: '17999' }, m: { type: 'string' } },
  allowPositionals: true,
})
const driver = spawn(positionals[0], positionals.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] })
const clients = new Set()
const PING = Buffer.from('<pingRequest uid="')
let carry = Buffer.alloc(0)

driver.stdout.on('data', (chunk) => {
  for (const c of clients) c.write(chunk)
  // Answer pings: the flood driver writes them as <pingRequest uid="SetBLOB/N"/> in one piece.
  const buf = carry.length ? Buffer.concat([carry, chunk]) : chunk
  let i = buf.indexOf(PING)
  let end = 0
  while (i !== -1) {
    const q = buf.indexOf(0x22, i + PING.length)
    if (q < 0) break
    driver.stdin.write(`<pingReply uid="${buf.toString('latin1', i + PING.length, q)}"/>\n`)
    end = q
    i = buf.indexOf(PING, q)
  }
  carry = buf.subarray(Math.max(end, buf.length - 64))
})
driver.on('exit', () => process.exit(1))

const server = net.createServer((sock) => {
  sock.setNoDelay(true)
  clients.add(sock)
  sock.on('data', (b) => driver.stdin.write(b))
  sock.on('error', () => {})
  sock.on('close', () => clients.delete(sock))
})
server.listen(Number(values.p), '127.0.0.1')
process.on('SIGTERM', () => {
  driver.kill('SIGKILL')
  process.exit(0)
})
