// Process control for the benchmark: every process is started here, tracked by PID and killed by PID.
import { spawn } from 'node:child_process'
import { createWriteStream, readdirSync, readFileSync } from 'node:fs'
import net from 'node:net'

/** All processes started by this run, so a crash or Ctrl-C still kills each one by its PID. */
const started = new Set()

/**
 * Starts `command` with stdout/stderr appended to `logFile`.
 * @returns {{ pid: number, child: import('node:child_process').ChildProcess, exited: Promise<{code: number|null, signal: string|null}> }}
 */
export function startProcess(command, args, { logFile, env, cwd } = {}) {
  const child = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
    cwd,
  })
  if (logFile) {
    const log = createWriteStream(logFile, { flags: 'a' })
    log.write(`\n# ${new Date().toISOString()} ${command} ${args.join(' ')}\n`)
    child.stdout.pipe(log, { end: false })
    child.stderr.pipe(log, { end: false })
  } else {
    child.stdout.resume()
    child.stderr.resume()
  }
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
    child.once('error', () => resolve({ code: -1, signal: null }))
  })
  const handle = { pid: child.pid, child, exited }
  started.add(handle)
  exited.then(() => started.delete(handle))
  return handle
}

/** PIDs of the direct children of `pid` (the drivers a server spawned). */
export function childrenOf(pid) {
  const out = []
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim()
      if (text) out.push(...text.split(/\s+/).map(Number))
    }
  } catch {
    // the process already exited
  }
  return out
}

function alive(pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * Stops a server and the drivers it spawned: SIGTERM, then SIGKILL after `graceMs`, each by PID.
 * Drivers are collected before the server dies, since afterwards they are re-parented.
 */
export async function stopProcess(handle, graceMs = 1000) {
  const kids = childrenOf(handle.pid)
  const grandkids = kids.flatMap(childrenOf)
  const all = [handle.pid, ...kids, ...grandkids]
  const signal = (pids, sig) => {
    for (const pid of pids) {
      try {
        process.kill(pid, sig)
      } catch {
        // already gone
      }
    }
  }
  // The server first, so it does not see its drivers die (and restart them) while stopping; drivers
  // normally exit on EOF, stragglers get SIGTERM and then SIGKILL, all by PID.
  signal([handle.pid], 'SIGTERM')
  const deadline = Date.now() + graceMs
  while (Date.now() < deadline && alive(handle.pid)) await sleep(20)
  await sleep(50)
  signal([...kids, ...grandkids].filter(alive), 'SIGTERM')
  const deadline2 = Date.now() + 500
  while (Date.now() < deadline2 && all.some(alive)) await sleep(20)
  signal(all.filter(alive), 'SIGKILL')
  await Promise.race([handle.exited, sleep(2000)])
}

/** Kills everything still running; called on exit and on signals. */
export function killAllStarted() {
  for (const h of started) {
    for (const pid of [...childrenOf(h.pid), h.pid]) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** VmRSS and VmHWM of `pid` in KiB (undefined once the process is gone). */
export function memoryKiB(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8')
    const rss = /VmRSS:\s+(\d+)/.exec(text)
    const hwm = /VmHWM:\s+(\d+)/.exec(text)
    return { rss: Number(rss?.[1]), hwm: Number(hwm?.[1]) }
  } catch {
    return undefined
  }
}

/** User + system CPU seconds consumed so far by `pid` (clock ticks are 100 Hz on Linux). */
export function cpuSeconds(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return Number.NaN
  }
}

/** CPU seconds of a server plus the drivers it runs. */
export function treeCpuSeconds(pid) {
  let total = cpuSeconds(pid)
  for (const kid of childrenOf(pid)) total += cpuSeconds(kid)
  return total
}

const TCP_STATES = {
  '01': 'ESTABLISHED',
  '06': 'TIME_WAIT',
  '07': 'CLOSE',
  '08': 'CLOSE_WAIT',
  '0A': 'LISTEN',
}

/**
 * Kernel state of our loopback socket with this local port, from /proc/net/tcp. A client that never
 * reads cannot see the server's FIN in node, but the kernel moves the socket to CLOSE_WAIT at once.
 */
export function tcpState(localPort, remotePort) {
  const hex = (p) => p.toString(16).toUpperCase().padStart(4, '0')
  const lines = readFileSync('/proc/net/tcp', 'utf8').split('\n')
  for (const line of lines) {
    const f = line.trim().split(/\s+/)
    if (f[1]?.endsWith(`:${hex(localPort)}`) && f[2]?.endsWith(`:${hex(remotePort)}`)) {
      return TCP_STATES[f[3]] ?? f[3]
    }
  }
  return 'GONE'
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port; rejects after `timeoutMs`. */
export async function waitForPort(port, timeoutMs, exited) {
  const deadline = Date.now() + timeoutMs
  let gone = false
  exited?.then(() => {
    gone = true
  })
  while (Date.now() < deadline && !gone) {
    const ok = await new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy()
        resolve(true)
      })
      s.once('error', () => resolve(false))
    })
    if (ok) return
    await sleep(50)
  }
  throw new Error(gone ? `server exited before listening on ${port}` : `nothing listening on ${port}`)
}

/** Rejects with a labelled error if `promise` does not settle within `ms`; the timer never outlives it. */
export async function withTimeout(promise, ms, label) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label}: timed out after ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

function cpuTimes() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  return { idle: f[3] + f[4], total: f.reduce((a, b) => a + b, 0) }
}

/** Fraction of the machine's CPU time that was idle over the next `ms` (all cores, from /proc/stat). */
export async function idleFraction(ms = 250) {
  const a = cpuTimes()
  await sleep(ms)
  const b = cpuTimes()
  return b.total > a.total ? (b.idle - a.idle) / (b.total - a.total) : 1
}

/**
 * Waits until at least `minIdle` of the CPU is idle (this machine is shared with parallel builds and
 * tests), for at most `maxMs`. Returns the last idle fraction seen, which each run records.
 */
export async function waitQuiet(minIdle, maxMs) {
  const deadline = Date.now() + maxMs
  let f = await idleFraction()
  while (f < minIdle && Date.now() < deadline) f = await idleFraction()
  return f
}
