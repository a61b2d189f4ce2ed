import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import type { Readable, Writable } from 'node:stream'
import { StringDecoder } from 'node:string_decoder'
import { IndiError } from '@indi-ts/indi-xml'
import { type Connection, resetError } from '@indi-ts/transport'
import { StreamConnection } from '@indi-ts/transport/node'

/** How a driver process ended. Both null when it never started (see `error`). */
export interface DriverExit {
  code: number | null
  signal: string | null
  /** Set when the process could not be started (IndiError ERR_INDI_SPAWN). */
  error?: Error
}

/** A running executable driver, as started by {@link spawnDriver}. */
export interface DriverProcess {
  /** The driver's stdin (our sends) and stdout (our reads). Label `exec:<command>` by default. */
  readonly connection: Connection
  /** The OS process id; undefined when the spawn failed. */
  readonly pid: number | undefined
  /** Resolves once the process has exited (or failed to start). Never rejects. */
  readonly exited: Promise<DriverExit>
  /** Sends a signal (default SIGTERM). Returns false if the process is already gone. */
  kill(signal?: NodeJS.Signals | number): boolean
}

/** Options of {@link spawnDriver}. */
export interface SpawnDriverOptions {
  /** Environment of the driver. Default: ours (`process.env`). */
  env?: NodeJS.ProcessEnv
  /** Working directory. Default: ours. */
  cwd?: string
  /** Connection label for logs and errors. Default `exec:<command>`. */
  label?: string
  /**
   * Receives each line the driver writes on stderr (without the newline; lines longer than
   * 64 KiB are cut). Default: copy to our stderr prefixed with `<basename of command>: `, as
   * indiserver does.
   */
  onStderrLine?: (line: string) => void
  /** Bytes, default 65 536: see StreamConnection's highWaterMark. */
  highWaterMark?: number
  /**
   * 'fifo' (default on POSIX): stdin/stdout are real pipes (named FIFOs, unlinked at once), so
   * libindi sees no AF_UNIX socket and sends BLOBs inline as base64 instead of passing file
   * descriptors (indi-protocol.md §2.16). 'socketpair': Node's own stdio pipes, which are Unix
   * socket pairs on POSIX: fine for non-libindi drivers. Falls back to 'socketpair' when mkfifo
   * is unavailable.
   */
  stdio?: 'fifo' | 'socketpair'
}

/** Longest stderr line kept before it is cut: bounds memory against a driver that never ends a line. */
const MAX_STDERR_LINE = 64 * 1024

/**
 * Starts an executable driver with two pipes to it and returns its Connection and lifecycle.
 *
 * A spawn failure (e.g. ENOENT) does not throw: the connection's `closed` settles with, and its
 * iteration throws, IndiError ERR_INDI_SPAWN (cause: Node's error); `exited` resolves with it in
 * `error`. When the driver exits, the iteration delivers what it wrote and ends; `closed` is
 * undefined for exit code 0 and ERR_INDI_CONNECTION_RESET otherwise. `connection.destroy()`
 * also sends SIGTERM; `connection.close()` only ends stdin (drivers exit on end of input).
 */
export function spawnDriver(
  command: string,
  args: readonly string[] = [],
  options: SpawnDriverOptions = {},
): DriverProcess {
  const label = options.label ?? `exec:${command}`
  const name = basename(command)
  const pipes = options.stdio !== 'socketpair' ? makeFifos() : undefined
  let child: ChildProcess
  let stdin: Writable
  let stdout: Readable
  try {
    child = spawn(command, [...args], {
      env: options.env,
      cwd: options.cwd,
      stdio: pipes === undefined ? ['pipe', 'pipe', 'pipe'] : [pipes.childIn, pipes.childOut, 'pipe'],
    })
  } finally {
    // The child has its own copies now; ours must go, or we would never see its stdout end.
    if (pipes !== undefined) {
      closeSync(pipes.childIn)
      closeSync(pipes.childOut)
    }
  }
  if (pipes === undefined) {
    stdin = child.stdin!
    stdout = child.stdout!
  } else {
    stdin = new Socket({ fd: pipes.parentW, readable: false, writable: true })
    stdout = new Socket({ fd: pipes.parentR, readable: true, writable: false })
  }

  let running = true
  const connection = new StreamConnection({
    label,
    readable: stdout,
    writable: stdin,
    highWaterMark: options.highWaterMark,
    endOfInput: 'manual',
    release: (how) => {
      if (how === 'abort' && running) {
        // Signal first and keep the pipes until it is gone: closing them first would give the
        // driver a clean end of input (or EPIPE) to react to before it sees SIGTERM.
        child.kill('SIGTERM')
        const grace = setTimeout(closePipes, 2000)
        grace.unref()
        child.once('exit', () => {
          clearTimeout(grace)
          closePipes()
        })
      } else {
        closePipes()
      }
    },
  })
  const closePipes = (): void => {
    stdin.destroy()
    stdout.destroy()
  }
  // EPIPE on stdin after the driver died is reported by the exit below, with its status.
  stdin.on('error', () => {})

  const onLine = options.onStderrLine ?? ((line: string) => process.stderr.write(`${name}: ${line}\n`))
  const stderr = child.stderr!
  const decoder = new StringDecoder('utf8')
  let partial = ''
  stderr.on('data', (d: Buffer) => {
    partial += decoder.write(d)
    let i = partial.indexOf('\n')
    while (i >= 0) {
      onLine(partial.slice(0, i).replace(/\r$/, ''))
      partial = partial.slice(i + 1)
      i = partial.indexOf('\n')
    }
    if (partial.length > MAX_STDERR_LINE) {
      onLine(partial)
      partial = ''
    }
  })
  stderr.on('end', () => {
    partial += decoder.end()
    if (partial.length > 0) onLine(partial)
    partial = ''
  })
  stderr.on('error', () => {})

  let exit: DriverExit | undefined
  let outEnded = false
  // Settle the connection only once the driver has exited AND we have read its stdout to the
  // end, so its last words are never cut off.
  const settle = (): void => {
    if (exit === undefined || !outEnded || exit.error !== undefined) return
    const why = exit.code === null ? `killed by ${exit.signal}` : `exited with code ${exit.code}`
    connection.terminate(exit.code === 0 ? undefined : resetError(label, `the driver ${why}`))
  }
  stdout.once('end', () => {
    outEnded = true
    if (exit !== undefined) settle()
    // The driver closed its stdout but lives on: a half-close, end the input now. If it is
    // already dead (a zombie awaiting our waitpid), wait for its status to tell clean from crash.
    else if (!hasExited(child.pid)) connection.endInput()
  })
  const exited = new Promise<DriverExit>((resolve) => {
    child.once('error', (err: Error) => {
      // Only a failed spawn has no pid; a failed kill() also emits 'error' but must not end us.
      if (child.pid !== undefined || exit !== undefined) return
      running = false
      const e = new IndiError('ERR_INDI_SPAWN', `${label}: cannot start ${command}: ${err.message}`, {
        cause: err,
      })
      exit = { code: null, signal: null, error: e }
      connection.fail(e)
      resolve(exit)
    })
    child.once('exit', (code: number | null, signal: NodeJS.Signals | null) => {
      running = false
      exit = { code, signal }
      resolve(exit)
      settle()
    })
  })

  return {
    connection,
    get pid() {
      return child.pid
    },
    exited,
    kill: (signal = 'SIGTERM') => (running ? child.kill(signal) : false),
  }
}

/** PF_EXITING in /proc/<pid>/stat flags: set as the kernel starts tearing the process down. */
const PF_EXITING = 0x4

/**
 * True when the process is gone, a zombie, or already exiting (Linux /proc); elsewhere false
 * (assume alive). A dying process closes its descriptors before it turns zombie, so the exiting
 * flag is what tells "closed stdout and lives on" from "crashed" when its end of output arrives.
 */
function hasExited(pid: number | undefined): boolean {
  if (pid === undefined || process.platform !== 'linux') return false
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const state = fields[0]
    const flags = Number(fields[6])
    return state === 'Z' || state === 'X' || (flags & PF_EXITING) !== 0
  } catch {
    return true
  }
}

interface Fifos {
  childIn: number
  childOut: number
  parentW: number
  parentR: number
}

/**
 * Two named pipes, opened on both ends and unlinked at once. Node's `stdio: 'pipe'` gives the
 * child Unix socket pairs, on which libindi switches to fd-passing BLOBs that a stream reader
 * cannot use; FIFOs are true pipes. Opening a FIFO blocks until the other end exists, so each is
 * first opened read-write (never blocks on Linux) to let the one-way opens through.
 */
function makeFifos(): Fifos | undefined {
  if (process.platform === 'win32') return undefined
  let dir: string | undefined
  try {
    dir = mkdtempSync(join(tmpdir(), 'indi-ts-'))
    const fin = join(dir, 'stdin')
    const fout = join(dir, 'stdout')
    execFileSync('mkfifo', ['-m', '600', fin, fout], { stdio: 'ignore' })
    let rw = openSync(fin, constants.O_RDWR)
    const childIn = openSync(fin, constants.O_RDONLY)
    const parentW = openSync(fin, constants.O_WRONLY | constants.O_NONBLOCK)
    closeSync(rw)
    rw = openSync(fout, constants.O_RDWR)
    const childOut = openSync(fout, constants.O_WRONLY)
    const parentR = openSync(fout, constants.O_RDONLY | constants.O_NONBLOCK)
    closeSync(rw)
    return { childIn, childOut, parentW, parentR }
  } catch {
    return undefined
  } finally {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  }
}
