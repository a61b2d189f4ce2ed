#!/usr/bin/env node
// Cross-site benchmark (not a test): one driver on site A, 10 TCP clients on sites B and C (5 each),
// through NATS (export/import) versus through indiserver-style chaining (`@host:port`), in one run.
// Prints messages/s and BLOB MB/s delivered to every client, and the NATS/chain ratios.
// Usage: npm run bench [-- messages=100000 blobs=16 blobMiB=1]   (after `npx tsc -b packages/transport-nats packages/indi-server`)
// Loopback only; ports 18240-18249; everything started here is stopped by PID at the end.
import { execSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import { cpus } from 'node:os'
import { IndiServer } from '@indi-ts/indi-server'
import { connectionPair } from '@indi-ts/transport'
import { NatsBridge } from '../dist/index.js'

const arg = (k, d) => Number(process.argv.find((a) => a.startsWith(`${k}=`))?.split('=')[1] ?? d)
const MESSAGES = arg('messages', 100_000)
const BLOBS = arg('blobs', 16)
const BLOB_BYTES = arg('blobMiB', 1) * 1024 * 1024
const CLIENTS_PER_SITE = 5
const NATS_PORT = 18240
const quiet = () => undefined
const deadline = AbortSignal.timeout(arg('timeoutS', 120) * 1000)

const nats = spawn('nats-server', ['-p', String(NATS_PORT), '-a', '127.0.0.1'], {
  stdio: ['ignore', 'ignore', 'pipe'],
})
await new Promise((resolve, reject) => {
  let log = ''
  nats.stderr.on('data', (d) => {
    log += d
    if (log.includes('Server is ready')) resolve()
  })
  nats.once('exit', () => reject(new Error(log)))
})
process.on('exit', () => nats.kill('SIGKILL'))
const url = `nats://127.0.0.1:${NATS_PORT}`

const set = (name, v) =>
  `<setNumberVector device="Flood" name="${name}" state="Ok"><oneNumber name="V">${v}</oneNumber></setNumberVector>`
const defs =
  '<defNumberVector device="Flood" name="P0" state="Idle" perm="ro"><defNumber name="V" format="%g" min="0" max="0" step="0">0</defNumber></defNumberVector>' +
  '<defNumberVector device="Flood" name="END" state="Idle" perm="ro"><defNumber name="V" format="%g" min="0" max="0" step="0">0</defNumber></defNumberVector>' +
  '<defBLOBVector device="Flood" name="IMG" state="Idle" perm="ro"><defBLOB name="FRAME"/></defBLOBVector>'

// Site A: a raw driver on an in-memory link; answers getProperties with its definitions.
const a = new IndiServer({ port: 18241, logger: quiet })
await a.listen()
const [aEnd, driver] = connectionPair({ labels: ['server:flood', 'flood'], highWaterMark: 1 << 20 })
a.addDriverConnection(aEnd, { name: 'flood' })
driver.send(Buffer.from(defs))
void (async () => {
  for await (const chunk of driver)
    if (Buffer.from(chunk).includes('<getProperties')) driver.send(Buffer.from(defs))
})().catch(() => undefined)
const exporter = new NatsBridge({ servers: url, site: 'A', export: ['*'], logger: quiet })
exporter.attach(a)
await exporter.start()

/** A TCP client counting set messages and BLOBs by scanning for tags (no parsing). */
function client(port) {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      const c = { s, sets: 0, blobs: 0, end: -1, waiters: [], tail: '' }
      s.on('data', (d) => {
        const text = c.tail + d.toString('latin1')
        for (let i = text.indexOf('<setNumberVector'); i >= 0; i = text.indexOf('<setNumberVector', i + 1))
          c.sets++
        for (let i = text.indexOf('</setBLOBVector>'); i >= 0; i = text.indexOf('</setBLOBVector>', i + 1))
          c.blobs++
        const m = /name="END"[^>]*>\s*<oneNumber name="V">\s*(\d+)/g
        for (let r = m.exec(text); r; r = m.exec(text)) c.end = Number(r[1])
        c.tail = text.slice(-64) // a tag split across reads is seen once in the overlap
        c.tail = c.tail.slice(Math.max(0, c.tail.lastIndexOf('<')))
        for (const w of c.waiters.splice(0)) w()
      })
      s.write('<getProperties version="1.7"/><enableBLOB device="Flood">Also</enableBLOB>')
      resolve(c)
    })
  })
}
const waitEnd = (cs, v) =>
  Promise.all(
    cs.map(
      (c) =>
        new Promise((resolve, reject) => {
          const check = () => (c.end >= v ? resolve() : c.waiters.push(check))
          deadline.addEventListener(
            'abort',
            () => reject(new Error(`benchmark timed out; a client saw END=${c.end}, ${c.sets} sets`)),
            { once: true },
          )
          check()
        }),
    ),
  )

let endSeq = 0
async function measure(label, clients) {
  console.error(`${label}: warm-up`)
  // Warm-up: every client must see one END before timing starts.
  driver.send(Buffer.from(set('END', ++endSeq)))
  await waitEnd(clients, endSeq)
  for (const c of clients) {
    c.sets = 0
    c.blobs = 0
  }
  const batch = Buffer.from(Array.from({ length: 500 }, (_, i) => set('P0', i)).join(''))
  let t0 = performance.now()
  for (let sent = 0; sent < MESSAGES; sent += 500) if (!driver.send(batch)) await driver.drained()
  driver.send(Buffer.from(set('END', ++endSeq)))
  await waitEnd(clients, endSeq)
  const msgSecs = (performance.now() - t0) / 1000
  const delivered = clients.reduce((n, c) => n + c.sets - 1, 0) / clients.length
  const image = randomBytes(BLOB_BYTES).toString('base64')
  const blob = Buffer.from(
    `<setBLOBVector device="Flood" name="IMG" state="Ok"><oneBLOB name="FRAME" size="${BLOB_BYTES}" format=".fits">${image}</oneBLOB></setBLOBVector>`,
  )
  t0 = performance.now()
  for (let i = 0; i < BLOBS; i++) if (!driver.send(blob)) await driver.drained()
  driver.send(Buffer.from(set('END', ++endSeq)))
  await waitEnd(clients, endSeq)
  const blobSecs = (performance.now() - t0) / 1000
  const blobsGot = clients.reduce((n, c) => n + c.blobs, 0) / clients.length
  const r = {
    label,
    msgsPerSec: Math.round(MESSAGES / msgSecs),
    deliveredPerClient: Math.round(delivered),
    blobMBps: Number(((BLOBS * BLOB_BYTES) / 1048576 / blobSecs).toFixed(1)),
    blobsPerClient: blobsGot,
  }
  console.log(JSON.stringify(r))
  return r
}

async function sites(kind) {
  const servers = []
  const bridges = []
  const clients = []
  for (const [i, name] of ['B', 'C'].entries()) {
    const port = 18242 + i + (kind === 'chain' ? 2 : 0)
    const s = new IndiServer({ port, logger: quiet })
    await s.listen()
    if (kind === 'chain') s.addRemote({ host: '127.0.0.1', port: 18241 })
    else {
      const b = new NatsBridge({ servers: url, site: name, import: ['*'], logger: quiet })
      b.attach(s)
      await b.start()
      bridges.push(b)
    }
    servers.push(s)
    // Wait until the device is known on this site before clients ask for it.
    while (!s.driverStats().some((d) => d.devices.includes('Flood')))
      await new Promise((r) => setTimeout(r, 10))
    for (let k = 0; k < CLIENTS_PER_SITE; k++) clients.push(await client(port))
  }
  return {
    clients,
    close: async () => {
      for (const c of clients) c.s.destroy()
      for (const b of bridges) await b.close()
      for (const s of servers) await s.close({ signal: AbortSignal.timeout(5000) })
    },
  }
}

let cpu = ''
try {
  cpu = cpus()[0]?.model ?? ''
} catch {}
let sha = ''
try {
  sha = execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] })
    .toString()
    .trim()
} catch {}
console.log(
  JSON.stringify({
    git: sha,
    node: process.version,
    cpu,
    cores: cpus().length,
    messages: MESSAGES,
    blobs: BLOBS,
    blobBytes: BLOB_BYTES,
    clients: 2 * CLIENTS_PER_SITE,
  }),
)
try {
  const chain = await sites('chain')
  const c = await measure('chain (@host:port)', chain.clients)
  await chain.close()
  const viaNats = await sites('nats')
  const n = await measure('NATS (export/import)', viaNats.clients)
  await viaNats.close()
  console.log(
    JSON.stringify({
      ratio: 'NATS / chain',
      msgsPerSec: Number((n.msgsPerSec / c.msgsPerSec).toFixed(2)),
      blobMBps: Number((n.blobMBps / c.blobMBps).toFixed(2)),
    }),
  )
} catch (err) {
  console.error(err)
  process.exitCode = 1
} finally {
  await exporter.close()
  await a.close({ signal: AbortSignal.timeout(5000) })
  nats.kill('SIGKILL')
}
process.exit()
