#!/usr/bin/env node
/**
 * `npm start`: one INDI server on 127.0.0.1:7624 with every example driver running in-process
 * (thermostat, relay board, camera, fan controller snooping the thermostat, LED) plus, when indilib is
 * installed, its C++ `indi_simulator_telescope` as an executable driver. Point `indi_getprop -p
 * 7624`, KStars/Ekos or any INDI client at it.
 *
 *   node apps/examples/dist/main.js [-p port] [-v]      (env INDI_PORT also sets the port)
 *
 * Ctrl-C (SIGINT) or SIGTERM stops it cleanly: drivers are closed, the simulator process is
 * stopped, clients are flushed, and the process exits 0. Logs go to stderr; stdout stays unused.
 */
import { startExamples } from './examples-server.js'

/** `-p port` / `INDI_PORT` / 7624, and `-v` repeated for verbosity. */
function parseCommandLine(argv: readonly string[]): { port: number; verbosity: 0 | 1 | 2 | 3 } {
  let port = Number(process.env.INDI_PORT ?? 7624)
  let verbosity = 1
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '-p') port = Number(argv[++i])
    else if (/^-v+$/.test(a)) verbosity = a.length - 1
    else {
      process.stderr.write(`usage: main.js [-p port] [-v|-vv|-vvv]   (unknown argument ${a})\n`)
      process.exit(2)
    }
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`bad port ${port}\n`)
    process.exit(2)
  }
  return { port, verbosity: Math.min(3, verbosity) as 0 | 1 | 2 | 3 }
}

const { port, verbosity } = parseCommandLine(process.argv.slice(2))
const server = await startExamples({ port, verbosity })
const address = server.address!
process.stderr.write(`INDI server listening on ${address.host}:${address.port} (Ctrl-C stops it)\n`)

let stopping = false
const stop = (signal: string): void => {
  if (stopping) {
    // A second Ctrl-C: do not wait for the graceful stop any longer.
    process.stderr.write(`${signal} again: exiting now\n`)
    process.exit(1)
  }
  stopping = true
  process.stderr.write(`${signal}: stopping drivers and clients\n`)
  server.close().then(
    () => {
      process.stderr.write('stopped\n')
      process.exit(0)
    },
    (error: unknown) => {
      process.stderr.write(`error while stopping: ${String(error)}\n`)
      process.exit(1)
    },
  )
}
process.on('SIGINT', () => stop('SIGINT'))
process.on('SIGTERM', () => stop('SIGTERM'))
