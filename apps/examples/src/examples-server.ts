/**
 * The server behind `npm start`: every example driver in-process plus indilib's telescope
 * simulator as an executable driver when it is installed. main.ts adds the command line and
 * signal handling; import this module to embed the same setup elsewhere (tests do).
 */
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import { IndiServer } from '@indi-ts/indi-server'
import { createCamera } from './camera.js'
import { makeLedDriver } from './led.js'
import { createRelays } from './relays.js'
import { FanController } from './snooper.js'
import { createThermostat } from './thermostat.js'

/** Options of `startExamples()`. */
export interface ExamplesOptions {
  /** TCP port. Default 7624; 0 picks a free one. */
  port?: number
  /** Server log verbosity 0–3, as indiserver's `-v`. Default 1. */
  verbosity?: 0 | 1 | 2 | 3
  /** Also run indilib's telescope simulator when it is on PATH. Default true. */
  telescope?: boolean
}

/** Where `command` is on PATH, or undefined (so a missing indilib is a log line, not a crash loop). */
export function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    const candidate = join(dir, command)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {}
  }
  return undefined
}

/** Starts the server with every example; resolves with it once it listens. */
export async function startExamples(options: ExamplesOptions = {}): Promise<IndiServer> {
  const server = new IndiServer({ port: options.port ?? 7624, verbosity: options.verbosity ?? 1 })
  server.addDriver(createThermostat(), { name: 'thermostat' })
  server.addDriver(createRelays(), { name: 'relays' })
  server.addDriver(createCamera(), { name: 'camera' })
  server.addDriver(new FanController({ watch: 'Thermostat' }), { name: 'fan-controller' })
  server.addDriver(makeLedDriver(), { name: 'led' })
  if (options.telescope ?? true) {
    if (findOnPath('indi_simulator_telescope') !== undefined) {
      server.addExecutable({ command: 'indi_simulator_telescope' })
    } else {
      process.stderr.write('indi_simulator_telescope not found on PATH: running without it\n')
    }
  }
  await server.listen()
  return server
}
