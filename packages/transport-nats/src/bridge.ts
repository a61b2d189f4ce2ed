import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { hostname } from 'node:os'
import type { Connection } from '@indi-ts/transport'
import { type ConnectionOptions, connect, Events, type NatsConnection } from 'nats'
import type { BridgeContext, NatsLogLevel } from './context.js'
import { Exporter, type ExportStats } from './export.js'
import { Importer, type ImportStats } from './import.js'
import { globMatcher, Subjects } from './subjects.js'

/** Options of {@link NatsBridge}. Durations in milliseconds. */
export interface NatsBridgeOptions {
  /** NATS server URL(s), e.g. `nats://127.0.0.1:4222` (a cluster: several). Required. */
  servers: string | string[]
  /** This server's site name: the second subject token. Unique per indi-server. Default `os.hostname()`. */
  site?: string
  /** Globs on device names to export (`*`, `?`, `[...]`). Default none. */
  export?: readonly string[]
  /** Globs on device names to import from other sites. Default none. */
  import?: readonly string[]
  /** First subject token. Default `indi`. */
  prefix?: string
  /** Presence period; an importer deletes a site's devices after 3 periods without one. Default 2000. */
  heartbeatMs?: number
  /** How long an importer waits for a site's definitions before retrying at its next hello. Default 5000. */
  requestTimeoutMs?: number
  /** Reconnect backoff: first delay, doubled after each failure up to `maxDelayMs`. Defaults 250 and 5000. */
  minDelayMs?: number
  maxDelayMs?: number
  /** High-water mark of the import link into the local server, in bytes. Default 1 MiB. */
  importHighWaterMark?: number
  /**
   * Bytes the import side holds while the local server pushes back, after conflation (newest value
   * per property kept); beyond it the oldest are dropped and counted. Default 64 MiB.
   */
  maxBacklogBytes?: number
  /** Where log lines go, with the server's `-v` levels. Default: level 0 to stderr. */
  logger?: (level: NatsLogLevel, text: string) => void
  /** Extra nats.js connection options (TLS, credentials, name …); ours win for reconnection. */
  nats?: Partial<ConnectionOptions>
}

/** Counters of a {@link NatsBridge}, for monitoring and tests. */
export interface NatsBridgeStats {
  /** The NATS connection is up now. */
  connected: boolean
  /** Times the NATS connection was lost, and regained. */
  disconnects: number
  reconnects: number
  export: ExportStats | undefined
  import: ImportStats | undefined
}

/** Typed events of a {@link NatsBridge}. */
export interface NatsBridgeEvents {
  /** Connected (first time or after a loss) to the NATS server at `server`. */
  connected: [server: string]
  /** The NATS connection is down; imported devices were deleted for local clients. */
  disconnected: []
}

/** The two methods of `IndiServer` a bridge plugs into (no dependency on @indi-ts/indi-server). */
export interface IndiServerLike {
  addClient(connection: Connection): unknown
  addDriverConnection(connection: Connection, options?: { name?: string }): unknown
}

/**
 * Exports an indi-server's devices to NATS and imports other sites' devices from it. Plug it into
 * a server with {@link NatsBridge.attach} (or hand {@link exportConnection} to `addClient()` and
 * {@link importConnection} to `addDriverConnection()`), then {@link NatsBridge.start}. NATS being
 * down never stops the local server: the bridge reconnects with backoff, imported devices are
 * deleted meanwhile and defined again on return.
 */
export class NatsBridge extends EventEmitter<NatsBridgeEvents> {
  /** This server's site name. */
  readonly site: string
  /** For the local server: a client connection (`server.addClient`); undefined without export patterns. */
  readonly exportConnection: Connection | undefined
  /** For the local server: a driver connection (`server.addDriverConnection`); undefined without import patterns. */
  readonly importConnection: Connection | undefined
  private readonly exporter: Exporter | undefined
  private readonly importer: Importer | undefined
  private readonly options: NatsBridgeOptions
  private readonly ctx: BridgeContext
  private nc: NatsConnection | undefined
  private up = false
  private started = false
  private closing = false
  private readonly abort = new AbortController()
  private runDone: Promise<void> | undefined
  private firstConnect: Promise<void>
  private resolveFirst!: () => void
  private rejectFirst!: (err: Error) => void
  private disconnects = 0
  private reconnects = 0
  private attempt = 0

  constructor(options: NatsBridgeOptions) {
    super()
    this.options = options
    this.site = options.site ?? hostname()
    if (this.site === '') throw new RangeError('site must not be empty')
    const log =
      options.logger ??
      ((level: NatsLogLevel, text: string) => {
        if (level === 0) process.stderr.write(`${new Date().toISOString().slice(0, 19)}: ${text}\n`)
      })
    this.ctx = {
      site: this.site,
      instance: randomBytes(8).toString('hex'),
      subjects: new Subjects(options.prefix ?? 'indi'),
      heartbeatMs: options.heartbeatMs ?? 2000,
      connection: () => (this.up ? this.nc : undefined),
      maxPayload: () => this.nc?.info?.max_payload ?? 1024 * 1024,
      imported: new Set(),
      local: new Set(),
      log,
    }
    if (options.export && options.export.length > 0) {
      this.exporter = new Exporter(this.ctx, globMatcher(options.export))
      this.exportConnection = this.exporter.serverEnd
    }
    if (options.import && options.import.length > 0) {
      this.importer = new Importer(this.ctx, globMatcher(options.import), {
        highWaterMark: options.importHighWaterMark ?? 1024 * 1024,
        maxBacklogBytes: options.maxBacklogBytes ?? 64 * 1024 * 1024,
        requestTimeoutMs: options.requestTimeoutMs ?? 5000,
      })
      this.importConnection = this.importer.serverEnd
    }
    this.firstConnect = new Promise((resolve, reject) => {
      this.resolveFirst = resolve
      this.rejectFirst = reject
    })
    // Nobody has to await it (the CLI does not); a close before connecting must not be unhandled.
    this.firstConnect.catch(() => undefined)
  }

  /** Whether the NATS connection is up. */
  get connected(): boolean {
    return this.up
  }

  /**
   * Adds the export side as a client and the import side as a driver link (`name` "nats") of
   * `server`. Call before {@link start}.
   */
  attach(server: IndiServerLike): this {
    if (this.exportConnection) server.addClient(this.exportConnection)
    if (this.importConnection) server.addDriverConnection(this.importConnection, { name: 'nats' })
    return this
  }

  /**
   * Starts both sides and connects to NATS in the background, retrying with backoff forever.
   * Resolves once connected the first time; rejects with ERR_INDI_CLOSED-like Error if closed
   * first, or with `signal.reason`. Not awaiting it is fine: the bridge works as soon as NATS is up.
   */
  start(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (!this.started) {
      this.started = true
      this.exporter?.start()
      this.importer?.start()
      this.runDone = this.run()
    }
    const signal = options.signal
    if (!signal) return this.firstConnect
    signal.throwIfAborted()
    return new Promise((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason)
      signal.addEventListener('abort', onAbort, { once: true })
      this.firstConnect.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
    })
  }

  /** Counters of both sides. */
  stats(): NatsBridgeStats {
    return {
      connected: this.up,
      disconnects: this.disconnects,
      reconnects: this.reconnects,
      export: this.exporter ? { ...this.exporter.stats, devices: this.exporter.devices() } : undefined,
      import: this.importer?.stats,
    }
  }

  /**
   * Says goodbye (importers delete our devices at once), closes the NATS connection and both
   * connections into the local server (which then deletes the imported devices for its clients).
   */
  async close(): Promise<void> {
    if (this.closing) return this.runDone
    this.closing = true
    this.exporter?.close()
    this.importer?.close()
    this.rejectFirst(new Error('NatsBridge closed before it connected'))
    const nc = this.nc
    if (nc && !nc.isClosed()) {
      await Promise.race([nc.flush(), new Promise((r) => setTimeout(r, 1000).unref?.())]).catch(
        () => undefined,
      )
      await nc.close().catch(() => undefined)
    }
    this.abort.abort()
    await this.runDone
  }

  private backoff(): number {
    const min = this.options.minDelayMs ?? 250
    const max = this.options.maxDelayMs ?? 5000
    const d = Math.min(max, min * 2 ** Math.min(this.attempt++, 20))
    // ±20 % jitter, so that many servers restarted together do not reconnect in lockstep.
    return d * (0.8 + 0.4 * Math.random())
  }

  private async run(): Promise<void> {
    const servers = this.options.servers
    while (!this.closing) {
      let nc: NatsConnection
      try {
        nc = await connect({
          name: `indi-ts ${this.site}`,
          ...this.options.nats,
          servers,
          // Our own messages are never for us (an importer ignores its own site anyway).
          noEcho: true,
          reconnect: true,
          maxReconnectAttempts: -1,
          reconnectDelayHandler: () => this.backoff(),
          waitOnFirstConnect: false,
        })
      } catch (err) {
        if (this.closing) break
        const delay = this.backoff()
        this.ctx.log(
          this.attempt <= 1 ? 0 : 1,
          `NATS: ${(err as Error).message}; retrying in ${Math.round(delay)} ms`,
        )
        await sleep(delay, this.abort.signal)
        continue
      }
      if (this.closing) {
        await nc.close().catch(() => undefined)
        break
      }
      this.attempt = 0
      this.nc = nc
      this.up = true
      this.ctx.log(1, `NATS: connected to ${nc.getServer()} as site "${this.site}"`)
      this.exporter?.onConnected(nc)
      this.importer?.onConnected(nc)
      this.emit('connected', nc.getServer())
      this.resolveFirst()
      void this.watchStatus(nc)
      const err = await nc.closed()
      this.up = false
      this.importer?.onClosed()
      if (!this.closing) {
        this.disconnects++
        this.ctx.log(0, `NATS: connection closed${err ? `: ${err.message}` : ''}; reconnecting`)
        this.emit('disconnected')
        await sleep(this.backoff(), this.abort.signal)
      }
    }
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === Events.Disconnect) {
        if (this.closing) continue
        this.up = false
        this.disconnects++
        this.ctx.log(0, `NATS: disconnected from ${String(s.data)}; reconnecting with backoff`)
        this.importer?.onDisconnected()
        this.emit('disconnected')
      } else if (s.type === Events.Reconnect) {
        this.up = true
        this.attempt = 0
        this.reconnects++
        this.ctx.log(0, `NATS: reconnected to ${String(s.data)}`)
        this.exporter?.onReconnected()
        this.importer?.onReconnected()
        this.emit('connected', String(s.data))
      } else if (s.type === Events.Error) {
        this.ctx.log(0, `NATS: ${String(s.data)}`)
      }
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const t = setTimeout(done, ms)
    function done(): void {
      clearTimeout(t)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}
