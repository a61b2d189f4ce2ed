import { closeSync, constants, fstatSync, openSync } from 'node:fs'
import { Socket } from 'node:net'
import type { Readable, Writable } from 'node:stream'
import type { Connection } from '@indi-ts/transport'
import { StreamConnection } from '@indi-ts/transport/node'

/** Options of {@link stdioConnection}. */
export interface StdioConnectionOptions {
  /** Label for logs and errors. Default "stdio". */
  label?: string
  /** Bytes, default 65 536: see StreamConnection's highWaterMark. */
  highWaterMark?: number
  /** Input stream. Default: this process's stdin. */
  input?: Readable
  /** Output stream. Default: this process's stdout, opened for non-blocking writes (see below). */
  output?: Writable
}

/**
 * This process's stdin/stdout as a Connection: what a driver started by indiserver (or by
 * spawnDriver) talks over.
 *
 * On Linux Node writes `process.stdout` synchronously when it is a pipe or socket, which would
 * block the whole driver while the server is slow to read. So when fd 1 is a pipe or socket we
 * open our own non-blocking handle on it: `send()` then returns false and the driver waits on
 * `drained()` instead. Do not write to process.stdout (console.log) in a driver: it corrupts
 * the INDI stream and switches the descriptor back to blocking mode. Log to stderr.
 */
export function stdioConnection(options: StdioConnectionOptions = {}): Connection {
  const input = options.input ?? process.stdin
  const output = options.output ?? openStdout()
  return new StreamConnection({
    label: options.label ?? 'stdio',
    readable: input,
    writable: output,
    highWaterMark: options.highWaterMark,
    release: () => {
      input.destroy()
      if (output !== process.stdout) output.destroy()
    },
  })
}

function openStdout(): Writable {
  try {
    const st = fstatSync(1)
    if (st.isFIFO()) return new Socket({ fd: takeOverPipe(), readable: false, writable: true })
    if (st.isSocket()) return new Socket({ fd: 1, readable: false, writable: true })
  } catch {
    // fd 1 closed or not stat-able: fall back to Node's stream, which reports errors itself.
  }
  return process.stdout
}

/**
 * libuv never closes fds 0–2, and shutdown() does nothing on a pipe, so end() on fd 1 could
 * never give the reader its end of input. On Linux we reopen the pipe as a new descriptor
 * (through /proc/self/fd/1), and point fd 1 at stderr (or /dev/null): a stray console.log then
 * lands in the server's log instead of corrupting the INDI stream. Elsewhere fd 1 is used as is.
 */
function takeOverPipe(): number {
  if (process.platform !== 'linux') return 1
  let fd: number
  try {
    fd = openSync('/proc/self/fd/1', constants.O_WRONLY | constants.O_NONBLOCK)
  } catch {
    return 1
  }
  closeSync(1)
  let again: number
  try {
    again = openSync('/proc/self/fd/2', constants.O_WRONLY | constants.O_APPEND)
  } catch {
    again = openSync('/dev/null', constants.O_WRONLY)
  }
  // The lowest free descriptor is 1 unless another thread raced us; then keep it closed.
  if (again !== 1) closeSync(again)
  return fd
}
