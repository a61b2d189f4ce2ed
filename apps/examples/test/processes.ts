/** Test helpers for examples run as real processes: spawning, stderr capture, orphan checks. */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** apps/examples/<rel> as an absolute path. */
export const examplesPath = (rel: string): string => fileURLToPath(new URL(`../${rel}`, import.meta.url))

/** A spawned process with its stderr kept, and a promise of its exit. */
export interface Spawned {
  child: ChildProcess
  pid: number
  stderr: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Resolves once stderr contains `needle` (rejects if the process exits first). */
  waitStderr(needle: string): Promise<void>
}

export function spawnLogged(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Spawned {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } })
  let err = ''
  const waiters: { needle: string; resolve: () => void; reject: (e: Error) => void }[] = []
  child.stderr!.on('data', (b: Buffer) => {
    err += b.toString()
    for (const w of waiters.splice(0)) {
      if (err.includes(w.needle)) w.resolve()
      else waiters.push(w)
    }
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      for (const w of waiters.splice(0))
        w.reject(new Error(`exited (${code ?? signal}) before "${w.needle}":\n${err}`))
      resolve({ code, signal })
    }),
  )
  if (child.pid === undefined) throw new Error(`could not start ${command}`)
  return {
    child,
    pid: child.pid,
    stderr: () => err,
    exited,
    waitStderr: (needle) =>
      err.includes(needle)
        ? Promise.resolve()
        : child.exitCode !== null
          ? Promise.reject(new Error(`exited before "${needle}":\n${err}`))
          : new Promise((resolve, reject) => waiters.push({ needle, resolve, reject })),
  }
}

/** Direct children of `pid` (Linux `ps`). */
export function childPids(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((s) => Number(s.trim()))
      .filter((n) => n > 0)
  } catch {
    return [] // ps exits 1 when there is none
  }
}

/** Whether a process with this pid still exists (zombies included). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Kills a process we started, if it is still there (test cleanup only). */
export async function stop(s: Spawned | undefined): Promise<void> {
  if (s === undefined || s.child.exitCode !== null || s.child.signalCode !== null) return
  s.child.kill('SIGKILL')
  await s.exited
}
