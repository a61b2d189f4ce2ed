#!/usr/bin/env node
/**
 * indi-replay FILE [-p port] [--host 127.0.0.1] [--speed N | --fast] [--loop] [--close-at-end]
 *   [--start-on-connect] [--peer PREFIX]
 *
 * Serves a recording to INDI clients (KStars, indi_getprop, …) as a stand-in for the real
 * server: each client gets the recorded device traffic from the start. Clients' messages are
 * logged to stderr.
 */
import { parseArgs } from 'node:util'
import { IndiError, type IndiMessage } from '@indi-ts/indi-xml'
import { serveReplay } from './replay.js'

const USAGE =
  'usage: indi-replay FILE [-p port] [--host 127.0.0.1] [--speed N | --fast] [--loop] [--close-at-end] [--start-on-connect] [--peer PREFIX]'

function describe(m: IndiMessage): string {
  const attrs = Object.entries(m)
    .filter(([k, v]) => k !== 'tag' && k !== 'members' && typeof v === 'string')
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
  const members =
    'members' in m
      ? ` [${m.members.map((e) => ('value' in e ? `${e.name}=${e.value}` : e.name)).join(' ')}]`
      : ''
  return `${m.tag} ${attrs.join(' ')}${members}`
}

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(argv)
  } catch (error) {
    process.stderr.write(`indi-replay: ${(error as Error).message}\n${USAGE}\n`)
    return 2
  }
  const { values, positionals } = parsed
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  const file = positionals[0]
  const port = Number(values.port ?? 7624)
  const speed = Number(values.speed ?? 1)
  if (positionals.length !== 1 || file === undefined) return usage('exactly one recording FILE is required')
  if (!Number.isInteger(port) || port < 0 || port > 65535) return usage(`bad port ${values.port}`)
  if (!(speed > 0)) return usage(`bad speed ${values.speed}`)
  if (values.fast && values.speed !== undefined) return usage('--speed and --fast exclude each other')

  const log = (line: string): void => {
    process.stderr.write(`${new Date().toISOString()} ${line}\n`)
  }
  const server = await serveReplay(file, {
    host: values.host ?? '127.0.0.1',
    port,
    speed,
    fast: values.fast ?? false,
    loop: values.loop ?? false,
    closeAtEnd: values['close-at-end'] ?? false,
    startOn: values['start-on-connect'] ? 'connect' : 'getProperties',
    ...(values.peer === undefined ? {} : { peer: values.peer }),
    onClient: (event, peer, error) =>
      log(
        `${peer}: ${event === 'connect' ? 'connected' : error ? `replay failed: ${String(error)}` : 'replay done'}`,
      ),
    onClientMessage: (peer, m) => log(`${peer}: ${describe(m)}`),
  })
  log(`indi-replay: serving ${file} on ${server.address.host}:${server.address.port}`)
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  await server.close()
  return 0
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: 'string', short: 'p' },
      host: { type: 'string' },
      speed: { type: 'string' },
      fast: { type: 'boolean' },
      loop: { type: 'boolean' },
      'close-at-end': { type: 'boolean' },
      'start-on-connect': { type: 'boolean' },
      peer: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}

function usage(message: string): number {
  process.stderr.write(`indi-replay: ${message}\n${USAGE}\n`)
  return 2
}

// process.exit rather than exitCode: after sockets were destroyed, Node 20 was seen spinning
// forever in its exit-time handle cleanup (gdb: Environment::CleanupHandles → uv_run), a
// finished CLI must not hang.
main(process.argv.slice(2)).then(
  (code) => {
    process.exit(code)
  },
  (error: unknown) => {
    const code = IndiError.is(error) ? ` [${error.code}]` : ''
    process.stderr.write(`indi-replay: ${error instanceof Error ? error.message : String(error)}${code}\n`)
    process.exit(1)
  },
)
