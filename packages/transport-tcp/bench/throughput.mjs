// Throughput of the transports, beside a raw net socket pipe measured in the same run.
// Run: npm run bench (in packages/transport-tcp), after building. Not a test: no assertions on
// speed, but every run checks that the receiver got every byte, in order: it compares each
// received chunk with the expected stream (memcmp speed, so the check does not dominate).
//   node bench/throughput.mjs [--big-mib 256] [--small-mib 32]
import { execFileSync } from 'node:child_process'
import net from 'node:net'
import os from 'node:os'
import { connectionPair } from '@indi-ts/transport'
import { spawnDriver } from '@indi-ts/transport-stdio'
import { connectTcp, listenTcp } from '@indi-ts/transport-tcp'

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : dflt
}
const BIG = 8 * 1024 * 1024
const SMALL = 300
const bigTotal = arg('--big-mib', 256) * 1024 * 1024
const smallTotal = arg('--small-mib', 32) * 1024 * 1024

/** The chunks of one run: 64 distinct buffers of `size` bytes, sent round-robin. */
function workload(size, total) {
  const pool = []
  for (let i = 0; i < 64; i++) {
    const b = Buffer.alloc(size)
    for (let j = 0; j < size; j++) b[j] = (i * 31 + j * 7) & 0xff
    pool.push(b)
  }
  const count = Math.floor(total / size)
  return { pool, size, count, bytes: count * size }
}

/** Checks received bytes against the expected stream, in order, whatever the chunking. */
function verifier(w) {
  let offset = 0
  let ok = true
  return {
    update(chunk) {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length)
      let i = 0
      while (i < buf.length && ok) {
        const msg = Math.floor(offset / w.size)
        const at = offset % w.size
        const n = Math.min(w.size - at, buf.length - i)
        if (msg >= w.count || buf.compare(w.pool[msg % 64], at, at + n, i, i + n) !== 0) ok = false
        i += n
        offset += n
      }
    },
    result: () => ({ n: offset, ok }),
  }
}

async function sendAll(conn, w) {
  for (let i = 0; i < w.count; i++) if (!conn.send(w.pool[i % 64])) await conn.drained()
  await conn.end()
}

async function receiveAll(conn, w) {
  const v = verifier(w)
  for await (const c of conn) v.update(c)
  return v.result()
}

async function timed(w, run) {
  const t0 = process.hrtime.bigint()
  const got = await run()
  const s = Number(process.hrtime.bigint() - t0) / 1e9
  if (got.n !== w.bytes || !got.ok)
    throw new Error(`corrupt stream: ${got.n} of ${w.bytes} bytes, ok=${got.ok}`)
  return w.bytes / (1024 * 1024) / s
}

const scenarios = {
  'raw net socket': async (w) => {
    const server = net.createServer()
    await new Promise((r) => server.listen(0, '127.0.0.1', r))
    const accepted = new Promise((r) => server.once('connection', r))
    const client = net.connect({ port: server.address().port, host: '127.0.0.1', noDelay: true })
    const sock = await accepted
    const mbs = await timed(w, async () => {
      const got = new Promise((resolve) => {
        const v = verifier(w)
        sock.on('data', (d) => v.update(d))
        sock.on('end', () => resolve(v.result()))
      })
      for (let i = 0; i < w.count; i++) {
        if (!client.write(w.pool[i % 64])) await new Promise((r) => client.once('drain', r))
      }
      client.end()
      return got
    })
    sock.destroy()
    server.close()
    return mbs
  },
  'in-memory pair': async (w) => {
    const [a, b] = connectionPair()
    return timed(w, async () => {
      const got = receiveAll(b, w)
      await sendAll(a, w)
      return got
    })
  },
  'stdio (cat child)': async (w) => {
    const d = spawnDriver('cat')
    const mbs = await timed(w, async () => {
      const got = receiveAll(d.connection, w)
      await sendAll(d.connection, w)
      return got
    })
    await d.exited
    return mbs
  },
  'tcp loopback': async (w) => {
    const listener = await listenTcp({ port: 0 })
    const accepted = listener[Symbol.asyncIterator]().next()
    const client = await connectTcp({ port: listener.address.port })
    const server = (await accepted).value
    const mbs = await timed(w, async () => {
      const got = receiveAll(server, w)
      await sendAll(client, w)
      return got
    })
    await server.close()
    await client.close()
    await listener.close()
    return mbs
  },
}

let sha = '?'
try {
  sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()
} catch {}
console.log(`git ${sha} · node ${process.version} · ${os.cpus()[0]?.model} × ${os.cpus().length}`)
console.log(
  `8 MiB chunks: ${bigTotal >> 20} MiB per run; 300-byte messages: ${smallTotal >> 20} MiB per run\n`,
)

const rows = []
for (const [label, size, total] of [
  ['8 MiB chunks', BIG, bigTotal],
  ['300-byte messages', SMALL, smallTotal],
]) {
  const w = workload(size, total)
  const results = {}
  for (const [name, run] of Object.entries(scenarios)) {
    await run(workload(size, Math.min(total, 8 * size + 1024 * 1024))) // warm-up
    results[name] = await run(w)
  }
  const raw = results['raw net socket']
  for (const [name, mbs] of Object.entries(results)) {
    rows.push({
      workload: label,
      transport: name,
      'MB/s': mbs.toFixed(0),
      'vs raw net': (mbs / raw).toFixed(2),
    })
  }
}
console.table(rows)
