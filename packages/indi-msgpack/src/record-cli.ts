#!/usr/bin/env node
/**
 * indi-record FILE --server HOST:PORT [-p port] [--host 127.0.0.1]
 *
 * A recording proxy: INDI clients connect to it instead of the server; their sessions are
 * forwarded unchanged and recorded to FILE, for `indi-replay FILE --peer 'server#1:'`.
 */
import { parseArgs } from 'node:util'
import { IndiError } from '@indi-ts/indi-xml'
import { recordProxy } from './proxy.js'
import { SessionRecorder } from './recording.js'

const USAGE = 'usage: indi-record FILE --server HOST:PORT [-p port] [--host 127.0.0.1]'

function usage(message: string): number {
  process.stderr.write(`indi-record: ${message}\n${USAGE}\n`)
  return 2
}

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(argv)
  } catch (error) {
    return usage((error as Error).message)
  }
  const { values, positionals } = parsed
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  const file = positionals[0]
  if (positionals.length !== 1 || file === undefined) return usage('exactly one FILE is required')
  const m = /^(.+):(\d+)$/.exec(values.server ?? '')
  if (!m) return usage('--server HOST:PORT is required')
  const port = Number(values.port ?? 7624)
  if (!Number.isInteger(port) || port < 0 || port > 65535) return usage(`bad port ${values.port}`)
  const log = (line: string): void => {
    process.stderr.write(`${new Date().toISOString()} ${line}\n`)
  }
  const recorder = await SessionRecorder.create(file, {
    meta: { tool: 'indi-record', server: values.server ?? '' },
  })
  const proxy = await recordProxy({
    listen: { host: values.host ?? '127.0.0.1', port },
    upstream: { host: m[1] as string, port: Number(m[2]) },
    recorder,
    onSession: (event, n, client, error) =>
      log(`session ${n} (${client}): ${event}${error ? `: ${String(error)}` : ''}`),
  })
  log(
    `indi-record: recording ${values.server} to ${file}, listening on ${proxy.address.host}:${proxy.address.port}`,
  )
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  await proxy.close()
  await recorder.close()
  log(`indi-record: ${recorder.recorded} records written, ${recorder.dropped} dropped`)
  return 0
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      server: { type: 'string' },
      port: { type: 'string', short: 'p' },
      host: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
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
    process.stderr.write(`indi-record: ${error instanceof Error ? error.message : String(error)}${code}\n`)
    process.exit(1)
  },
)
