#!/usr/bin/env node
import type { SessionRecorder } from '@indi-ts/indi-msgpack'
import { loadIndiMsgpack } from '@indi-ts/indi-msgpack/lazy'
import { IndiError } from '@indi-ts/indi-xml'
import { parseArgs, USAGE } from './args.js'
import { applyFifoCommand, type FifoWatcher, parseFifoLine, watchFifo } from './fifo.js'
import { youngGenerationGc } from './gc.js'
import { logTimestamp } from './log.js'
import { IndiServer } from './server.js'

/**
 * `indi-server`: indiserver's command line (protocol reference §2.1) on IndiServer. Resolves with
 * the exit status: 2 for usage errors or nothing to serve, 1 when it could not start or every
 * driver is gone without a FIFO (as indiserver), 0 after SIGINT/SIGTERM.
 */
export async function main(argv: readonly string[]): Promise<number> {
  const say = (text: string): void => {
    process.stderr.write(`${logTimestamp()}: ${text}\n`)
  }
  let opts: ReturnType<typeof parseArgs>
  try {
    opts = parseArgs(argv)
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}`)
    return 2
  }
  if (opts.help) {
    process.stdout.write(USAGE)
    return 0
  }
  if (opts.drivers.length === 0 && opts.fifo === undefined && opts.natsImport.length === 0) {
    process.stderr.write(USAGE)
    return 2
  }
  let recorder: SessionRecorder | undefined
  if (opts.record !== undefined) {
    try {
      // Loaded only for --record (see indi-msgpack/lazy).
      const { SessionRecorder } = await loadIndiMsgpack()
      recorder = await SessionRecorder.create(opts.record, {
        meta: { command: `indi-server ${argv.join(' ')}` },
      })
    } catch (err) {
      say(`--record ${opts.record}: ${(err as Error).message}`)
      return 1
    }
  }
  const youngGc = youngGenerationGc()
  const server = new IndiServer({
    ...(recorder !== undefined ? { recorder } : {}),
    ...(opts.acceptBinary ? { acceptBinary: true } : {}),
    host: opts.host,
    port: opts.port,
    maxQueueMB: opts.maxQueueMB,
    maxStreamMB: opts.maxStreamMB,
    restarts: opts.restarts,
    verbosity: opts.verbosity,
    ...(opts.maxConnections !== undefined ? { maxClients: opts.maxConnections } : {}),
    ...(opts.allow.length > 0 ? { allow: opts.allow } : {}),
    ...(opts.logDir !== undefined ? { logDir: opts.logDir } : {}),
    ...(youngGc !== undefined ? { reclaimMemory: youngGc } : {}),
  })
  if (opts.verbosity > 0) say(`startup: indi-server ${argv.join(' ')}`)

  let settle!: (code: number) => void
  const exit = new Promise<number>((resolve) => {
    settle = resolve
  })
  let fifo: FifoWatcher | undefined
  let nats: NatsBridgeLike | undefined
  let stopping = false
  const stop = async (code: number): Promise<void> => {
    if (stopping) return
    stopping = true
    fifo?.close()
    await nats?.close().catch(() => undefined)
    await server.close({ signal: AbortSignal.timeout(10_000) }).catch(() => undefined)
    await recorder?.close().catch((err: Error) => say(`--record: ${err.message}`))
    settle(code)
  }
  server.on('idle', () => {
    // indiserver exits when its last driver is gone and there is no FIFO (§2.10).
    if (opts.fifo === undefined && !stopping) {
      say('good bye')
      void stop(1)
    }
  })

  try {
    await server.listen()
  } catch (err) {
    say(`cannot listen on ${opts.host}:${opts.port}: ${(err as Error).message}`)
    await recorder?.close().catch(() => undefined)
    return 1
  }
  for (const d of opts.drivers) {
    const binary = d.binary ? { binary: true } : {}
    if (d.kind === 'exec') server.addExecutable({ command: d.command, ...binary })
    else
      server.addRemote({ host: d.host, port: d.port, ...(d.device ? { device: d.device } : {}), ...binary })
  }
  if (opts.nats.length > 0) {
    try {
      nats = await startNats(server, opts)
    } catch (err) {
      say(`--nats: ${(err as Error).message}`)
      await server.close()
      await recorder?.close().catch(() => undefined)
      return 1
    }
  }
  if (opts.fifo !== undefined) {
    try {
      fifo = watchFifo(opts.fifo, (line) => {
        if (opts.verbosity > 0) say(`FIFO: ${line}`)
        const cmd = parseFifoLine(line)
        if (!cmd) return say(`FIFO: cannot understand "${line}"`)
        applyFifoCommand(server, cmd).then(
          (found) => {
            if (!found) say(`FIFO: no running driver ${cmd.driver}`)
          },
          (err: Error) => say(`FIFO: ${err.message}`),
        )
      })
    } catch (err) {
      say(IndiError.is(err) ? err.message : String(err))
      await server.close()
      await recorder?.close().catch(() => undefined)
      return 1
    }
  }
  const onSignal = (): void => {
    if (stopping) process.exit(1)
    void stop(0)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const code = await exit
  process.off('SIGINT', onSignal)
  process.off('SIGTERM', onSignal)
  return code
}

/** What the CLI uses of @indi-ts/transport-nats (typed here: it is an optional peer, not a dependency). */
interface NatsBridgeLike {
  attach(server: IndiServer): unknown
  start(): Promise<void>
  close(): Promise<void>
}

/**
 * Loads @indi-ts/transport-nats only when --nats is given (a static import would be a layering
 * cycle) and plugs it in: exported devices through a client connection, imported ones through a
 * driver connection. Connecting goes on in the background: local drivers are served meanwhile.
 */
async function startNats(server: IndiServer, opts: ReturnType<typeof parseArgs>): Promise<NatsBridgeLike> {
  const specifier = '@indi-ts/transport-nats'
  let mod: { NatsBridge: new (options: Record<string, unknown>) => NatsBridgeLike }
  try {
    mod = await import(specifier)
  } catch (err) {
    throw new Error(`cannot load ${specifier} (npm i ${specifier}): ${(err as Error).message}`)
  }
  const bridge = new mod.NatsBridge({
    servers: opts.nats,
    export: opts.natsExport,
    import: opts.natsImport,
    ...(opts.natsSite !== undefined ? { site: opts.natsSite } : {}),
    logger: (level: number, text: string) => {
      if (level <= opts.verbosity) process.stderr.write(`${logTimestamp()}: ${text}\n`)
    },
  })
  bridge.attach(server)
  bridge.start().catch(() => undefined)
  return bridge
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    process.stderr.write(`${logTimestamp()}: ${(err as Error)?.stack ?? err}\n`)
    process.exitCode = 1
  },
)
