// The workloads. Each takes a running server (and its port) and returns plain figures; run.mjs takes
// medians over runs. Every wait here is bounded: a stuck server costs its bound, never the whole bench.

import { setMaxListeners } from 'node:events'
import {
  BlobReceiver,
  connect,
  control,
  echoRoundTrips,
  handshake,
  now,
  percentile,
  ping,
  receiveBlobs,
  receiveFlood,
} from './client.mjs'
import { memoryKiB, sleep, tcpState, treeCpuSeconds, withTimeout } from './proc.mjs'

const MiB = 1024 * 1024

/** Polls the server's VmRSS/VmHWM (and any extra probe) every `everyMs` until stopped. */
class Sampler {
  constructor(pid, everyMs = 50, probe) {
    this.pid = pid
    this.peakRss = 0
    this.hwm = 0
    this.timer = setInterval(() => this.sample(probe), everyMs)
    this.sample(probe)
  }

  sample(probe) {
    const m = memoryKiB(this.pid)
    if (m) {
      this.peakRss = Math.max(this.peakRss, m.rss)
      this.hwm = Math.max(this.hwm, m.hwm)
    }
    probe?.()
  }

  stop() {
    clearInterval(this.timer)
    this.sample()
  }
}

function boundSignal(ms) {
  const ac = new AbortController()
  setMaxListeners(0, ac.signal) // one listener per idle client
  const timer = setTimeout(() => ac.abort(), ms)
  return { signal: ac.signal, cancel: () => clearTimeout(timer) }
}

function closeAll(socks) {
  for (const s of socks) s.destroy()
}

/**
 * Workloads 1 and 2: `clients` clients each receive `count` FLOOD updates, written by the driver
 * unpaced (rate 0) or paced at `rate` msgs/s. Delivered/s counts deliveries across all clients.
 */
export async function fanout(server, { clients, count, rate = 0, boundMs }) {
  const socks = []
  try {
    const hs = []
    for (let i = 0; i < clients; i++) {
      const h = await withTimeout(handshake(server.port), 10_000, 'handshake')
      hs.push(h)
      socks.push(h.sock)
    }
    const sampler = new Sampler(server.pid)
    const cpu0 = treeCpuSeconds(server.pid)
    const bound = boundSignal(boundMs)
    const t0 = now()
    control(hs[0].sock, { mode: 1, count, rate })
    const counters = await Promise.all(hs.map((h) => receiveFlood(h.sock, h.rest, count, bound.signal)))
    const timedOut = bound.signal.aborted
    bound.cancel()
    sampler.stop()
    const delivered = counters.reduce((a, c) => a + c.received, 0)
    const complete = counters.every((c) => c.complete)
    const sawLast = counters.every((c) => c.sawLast)
    const tEnd = Math.max(...counters.map((c) => c.tLast))
    const elapsedS = (sawLast ? tEnd - t0 : boundMs) / 1000
    return {
      delivered,
      expected: clients * count,
      perClientMin: Math.min(...counters.map((c) => c.received)),
      complete,
      sawLast,
      timedOut,
      missing: counters.reduce((a, c) => a + c.missing, 0),
      outOfOrder: counters.reduce((a, c) => a + c.outOfOrder, 0),
      elapsedS,
      rate: delivered / elapsedS,
      serverCpuS: treeCpuSeconds(server.pid) - cpu0,
      peakRssMiB: sampler.peakRss / 1024,
    }
  } finally {
    closeAll(socks)
  }
}

/** Workload 3: one client with BLOBs Also receives `count` BLOBs of `size` bytes, each verified. */
export async function blobs(server, { count, size, ping: usePing = 1, boundMs }) {
  const { sock, rest } = await withTimeout(handshake(server.port, { blobs: true }), 10_000, 'handshake')
  try {
    const sampler = new Sampler(server.pid)
    const cpu0 = treeCpuSeconds(server.pid)
    const bound = boundSignal(boundMs)
    const receiver = new BlobReceiver(count)
    const t0 = now()
    control(sock, { mode: 2, count, size, ping: usePing })
    await receiveBlobs(sock, rest, receiver, bound.signal)
    bound.cancel()
    sampler.stop()
    const cpu = treeCpuSeconds(server.pid) - cpu0
    const complete = receiver.blobs.length >= count
    const elapsedS = (complete ? receiver.tLastBlob - t0 : boundMs) / 1000
    const { corrupt, decodedBytes } = receiver.verify(size)
    return {
      received: receiver.blobs.length,
      expected: count,
      complete,
      corrupt,
      pingTimeout: receiver.pingTimeout,
      decodedBytes,
      wireBase64Bytes: receiver.bytes,
      elapsedS,
      mbPerS: decodedBytes / 1e6 / elapsedS,
      serverCpuS: cpu,
      peakRssMiB: sampler.peakRss / 1024,
    }
  } finally {
    sock.destroy()
  }
}

/** Workload 4: `count` sequential round trips newNumberVector ECHO -> driver -> setNumberVector ECHO. */
export async function latency(server, { count, warmup = 200, boundMs }) {
  const { sock, rest } = await withTimeout(handshake(server.port), 10_000, 'handshake')
  try {
    const bound = boundSignal(boundMs)
    const all = await echoRoundTrips(sock, rest, warmup + count, bound.signal)
    bound.cancel()
    const samples = all.slice(warmup).sort((a, b) => a - b)
    return {
      roundTrips: samples.length,
      expected: count,
      complete: samples.length === count,
      p50us: percentile(samples, 50),
      p99us: percentile(samples, 99),
      maxUs: samples.at(-1),
    }
  } finally {
    sock.destroy()
  }
}

async function settledRssKiB(pid) {
  // Median of five samples 100 ms apart: a garbage-collected server's RSS wobbles by a few hundred KiB.
  const xs = []
  for (let i = 0; i < 5; i++) {
    xs.push(memoryKiB(pid)?.rss ?? Number.NaN)
    await sleep(100)
  }
  return xs.sort((a, b) => a - b)[2]
}

/**
 * Workload 5: `idle` connections that each prove they are served (one pingRequest answered) and then
 * stay idle, beside one active client; RSS growth per idle connection and the active client's p50.
 */
export async function idle(server, { idle: n, boundMs }) {
  const socks = []
  try {
    const active = await withTimeout(handshake(server.port), 10_000, 'handshake')
    socks.push(active.sock)
    const bound = boundSignal(boundMs)
    await echoRoundTrips(active.sock, active.rest, 200, bound.signal)
    await sleep(300)
    const before = await settledRssKiB(server.pid)
    let answered = 0
    // Batches of 10: indiserver's small listen backlog turns bigger bursts into 1–3 s SYN retries.
    for (let i = 0; i < n && !bound.signal.aborted; i += 10) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(10, n - i) }, async (_, j) => {
          const s = await connect(server.port)
          s.on('error', () => {})
          socks.push(s)
          return ping(s, `idle-${i + j}`, bound.signal)
        }),
      )
      answered += batch.filter(Boolean).length
    }
    await sleep(500)
    const after = await settledRssKiB(server.pid)
    const samples = (await echoRoundTrips(active.sock, Buffer.alloc(0), 500, bound.signal)).sort(
      (a, b) => a - b,
    )
    bound.cancel()
    return {
      idle: n,
      answered,
      complete: answered === n && samples.length === 500,
      rssBeforeKiB: before,
      rssAfterKiB: after,
      kibPerConn: (after - before) / n,
      activeP50us: percentile(samples, 50),
    }
  } finally {
    closeAll(socks)
  }
}

/**
 * Workload 6: a client that enables BLOBs and never reads, beside a normal client. The server runs with
 * `-m mb`. Reports whether the normal client got everything, the server's peak memory and what
 * happened to the slow client (kernel socket state, since a client that never reads cannot see FIN).
 */
export async function slowClient(server, { count, size, nums, boundMs, lingerMs = 1000 }) {
  const socks = []
  try {
    const normal = await withTimeout(handshake(server.port, { blobs: true }), 10_000, 'handshake')
    socks.push(normal.sock)
    const slow = await withTimeout(handshake(server.port, { blobs: true }), 10_000, 'handshake')
    socks.push(slow.sock)
    slow.sock.pause() // and never resumed: node stops reading once its 64 KiB buffer is full
    const slowPort = slow.sock.localPort
    let slowState = 'ESTABLISHED'
    let slowGoneAtS
    let t0 = now()
    const sampler = new Sampler(server.pid, 50, () => {
      if (slowGoneAtS !== undefined) return
      const st = tcpState(slowPort, server.port)
      if (st !== 'ESTABLISHED') {
        slowState = st
        slowGoneAtS = (now() - t0) / 1000
      }
    })
    const bound = boundSignal(boundMs)
    const receiver = new BlobReceiver(count, count * nums)
    t0 = now()
    control(normal.sock, { mode: 2, count, size, ping: 1, nums })
    await receiveBlobs(normal.sock, normal.rest, receiver, bound.signal)
    const normalS = (now() - t0) / 1000
    bound.cancel()
    await sleep(lingerMs)
    sampler.stop()
    const { corrupt } = receiver.verify(size)
    return {
      normalComplete: receiver.complete && corrupt === 0,
      normalBlobs: receiver.blobs.length,
      normalUpdates: receiver.seq.received,
      expectedBlobs: count,
      expectedUpdates: count * nums,
      corrupt,
      pingTimeout: receiver.pingTimeout,
      normalS,
      peakRssMiB: sampler.peakRss / 1024,
      hwmMiB: sampler.hwm / 1024,
      slowDisconnected: slowGoneAtS !== undefined,
      slowDisconnectedAtS: slowGoneAtS,
      slowState,
      payloadMiB: (count * size) / MiB,
    }
  } finally {
    closeAll(socks)
  }
}
