// Workload 7: how fast a driver framework can emit updates. Each driver writes `count` setNumberVector
// (3 members) to a pipe; we count every one and time first to last, so both drivers are measured the
// same way and start-up time (node's ~50 ms) is not counted.
import { spawn } from 'node:child_process'
import { now } from './client.mjs'

const NEEDLE = Buffer.from('</setNumberVector>')

/**
 * Spawns `command args` with stdin and stdout piped, sends getProperties (the libindi driver starts on
 * it; the indi-ts one ignores it for this purpose), and counts setNumberVector closings on stdout until
 * `count` arrived, the driver exits, or `boundMs` passes. Kills the driver by PID on the way out.
 */
export function emitRate(command, args, { count, boundMs, env }) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } })
    let seen = 0
    let tFirst = 0
    let tLast = 0
    let carry = Buffer.alloc(0)
    let stderr = ''
    let done = false
    const finish = (why) => {
      if (done) return
      done = true
      clearTimeout(timer)
      try {
        process.kill(child.pid, 'SIGKILL')
      } catch {
        // already exited
      }
      const line = stderr.split('\n').find((l) => l.startsWith('{'))
      let self
      try {
        self = line ? JSON.parse(line) : undefined
      } catch {
        self = undefined
      }
      const s = (tLast - tFirst) / 1000
      resolve({
        received: seen,
        expected: count,
        complete: seen >= count,
        why,
        seconds: s,
        perSecond: seen > 1 && s > 0 ? (seen - 1) / s : Number.NaN,
        selfReported: self?.perSecond,
        stderr: stderr.slice(0, 500),
      })
    }
    const timer = setTimeout(() => finish('timeout'), boundMs)
    child.stdin.on('error', () => {})
    child.stdin.write('<getProperties version="1.7"/>\n')
    child.stderr.on('data', (b) => {
      if (stderr.length < 10_000) stderr += b.toString()
    })
    child.stdout.on('data', (chunk) => {
      const buf = carry.length ? Buffer.concat([carry, chunk]) : chunk
      let i = buf.indexOf(NEEDLE)
      let last = -1
      while (i !== -1) {
        seen++
        last = i + NEEDLE.length
        i = buf.indexOf(NEEDLE, last)
      }
      if (last >= 0) {
        tLast = now()
        if (tFirst === 0) tFirst = tLast
        carry = buf.subarray(Math.max(last, buf.length - NEEDLE.length))
      } else carry = buf.subarray(Math.max(0, buf.length - NEEDLE.length))
      if (seen >= count) finish('done')
    })
    child.once('close', () => finish('exited'))
    child.once('error', (err) => {
      stderr += String(err)
      finish('error')
    })
  })
}
