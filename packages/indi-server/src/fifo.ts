import { constants, openSync, statSync } from 'node:fs'
import { Socket } from 'node:net'
import { join } from 'node:path'
import { IndiError } from '@indi-ts/indi-xml'
import { type DriverArg, parseDriverArg } from './args.js'
import type { IndiServer } from './server.js'

/** One FIFO command in indiserver's grammar (protocol reference §2.11). */
export interface FifoCommand {
  readonly op: 'start' | 'stop'
  /** The driver as written: an executable name, or `[device]@host[:port]`. */
  readonly driver: string
  /** `-n`: device name (INDIDEV; for stop, pick the driver serving it). */
  readonly name?: string
  /** `-c`: INDICONFIG. */
  readonly config?: string
  /** `-s`: INDISKEL. */
  readonly skeleton?: string
  /** `-p`: INDIPREFIX, and the driver runs as `<prefix>/bin/<driver>`. */
  readonly prefix?: string
}

const OPTION_KEYS = { n: 'name', c: 'config', s: 'skeleton', p: 'prefix' } as const

/**
 * Parses one FIFO line. Like indiserver's sscanf: options are `-X "value"` with double quotes, at
 * most four, parsing stops at the first that does not fit; a line with `@` is a remote whose quotes
 * are stripped. Returns undefined for a blank line or an unknown command.
 */
export function parseFifoLine(line: string): FifoCommand | undefined {
  const trimmed = line.trim()
  const m = /^(\S+)\s+([\s\S]*)$/.exec(trimmed)
  if (!m) return undefined
  const op = m[1]
  if (op !== 'start' && op !== 'stop') return undefined
  const rest = m[2]!
  if (rest.includes('@')) {
    return { op, driver: rest.replaceAll('"', '').trim() }
  }
  const dm = /^(\S+)([\s\S]*)$/.exec(rest)
  if (!dm) return undefined
  const cmd: { op: 'start' | 'stop'; driver: string } & Partial<
    Record<'name' | 'config' | 'skeleton' | 'prefix', string>
  > = {
    op,
    driver: dm[1]!,
  }
  const opt = /^\s*-(.)\s*"([^"]{1,512})"/
  let tail = dm[2]!
  for (let n = 0; n < 4; n++) {
    const om = opt.exec(tail)
    if (!om) break
    const key = OPTION_KEYS[om[1] as keyof typeof OPTION_KEYS]
    if (key) cmd[key] = om[2]!
    tail = tail.slice(om[0].length)
  }
  return cmd
}

/** The environment a FIFO-started driver gets: INDIDEV, INDICONFIG, INDISKEL, INDIPREFIX. */
export function fifoEnv(cmd: FifoCommand): Record<string, string> {
  const env: Record<string, string> = {}
  if (cmd.name) env.INDIDEV = cmd.name
  if (cmd.config) env.INDICONFIG = cmd.config
  if (cmd.skeleton) env.INDISKEL = cmd.skeleton
  if (cmd.prefix) env.INDIPREFIX = cmd.prefix
  return env
}

/** The name a remote driver gets in an IndiServer (`device@host:port`), for `stop`. */
export function remoteName(arg: Extract<DriverArg, { kind: 'remote' }>): string {
  return `${arg.device ?? ''}@${arg.host}:${arg.port}`
}

/**
 * Applies a FIFO command to a server. `start` adds an executable (named as written, so `stop`
 * finds it) or a remote; `stop` removes the first driver of that name (serving `-n` if given),
 * with delProperty and no restart. Resolves false when `stop` found nothing.
 */
export async function applyFifoCommand(server: IndiServer, cmd: FifoCommand): Promise<boolean> {
  const isRemote = cmd.driver.includes('@')
  if (cmd.op === 'start') {
    if (isRemote) {
      const r = parseDriverArg(cmd.driver) as Extract<DriverArg, { kind: 'remote' }>
      server.addRemote({ host: r.host, port: r.port, ...(r.device ? { device: r.device } : {}) })
    } else {
      server.addExecutable({
        command: cmd.prefix ? join(cmd.prefix, 'bin', cmd.driver) : cmd.driver,
        env: fifoEnv(cmd),
        name: cmd.driver,
      })
    }
    return true
  }
  const name = isRemote
    ? remoteName(parseDriverArg(cmd.driver) as Extract<DriverArg, { kind: 'remote' }>)
    : cmd.driver
  return server.removeDriver(name, cmd.name ? { device: cmd.name } : {})
}

/** A FIFO being read; `close()` stops reading. */
export interface FifoWatcher {
  close(): void
}

/**
 * Reads lines from an existing FIFO (indiserver does not create it either; run `mkfifo` first).
 * Opened read-write and non-blocking, so it never sees EOF between writers and never blocks a
 * thread. Throws ERR_INDI_USAGE when the path is not a FIFO.
 */
export function watchFifo(path: string, onLine: (line: string) => void): FifoWatcher {
  let isFifo = false
  try {
    isFifo = statSync(path).isFIFO()
  } catch (err) {
    throw new IndiError('ERR_INDI_USAGE', `cannot open FIFO ${path}: ${(err as Error).message}`, {
      cause: err,
    })
  }
  if (!isFifo) throw new IndiError('ERR_INDI_USAGE', `${path} is not a FIFO (create it with mkfifo)`)
  const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK)
  const socket = new Socket({ fd, readable: true, writable: false })
  socket.setEncoding('utf8')
  let buffered = ''
  socket.on('data', (text: string) => {
    buffered += text
    let nl = buffered.indexOf('\n')
    while (nl >= 0) {
      const line = buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
      if (line.trim() !== '') onLine(line)
      nl = buffered.indexOf('\n')
    }
    // A runaway writer without newlines must not grow this without bound.
    if (buffered.length > 65536) buffered = ''
  })
  socket.on('error', () => {})
  return {
    close: () => socket.destroy(),
  }
}
