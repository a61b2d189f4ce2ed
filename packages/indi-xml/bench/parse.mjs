// Parse benchmark: indi-xml's full parser and raw framer side by side with saxes and libxmljs2's
// SAX push parser, on the same input, in one run. Bounded in time (a few seconds per contender).
// Run: npm run bench (after building: npx tsc -b packages/indi-xml).

import { execFileSync, execSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import libxmljs from 'libxmljs2'
import { SaxesParser } from 'saxes'
import { buildMessageBytes, IndiFramer, IndiParser } from '../dist/index.js'

const N = 200_000
const CHUNK = 64 * 1024
const ROUNDS = Number(process.env.ROUNDS ?? 3)

// Time is this process's CPU time (user + system, all threads, so GC included), not wall time:
// on a shared machine wall time mostly measures the neighbours (the same code gave 2x spreads
// between runs); CPU time repeats within a few percent.
function cpuMs(t0) {
  const u = process.cpuUsage(t0)
  return (u.user + u.system) / 1000
}

// One 8 MiB BLOB in a setBLOBVector (base64 wrapped at 72 columns, libindi's layout), pushed in
// 64 KiB chunks and fully parsed (base64 decoded). Run in a child process of its own, before
// anything else, so that it sees a driver's heap (a few MB), not this benchmark's ~200 MB of
// input and results, where every GC that the 11 MB allocations trigger costs several times more.
// Ten rounds: the first ones also pay the kernel's page faults for fresh memory (malloc keeps
// returning its big blocks to the kernel until its thresholds adapt), so the first round is
// reported as well as the best.
function blobBench() {
  const payload = randomBytes(8 << 20)
  const blobEl = buildMessageBytes({
    tag: 'setBLOBVector',
    device: 'CCD Simulator',
    name: 'CCD1',
    state: 'Ok',
    members: [{ name: 'CCD1', size: payload.length, format: '.fits', data: payload }],
  })
  const blobChunks = []
  for (let i = 0; i < blobEl.length; i += CHUNK) blobChunks.push(blobEl.subarray(i, i + CHUNK))
  let blobMs = Number.POSITIVE_INFINITY
  let firstMs = 0
  for (let r = 0; r < Math.max(ROUNDS, 10); r++) {
    const p = new IndiParser()
    const t0 = process.cpuUsage()
    let got
    for (const c of blobChunks) for (const e of p.push(c)) if (e.kind === 'message') got = e.message
    const ms = cpuMs(t0)
    if (r === 0) firstMs = ms
    blobMs = Math.min(blobMs, ms)
    if (!got || !Buffer.from(got.members[0].data).equals(payload)) throw new Error('BLOB did not round-trip')
  }
  return { wire: blobEl.length, payload: payload.length, ms: blobMs, firstMs }
}

if (process.argv[2] === '--blob') {
  console.log(JSON.stringify(blobBench()))
  process.exit(0)
}
const blob = JSON.parse(
  execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--blob'], { encoding: 'utf8' }),
)

// One input: 200,000 setNumberVector with 3 members, in indiserver's re-serialised layout
// (double quotes, content on its own line, §1.8 of the protocol reference).
const parts = []
for (let i = 0; i < N; i++) {
  parts.push(
    `<setNumberVector device="Telescope Simulator" name="EQUATORIAL_EOD_COORD" state="Ok" timeout="60" timestamp="2026-11-24T01:09:${String(i % 60).padStart(2, '0')}">\n` +
      `    <oneNumber name="RA">\n${(i * 1e-4).toPrecision(17)}\n    </oneNumber>\n` +
      `    <oneNumber name="DEC">\n${(45 + i * 1e-6).toPrecision(20)}\n    </oneNumber>\n` +
      `    <oneNumber name="SEQ">\n${i}\n    </oneNumber>\n` +
      `</setNumberVector>\n`,
  )
}
const input = Buffer.from(parts.join(''))
const chunks = []
for (let i = 0; i < input.length; i += CHUNK) chunks.push(input.subarray(i, i + CHUNK))
const text = input.toString('utf8')
const textChunks = []
for (let i = 0; i < text.length; i += CHUNK) textChunks.push(text.slice(i, i + CHUNK))

function best(name, fn) {
  let bestMs = Number.POSITIVE_INFINITY
  let count = 0
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.cpuUsage()
    count = fn()
    bestMs = Math.min(bestMs, cpuMs(t0))
  }
  if (count !== N) throw new Error(`${name}: counted ${count} messages, expected ${N}`)
  return { name, ms: bestMs, rate: (N / bestMs) * 1000 }
}

const results = []
results.push(
  best('saxes', () => {
    let n = 0
    let depth = 0
    const p = new SaxesParser({ fragment: true })
    p.on('opentag', () => depth++)
    p.on('closetag', () => {
      if (--depth === 0) n++
    })
    p.on('text', () => {})
    for (const c of textChunks) p.write(c)
    p.close()
    return n
  }),
)
results.push(
  best('libxmljs2 SAX', () => {
    let n = 0
    let depth = 0
    const p = new libxmljs.SaxPushParser()
    p.on('startElementNS', () => depth++)
    p.on('endElementNS', () => {
      if (--depth === 1) n++
    })
    p.on('characters', () => {})
    p.push('<root>')
    for (const c of textChunks) p.push(c)
    p.push('</root>')
    return n
  }),
)
results.push(
  best('indi-xml IndiParser (full parse)', () => {
    let n = 0
    const p = new IndiParser()
    for (const c of chunks)
      for (const e of p.push(c)) if (e.kind === 'message' && e.message.members.length === 3) n++
    p.end()
    return n
  }),
)
results.push(
  best('indi-xml IndiFramer (raw frames)', () => {
    let n = 0
    const f = new IndiFramer()
    // A router reads tag, device and name of every frame, and forwards its bytes: include that cost.
    for (const c of chunks)
      for (const e of f.push(c))
        if (
          e.kind === 'frame' &&
          e.frame.device !== undefined &&
          e.frame.name !== undefined &&
          e.frame.bytes.byteLength > 0
        )
          n++
    f.end()
    return n
  }),
)

// The same BLOB once more in this process, after the runs above (~200 MB heap), for comparison.
const blobHere = blobBench()

let sha = 'unknown'
try {
  sha = execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim()
} catch {}
console.log(
  `indi-xml parse bench — git ${sha}, Node ${process.version}, ${os.cpus()[0]?.model} ×${os.cpus().length}`,
)
console.log(
  `input: ${N} setNumberVector × 3 members, ${(input.length / 1e6).toFixed(1)} MB, ${CHUNK / 1024} KiB chunks, best of ${ROUNDS} by CPU time`,
)
const saxes = results[0].rate
for (const r of results) {
  console.log(
    `${r.name.padEnd(34)} ${(r.rate / 1e3).toFixed(0).padStart(7)} k msgs/s  ${(input.length / r.ms / 1e3).toFixed(0).padStart(5)} MB/s  ×${(r.rate / saxes).toFixed(2)} saxes`,
  )
}
const blobLine = (b) =>
  `${b.ms.toFixed(1)} ms = ${(b.wire / b.ms / 1e3).toFixed(0)} MB/s of XML, ${(b.payload / b.ms / 1e3).toFixed(0)} MB/s decoded`
console.log(
  `8 MiB BLOB element (${(blob.wire / 1048576).toFixed(1)} MiB on the wire), full parse, in a fresh process (a driver's heap), best of 10: ${blobLine(blob)}`,
)
console.log(`  its first round (fresh memory, page faults): ${blobLine({ ...blob, ms: blob.firstMs })}`)
console.log(
  `  in this process after the runs above (~200 MB heap, GC-bound), best of 10: ${blobLine(blobHere)}`,
)
