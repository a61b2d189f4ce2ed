// Throughput of @indi-ts/indi-queue against a bare promise hand-off measured in the same run.
// Plain ESM over the built package: run `npx tsc -b packages/indi-queue` first, then `npm run bench`.
// Each figure is the best of ROUNDS runs of N items, to keep GC and JIT warm-up out of it.
import { execSync } from 'node:child_process'
import os from 'node:os'
import { BoundedQueue, FanOut } from '../dist/index.js'

const N = 1_000_000
const ROUNDS = 5
const SUBSCRIBERS = 10

/**
 * The baseline: the least an async hand-off can do. An unbounded array plus one pending resolver,
 * no bounds, no abort, no close. The producer awaits once per item, as any async producer does.
 */
class BareChannel {
  buf = []
  head = 0
  waiter = null
  push(v) {
    const w = this.waiter
    if (w !== null) {
      this.waiter = null
      w(v)
    } else this.buf.push(v)
  }
  next() {
    if (this.head < this.buf.length) {
      const v = this.buf[this.head++]
      if (this.head === this.buf.length) {
        this.buf.length = 0
        this.head = 0
      }
      return Promise.resolve(v)
    }
    return new Promise((resolve) => {
      this.waiter = resolve
    })
  }
}

async function bare(n) {
  const ch = new BareChannel()
  let sum = 0
  const consumer = (async () => {
    for (let i = 0; i < n; i++) sum += await ch.next()
  })()
  for (let i = 0; i < n; i++) {
    ch.push(i)
    await undefined
  }
  await consumer
  return sum
}

async function bareFan(n, k) {
  const chans = Array.from({ length: k }, () => new BareChannel())
  let sum = 0
  const consumers = chans.map(async (ch) => {
    for (let i = 0; i < n; i++) sum += await ch.next()
  })
  for (let i = 0; i < n; i++) {
    for (const ch of chans) ch.push(i)
    await undefined
  }
  await Promise.all(consumers)
  return sum
}

async function queueGet(n, capacity) {
  const q = new BoundedQueue(capacity)
  let sum = 0
  const consumer = (async () => {
    for (let i = 0; i < n; i++) sum += await q.get()
  })()
  for (let i = 0; i < n; i++) await q.put(i)
  await consumer
  return sum
}

async function queueIter(n, capacity) {
  const q = new BoundedQueue(capacity)
  let sum = 0
  const consumer = (async () => {
    for await (const v of q) sum += v
  })()
  for (let i = 0; i < n; i++) await q.put(i)
  q.close()
  await consumer
  return sum
}

async function fanOut(n, k, capacity, policy) {
  const f = new FanOut()
  const subs = Array.from({ length: k }, () => f.subscribe({ capacity, policy }))
  let sum = 0
  const consumers = subs.map(async (s) => {
    for (let i = 0; i < n; i++) sum += await s.get()
  })
  for (let i = 0; i < n; i++) if (!f.offer(i)) await f.publish(i)
  await Promise.all(consumers)
  return sum
}

async function best(fn) {
  let bestMs = Number.POSITIVE_INFINITY
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now()
    await fn()
    bestMs = Math.min(bestMs, performance.now() - t0)
  }
  return bestMs
}

const rate = (items, ms) => (items / ms) * 1000
const fmt = (x) => `${(x / 1e6).toFixed(2)} M/s`

let sha = '?'
try {
  sha = execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim()
} catch {}
console.log(
  `indi-queue bench: git ${sha}, node ${process.version}, ${os.cpus()[0]?.model ?? '?'} ×${os.cpus().length}`,
)
console.log(`N=${N} items, best of ${ROUNDS}\n`)

const baseMs = await best(() => bare(N))
const base = rate(N, baseMs)
console.log(`baseline bare promise hand-off         ${fmt(base)}`)
const rows = [
  ['BoundedQueue(4)     put → get', () => queueGet(N, 4)],
  ['BoundedQueue(1024)  put → get', () => queueGet(N, 1024)],
  ['BoundedQueue(4)     put → for await', () => queueIter(N, 4)],
  ['BoundedQueue(1024)  put → for await', () => queueIter(N, 1024)],
]
for (const [name, fn] of rows) {
  const r = rate(N, await best(fn))
  console.log(`${name.padEnd(38)} ${fmt(r)}   ${(base / r).toFixed(2)}× baseline time`)
}

const M = N / SUBSCRIBERS
const fanBase = rate(M, await best(() => bareFan(M, SUBSCRIBERS)))
console.log(`\nbaseline ${SUBSCRIBERS} bare channels (items published)  ${fmt(fanBase)}`)
for (const [name, cap, policy] of [
  ['FanOut ×10 wait(4)', 4, 'wait'],
  ['FanOut ×10 wait(1024)', 1024, 'wait'],
]) {
  const r = rate(M, await best(() => fanOut(M, SUBSCRIBERS, cap, policy)))
  console.log(
    `${name.padEnd(38)} ${fmt(r)} published, ${fmt(r * SUBSCRIBERS)} delivered   ${(fanBase / r).toFixed(2)}× baseline time`,
  )
}
