// npm run bench: messages per second from a driver built on the framework, updating a 3-member
// NumberVector in a loop over stdout, (1) piped to a counter that checks every message arrived,
// (2) to /dev/null. Reference on this machine: libindi's C++ DefaultDevice ~413,000/s to /dev/null
// and ~453,000/s into a pipe.
import { spawn } from 'node:child_process'
import { openSync } from 'node:fs'
import os from 'node:os'
import { fileURLToPath } from 'node:url'

const DRIVER = fileURLToPath(new URL('./emit-driver.mjs', import.meta.url))
const N = Number(process.argv[2] ?? 1_000_000)
const LIBINDI = { devnull: 413_000, pipe: 453_000 }

function runOnce(stdout) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint()
    const child = spawn(process.execPath, [DRIVER, String(N)], { stdio: ['pipe', stdout, 'pipe'] })
    let err = ''
    let seen = 0
    child.stderr.on('data', (b) => {
      err += b
    })
    if (stdout === 'pipe') {
      // Count elements on the raw bytes (Buffer.indexOf is memmem): a counter that decoded text
      // would be slower than the driver and measure itself.
      const needle = Buffer.from('<setNumberVector')
      let carry = Buffer.alloc(0)
      const count = (buf) => {
        for (let at = buf.indexOf(needle); at !== -1; at = buf.indexOf(needle, at + needle.length)) seen++
      }
      child.stdout.on('data', (b) => {
        // Elements split across chunks: only the small seam needs joining.
        count(Buffer.concat([carry, b.subarray(0, needle.length - 1)]))
        count(b)
        carry = Buffer.from(b.subarray(Math.max(0, b.length - (needle.length - 1))))
      })
    }
    child.on('close', (code) => {
      const wall = Number(process.hrtime.bigint() - t0) / 1e9
      const line = err.split('\n').find((l) => l.startsWith('{'))
      if (code !== 0 || line === undefined) return reject(new Error(`driver failed (${code}): ${err}`))
      resolve({ ...JSON.parse(line), received: stdout === 'pipe' ? seen : undefined, wallSeconds: wall })
    })
    // stdin stays open while the driver runs (end of input would shut it down).
  })
}

const env = {
  load: os.loadavg()[0].toFixed(1),
  node: process.version,
  cpu: os.cpus()[0]?.model,
  cores: os.cpus().length,
  messages: N,
}
console.log(`indi-driver emit benchmark ${JSON.stringify(env)}`)
const devnull = openSync('/dev/null', 'w')
for (const [name, target] of [
  ['pipe', 'pipe'],
  ['devnull', devnull],
]) {
  const best = []
  for (let i = 0; i < 3; i++) best.push(await runOnce(target))
  const r = best.sort((a, b) => b.perSecond - a.perSecond)[0]
  if (name === 'pipe' && r.received !== N) throw new Error(`counter saw ${r.received} of ${N} messages`)
  console.log(
    `${name.padEnd(8)} ${r.perSecond.toLocaleString('en-US')} msg/s, ${r.perCpuSecond.toLocaleString('en-US')} msg/CPU-s (best of 3; libindi ${LIBINDI[name].toLocaleString('en-US')}/s, ratio ${(r.perSecond / LIBINDI[name]).toFixed(2)})${r.received !== undefined ? `, counter saw ${r.received}` : ''}`,
  )
}
