// The servers under test. Each one runs the same flood driver executable on the same loopback port range.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { startProcess, stopProcess, waitForPort } from './proc.mjs'

/** Our port range is 17900–17999; each server start takes the next port so TIME_WAIT never collides. */
let nextPort = 17900
function takePort() {
  const port = nextPort
  nextPort = nextPort >= 17989 ? 17900 : nextPort + 1
  return port
}

let socketSerial = 0

/**
 * @typedef {{ id: string, title: string, available: () => string | undefined,
 *   start: (opts: { driver: string, mb?: number, logDir: string, root: string }) => Promise<Running> }} ServerKind
 * @typedef {{ port: number, pid: number, handle: object, stop: () => Promise<void> }} Running
 */

async function launch(command, args, port, logFile) {
  const handle = startProcess(command, args, { logFile })
  try {
    await waitForPort(port, 10_000, handle.exited)
  } catch (err) {
    await stopProcess(handle)
    throw err
  }
  return { port, pid: handle.pid, handle, stop: () => stopProcess(handle) }
}

/** indilib's indiserver, with its own abstract Unix socket (-u) so it never clashes with another one. */
export const indiserver = {
  id: 'indiserver',
  title: 'indiserver',
  available: () => (existsSync('/usr/bin/indiserver') ? undefined : 'not installed'),
  async start({ driver, mb = 128, logDir }) {
    const port = takePort()
    const sock = `/tmp/indibench-${process.pid}-${socketSerial++}`
    return launch(
      'indiserver',
      ['-p', String(port), '-u', sock, '-m', String(mb), '-r', '0', driver],
      port,
      join(logDir, 'indiserver.log'),
    )
  },
}

/** Our server's CLI, once packages/indi-server has been built (same options as indiserver). */
export const ours = {
  id: 'ours',
  title: 'indi-ts',
  available: () => undefined,
  cli: (root) => join(root, 'packages/indi-server/dist/cli.js'),
  async start({ driver, mb = 128, logDir, root, nodeArgs = [] }) {
    const cli = join(root, 'packages/indi-server/dist/cli.js')
    if (!existsSync(cli)) throw new Error('not built')
    const port = takePort()
    return launch(
      process.execPath,
      [
        ...nodeArgs,
        ...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
        cli,
        '-p',
        String(port),
        '-m',
        String(mb),
        driver,
      ],
      port,
      join(logDir, 'ours.log'),
    )
  },
}

/**
 * A byte relay with no INDI logic beyond pings: the ceiling this harness can measure on this machine.
 * Only run with --relay; it has no bounds and no BLOB policy, so it is not a server to compare with.
 */
export const relay = {
  id: 'relay',
  title: 'raw relay',
  available: () => undefined,
  async start({ driver, logDir, root }) {
    const port = takePort()
    return launch(
      process.execPath,
      [join(root, 'bench/lib/relay.mjs'), '-p', String(port), driver],
      port,
      join(logDir, 'relay.log'),
    )
  },
}
