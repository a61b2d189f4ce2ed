#!/usr/bin/env node
import { mkdirSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { connectTcp } from '@indi-ts/transport-tcp'
import { saveBlobs } from './blobfolder.js'

const USAGE = `Usage: indi-getblobs [options] [device ...]
Saves every BLOB an INDI server sends to files named member_timestamp[_n].ext, setting the
devices (default: every device with a BLOB property) to BLOBs Also. Prints each path on stdout.
Options:
  -h, --host <host>   server address (default 127.0.0.1)
  -p, --port <port>   server port (default 7624)
  -d, --dir <dir>     folder for the files, created if missing (default .)
  -n, --count <n>     exit after n files (default: run until the server or SIGINT stops it)
      --help          this text
`

/**
 * `indi-getblobs`: the client BLOB folder as a command. Resolves with the exit status: 0 when done
 * (count reached, server closed, or SIGINT/SIGTERM), 1 when it cannot connect, 2 for usage errors.
 */
export async function main(argv: readonly string[]): Promise<number> {
  let values: { host?: string; port?: string; dir?: string; count?: string; help?: boolean }
  let devices: string[]
  try {
    const parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        host: { type: 'string', short: 'h' },
        port: { type: 'string', short: 'p' },
        dir: { type: 'string', short: 'd' },
        count: { type: 'string', short: 'n' },
        help: { type: 'boolean' },
      },
    })
    values = parsed.values
    devices = parsed.positionals
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}`)
    return 2
  }
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  const port = Number(values.port ?? 7624)
  const count = values.count === undefined ? undefined : Number(values.count)
  if (!Number.isInteger(port) || port < 1 || port > 65535 || (count !== undefined && !(count >= 1))) {
    process.stderr.write(`bad port or count\n${USAGE}`)
    return 2
  }
  const dir = values.dir ?? '.'
  mkdirSync(dir, { recursive: true })
  const host = values.host ?? '127.0.0.1'
  let connection: Awaited<ReturnType<typeof connectTcp>>
  try {
    connection = await connectTcp({ host, port })
  } catch (err) {
    process.stderr.write(`indi-getblobs: ${(err as Error).message}\n`)
    return 1
  }
  const stop = new AbortController()
  const onSignal = (): void => stop.abort()
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    await saveBlobs({
      connection,
      dir,
      signal: stop.signal,
      ...(devices.length > 0 ? { devices } : {}),
      ...(count !== undefined ? { maxFiles: count } : {}),
      onSaved: (s) => process.stdout.write(`${s.path}\n`),
    })
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    connection.destroy()
  }
  return 0
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    process.stderr.write(`indi-getblobs: ${(err as Error)?.stack ?? err}\n`)
    process.exitCode = 1
  },
)
