// npm run bench: messages per second from a driver built on the framework, updating a 3-member
// NumberVector in a loop over stdout, (1) piped to a counter that checks every message arrived,
// (2) to /dev/null. Side by side, under the same conditions, with libindi's C++ DefaultDevice
// doing the same (bench/drivers/emit_libindi.cpp, built by the bench workspace or here with g++
// when libindi-dev is installed). Reference figures measured earlier on this machine, unloaded:
// libindi ~413,000/s to /dev/null and ~453,000/s into a pipe.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, openSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const DRIVER = fileURLToPath(new URL('./emit-driver.mjs', import.meta.url))
const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const N = Number(process.argv[2] ?? 1_000_000)
const ROUNDS = Number(process.argv[3] ?? 3)
const REFERENCE = { devnull: 413_000, pipe: 453_000 }

function libindiBinary() {
  const built = join(ROOT, 'bench/results/build/emit_libindi')
  if (existsSync(built)) return built
  try {
    const out = join(mkdtempSync(join(os.tmpdir(), 'indi-driver-bench-')), 'emit_libindi')
    execFileSync('g++', ['-O2', '-o', out, join(ROOT, 'bench/drivers/emit_libindi.cpp'), '-lindidriver'], {
      stdio: 'ignore',
    })
    return out
  } catch {
    return undefined
  }
}

/** Runs one emitter; wall time from spawn to exit, as the parent sees it, for both kinds. */
function runOnce(kind, stdout, libindi) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint()
    const child =
      kind === 'ours'
        ? spawn(process.execPath, [DRIVER, String(N)], { stdio: ['pipe', stdout, 'pipe'] })
        : spawn(libindi, [], {
            stdio: ['pipe', stdout, 'pipe'],
            env: { ...process.env, EMIT_COUNT: String(N) },
          })
    let err = ''
    let seen = 0
    child.stderr.on('data', (b) => {
      err += b
    })
    if (stdout === 'pipe') {
      // Count elements on the raw bytes (Buffer.indexOf is memmem); only the seam between chunks
      // is joined, so the counter stays cheaper than the drivers it measures.
      const needle = Buffer.from('<setNumberVector')
      let carry = Buffer.alloc(0)
      const count = (buf) => {
        for (let at = buf.indexOf(needle); at !== -1; at = buf.indexOf(needle, at + needle.length)) seen++
      }
      child.stdout.on('data', (b) => {
        count(Buffer.concat([carry, b.subarray(0, needle.length - 1)]))
        count(b)
        carry = Buffer.from(b.subarray(Math.max(0, b.length - (needle.length - 1))))
      })
    }
    if (kind === 'libindi') {
      // It emits from its getProperties handler, then exits at end of input.
      child.stdin.end(`<getProperties version='1.7'/>\n`)
    }
    // Ours: stdin stays open (end of input would shut it down); it closes itself when done.
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9
      if (code !== 0) return reject(new Error(`${kind} failed (${code}): ${err}`))
      if (stdout === 'pipe' && seen !== N) return reject(new Error(`${kind}: counter saw ${seen} of ${N}`))
      const own = err.split('\n').find((l) => l.startsWith('{'))
      resolve({ perSecond: Math.round(N / seconds), own: own ? JSON.parse(own) : undefined })
    })
  })
}

const libindi = libindiBinary()
const env = {
  load: os.loadavg()[0].toFixed(1),
  node: process.version,
  cpu: os.cpus()[0]?.model,
  cores: os.cpus().length,
}
console.log(
  `indi-driver emit benchmark: ${N.toLocaleString('en-US')} setNumberVector, best of ${ROUNDS} ${JSON.stringify(env)}`,
)
const devnull = openSync('/dev/null', 'w')
for (const [name, target] of [
  ['pipe', 'pipe'],
  ['devnull', devnull],
]) {
  const ours = []
  const theirs = []
  // Interleaved, so both see the same machine load.
  for (let i = 0; i < ROUNDS; i++) {
    ours.push(await runOnce('ours', target))
    if (libindi) theirs.push(await runOnce('libindi', target, libindi))
  }
  const best = (rs) => rs.sort((a, b) => b.perSecond - a.perSecond)[0]
  const o = best(ours)
  const t = libindi ? best(theirs) : undefined
  const vs = t
    ? `libindi same run ${t.perSecond.toLocaleString('en-US')}/s, ratio ${(o.perSecond / t.perSecond).toFixed(2)}`
    : 'libindi binary not available'
  console.log(
    `${name.padEnd(8)} indi-driver ${o.perSecond.toLocaleString('en-US')} msg/s (${o.own.perCpuSecond.toLocaleString('en-US')}/CPU-s) | ${vs} | reference ${REFERENCE[name].toLocaleString('en-US')}/s, ratio ${(o.perSecond / REFERENCE[name]).toFixed(2)}`,
  )
}
