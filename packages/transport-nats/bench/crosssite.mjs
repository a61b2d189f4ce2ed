#!/usr/bin/env node
// Cross-site benchmark (not a test), issue #13 item 5. One flood driver on site A; 10 TCP clients,
// 5 on site B and 5 on site C. Phase "chain": B and C each chain `Flood@A` (indiserver's
// `device@host:port`). Phase "NATS": A exports, B and C import, through one nats-server. Each site
// is its own `indi-server` process (the CLI users run); the clients live in this process.
// Per phase: messages/s of setNumberVector delivered to all 10 clients, and BLOB MB/s (BLOBs with
// enableBLOB Also, every byte of every BLOB checked against its deterministic content). Prints
// one JSON line per phase and the NATS/chain ratios.
//
// Usage: npm run bench [-- messages=100000 blobs=10 blobMiB=2 timeoutS=150]
//   after `npx tsc -b packages/transport-nats packages/indi-server`.
// Loopback only, ports 18450-18459. Every process started here is killed by its PID, on success,
// on error and on the hard timeout.
import { execSync, spawn } from 'node:child_process'
import { setMaxListeners } from 'node:events'
import { connect, createServer } from 'node:net'
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import { blobPayload } from './payload.mjs'

const arg = (k, d) => Number(process.argv.find((a) => a.startsWith(`${k}=`))?.split('=')[1] ?? d)
const MESSAGES = arg('messages', 100_000)
const BLOBS = arg('blobs', 10)
const BLOB_BYTES = Math.round(arg('blobMiB', 2) * 1024 * 1024)
const TIMEOUT_MS = arg('timeoutS', 150) * 1000
const CLIENTS_PER_SITE = 5
const PORTS = { nats: 18450, ctl: 18451, chain: [18452, 18453, 18454], nats3: [18455, 18456, 18457] }
const CLI = fileURLToPath(new URL('../../indi-server/dist/cli.js', import.meta.url))
const DRIVER = fileURLToPath(new URL('./flood-driver.mjs', import.meta.url))
const NATS_URL = `nats://127.0.0.1:${PORTS.nats}`

/** Every process started here, by PID: killed on any exit path. */
const procs = new Set()
const killAll = () => {
  for (const p of procs) {
    try {
      process.kill(p, 'SIGKILL')
    } catch {}
  }
  procs.clear()
}
process.on('exit', killAll)
const hard = setTimeout(() => {
  console.error(`benchmark: hard timeout after ${TIMEOUT_MS} ms`)
  killAll()
  process.exit(2)
}, TIMEOUT_MS + 15_000)
hard.unref()
const deadline = AbortSignal.timeout(TIMEOUT_MS)
setMaxListeners(100, deadline) // one listener per waiting client, removed once it is satisfied

function start(cmd, args, ready) {
  const p = spawn(cmd, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, BENCH_CTL_PORT: String(PORTS.ctl) },
  })
  procs.add(p.pid)
  let log = ''
  p.stderr.on('data', (d) => {
    log = (log + d).slice(-4000)
  })
  p.once('exit', () => procs.delete(p.pid))
  const stop = () =>
    new Promise((resolve) => {
      if (p.exitCode !== null || p.signalCode !== null) return resolve()
      const t = setTimeout(() => p.kill('SIGKILL'), 3000)
      p.once('exit', () => {
        clearTimeout(t)
        resolve()
      })
      p.kill('SIGTERM')
    })
  const started = ready
    ? new Promise((resolve, reject) => {
        const check = () => log.includes(ready) && resolve()
        p.stderr.on('data', check)
        p.once('exit', () => reject(new Error(`${cmd} exited: ${log}`)))
        deadline.addEventListener('abort', () => reject(new Error(`${cmd} not ready: ${log}`)), {
          once: true,
        })
      })
    : Promise.resolve()
  return { p, stop, started, log: () => log }
}

// The flood driver (spawned by site A's indi-server) dials this control socket.
const driverSockets = []
const driverWaiters = []
const ctl = createServer((s) => {
  s.once('data', (d) => {
    const pid = Number(/pid (\d+)/.exec(String(d))?.[1])
    if (pid) procs.add(pid) // the driver is a grandchild: kill it by PID too
    driverSockets.push(s)
    for (const w of driverWaiters.splice(0)) w()
  })
  s.on('error', () => undefined)
})
await new Promise((r) => ctl.listen(PORTS.ctl, '127.0.0.1', r))
const nextDriver = (n) =>
  new Promise((resolve, reject) => {
    const check = () =>
      driverSockets.length >= n ? resolve(driverSockets[n - 1]) : driverWaiters.push(check)
    deadline.addEventListener('abort', () => reject(new Error('the flood driver never started')), {
      once: true,
    })
    check()
  })

/**
 * A raw INDI client: counts P0 sets (checking their sequence), remembers the last END, and
 * verifies every BLOB's bytes. Scans tags without an XML parser; a BLOB element is collected in
 * pieces so a 2 MiB BLOB costs one join, not one copy per TCP read.
 */
function client(port, label) {
  const c = {
    label,
    sets: 0,
    lastP0: -1,
    outOfOrder: 0,
    end: -1,
    defined: false,
    blobs: 0,
    blobBytes: 0,
    badBlobs: 0,
    waiters: [],
    reset() {
      this.sets = 0
      this.blobs = 0
      this.blobBytes = 0
    },
  }
  let rest = ''
  let parts
  let tail = ''
  const END_BLOB = '</setBLOBVector>'
  const element = (x) => {
    const tag = /^<(\w+)/.exec(x)?.[1]
    if (tag === 'setNumberVector') {
      const name = /name=["'](\w+)["']/.exec(x)?.[1]
      const v = Number(/<oneNumber[^>]*>\s*([-\d.e+]+)/.exec(x)?.[1])
      if (name === 'P0') {
        c.sets++
        if (v <= c.lastP0) c.outOfOrder++
        c.lastP0 = v
      } else if (name === 'END') c.end = v
    } else if (tag === 'setBLOBVector') {
      const re = /<oneBLOB[^>]*size=["'](\d+)["'][^>]*>([^<]*)<\/oneBLOB>/g
      for (let m = re.exec(x); m; m = re.exec(x)) {
        const got = Buffer.from(m[2], 'base64')
        const ok =
          got.length === Number(m[1]) &&
          got.length >= 4 &&
          got.equals(blobPayload(got.readUInt32BE(0), got.length))
        if (!ok) c.badBlobs++
        else if (got.readUInt32BE(0) !== 0) {
          c.blobs++
          c.blobBytes += got.length
        }
      }
    } else if (tag === 'defBLOBVector') c.defined = true
    else if (tag === 'pingRequest') {
      const uid = /uid=["']([^"']*)["']/.exec(x)?.[1] ?? ''
      c.socket.write(`<pingReply uid="${uid}"/>`)
    }
  }
  const scan = (text) => {
    let pos = 0
    for (;;) {
      const i = text.indexOf('<', pos)
      if (i < 0) return ''
      const tag = /^<([\w?!]+)/.exec(text.slice(i, i + 40))?.[1]
      if (tag === undefined) return text.slice(i)
      if (tag === 'setBLOBVector') {
        const k = text.indexOf(END_BLOB, i)
        if (k < 0) {
          parts = [text.slice(i)]
          tail = text.slice(-END_BLOB.length)
          return ''
        }
        element(text.slice(i, k + END_BLOB.length))
        pos = k + END_BLOB.length
        continue
      }
      const gt = text.indexOf('>', i)
      if (gt < 0) return text.slice(i)
      let end = gt + 1
      if (text[gt - 1] !== '/' && tag[0] !== '?' && tag[0] !== '!') {
        const close = text.indexOf(`</${tag}>`, gt)
        if (close < 0) return text.slice(i)
        end = close + tag.length + 3
      }
      element(text.slice(i, end))
      pos = end
    }
  }
  const onData = (d) => {
    const s = d.toString('latin1')
    if (parts) {
      const combined = tail + s
      const k = combined.indexOf(END_BLOB)
      if (k < 0) {
        parts.push(s)
        tail = combined.slice(-END_BLOB.length)
      } else {
        const cut = k + END_BLOB.length - tail.length
        parts.push(s.slice(0, cut))
        const whole = parts.join('')
        parts = undefined
        element(whole)
        rest = scan(s.slice(cut))
      }
    } else rest = scan(rest + s)
    for (const w of c.waiters.splice(0)) w()
  }
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        c.socket = s
        s.on('data', onData)
        s.write('<getProperties version="1.7"/><enableBLOB device="Flood">Also</enableBLOB>')
        resolve(c)
      })
      s.once('error', (err) => {
        if (c.socket) return
        if (deadline.aborted) reject(err)
        else setTimeout(attempt, 100) // the site's server is still starting
      })
    }
    attempt()
  })
}

function until(clients, what, pred) {
  return Promise.all(
    clients.map(
      (c) =>
        new Promise((resolve, reject) => {
          const onAbort = () =>
            reject(
              new Error(
                `timed out waiting for ${what}: ${clients.map((x) => `${x.label} END=${x.end} sets=${x.sets} blobs=${x.blobs} defined=${x.defined}`).join('; ')}`,
              ),
            )
          const check = () => {
            if (!pred(c)) return void c.waiters.push(check)
            deadline.removeEventListener('abort', onAbort)
            resolve()
          }
          deadline.addEventListener('abort', onAbort, { once: true })
          check()
        }),
    ),
  )
}

let seq = 0
async function measure(label, drv, clients) {
  // Ready: every client has the definitions (its getProperties was served), then one warm-up
  // round (a 1 KiB BLOB and END) has reached every client, so BLOB policies are in force too.
  await until(clients, 'definitions', (c) => c.defined)
  const warm = ++seq
  drv.write(`warm ${warm}\n`)
  await until(clients, `warm-up END=${warm}`, (c) => c.end >= warm)
  for (const c of clients) c.reset()

  const sEnd = ++seq
  let t0 = performance.now()
  drv.write(`sets ${MESSAGES} ${sEnd}\n`)
  await until(clients, `END=${sEnd} after ${MESSAGES} sets`, (c) => c.end >= sEnd)
  const msgSecs = (performance.now() - t0) / 1000
  const delivered = clients.reduce((n, c) => n + c.sets, 0)

  const bEnd = ++seq
  t0 = performance.now()
  drv.write(`blobs ${BLOBS} ${BLOB_BYTES} ${bEnd}\n`)
  await until(clients, `END=${bEnd} after ${BLOBS} BLOBs`, (c) => c.end >= bEnd)
  const blobSecs = (performance.now() - t0) / 1000
  const blobBytes = clients.reduce((n, c) => n + c.blobBytes, 0)
  const r = {
    label,
    seconds: Number(msgSecs.toFixed(2)),
    // One set reaching all 10 clients counts 10: the fan-out rate the sites sustain.
    msgsPerSec: Math.round(delivered / msgSecs),
    setsPerClient: Math.round(delivered / clients.length),
    setsSent: MESSAGES,
    outOfOrder: clients.reduce((n, c) => n + c.outOfOrder, 0),
    blobSeconds: Number(blobSecs.toFixed(2)),
    blobMBps: Number((blobBytes / 1048576 / blobSecs).toFixed(1)),
    blobsPerClient: clients.reduce((n, c) => n + c.blobs, 0) / clients.length,
    blobsSent: BLOBS,
    badBlobs: clients.reduce((n, c) => n + c.badBlobs, 0),
  }
  console.log(JSON.stringify(r))
  return r
}

async function phase(kind) {
  const [pa, pb, pc] = kind === 'chain' ? PORTS.chain : PORTS.nats3
  const natsArgs = (site, role) => ['--nats', NATS_URL, '--nats-site', site, role, '*']
  const a = start(process.execPath, [
    CLI,
    '-p',
    String(pa),
    ...(kind === 'nats' ? natsArgs('A', '--nats-export') : []),
    DRIVER,
  ])
  const drv = await nextDriver(kind === 'chain' ? 1 : 2)
  const sites = ['B', 'C'].map((site, i) => {
    const port = i === 0 ? pb : pc
    const how = kind === 'chain' ? [`Flood@127.0.0.1:${pa}`] : natsArgs(site, '--nats-import')
    return { port, proc: start(process.execPath, [CLI, '-p', String(port), ...how]) }
  })
  const clients = []
  for (const [i, s] of sites.entries())
    for (let k = 0; k < CLIENTS_PER_SITE; k++) clients.push(await client(s.port, `${'BC'[i]}${k}`))
  try {
    return await measure(kind === 'chain' ? 'chain (Flood@host:port)' : 'NATS (export/import)', drv, clients)
  } catch (err) {
    for (const x of [a, ...sites.map((s) => s.proc)]) console.error(x.log())
    throw err
  } finally {
    for (const c of clients) c.socket.destroy()
    drv.destroy()
    await Promise.all(sites.map((s) => s.proc.stop()))
    await a.stop()
  }
}

let sha = ''
try {
  sha = execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] })
    .toString()
    .trim()
} catch {}
let natsVersion = ''
try {
  natsVersion = execSync('nats-server --version', { stdio: ['ignore', 'pipe', 'ignore'] })
    .toString()
    .trim()
} catch {}
console.log(
  JSON.stringify({
    git: sha,
    node: process.version,
    natsServer: natsVersion,
    cpu: cpus()[0]?.model ?? '',
    cores: cpus().length,
    messages: MESSAGES,
    blobs: BLOBS,
    blobBytes: BLOB_BYTES,
    clients: 2 * CLIENTS_PER_SITE,
  }),
)
try {
  const chain = await phase('chain')
  const nats = start('nats-server', ['-p', String(PORTS.nats), '-a', '127.0.0.1'], 'Server is ready')
  await nats.started
  const viaNats = await phase('nats')
  await nats.stop()
  console.log(
    JSON.stringify({
      ratio: 'NATS / chain',
      msgsPerSec: Number((viaNats.msgsPerSec / chain.msgsPerSec).toFixed(2)),
      blobMBps: Number((viaNats.blobMBps / chain.blobMBps).toFixed(2)),
    }),
  )
} catch (err) {
  console.error(err.message ?? err)
  process.exitCode = 1
} finally {
  ctl.close()
  killAll()
}
process.exit()
