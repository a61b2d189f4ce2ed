import { loadedIndiMsgpack, loadIndiMsgpack } from '@indi-ts/indi-msgpack/lazy'
import { BoundedQueue } from '@indi-ts/indi-queue'
import type {
  BlobPolicy,
  DefVector,
  DelProperty,
  GetProperties,
  IndiMessage,
  Message,
  NewVector,
  ParserLimits,
  RawFrame,
  SetBlobVector,
  SetVector,
  SwitchState,
} from '@indi-ts/indi-xml'
import {
  buildBlobChunks,
  buildMessage,
  formatTimestamp,
  IndiError,
  IndiFramer,
  IndiParser,
  parseIndiNumber,
  parseTimestamp,
} from '@indi-ts/indi-xml'
import type { Connection } from '@indi-ts/transport'
import { stdioConnection } from '@indi-ts/transport-stdio'
import { listenTcp } from '@indi-ts/transport-tcp'
import type { Device } from './device.js'
import type {
  BlobData,
  DriverEvents,
  GetPropertiesEvent,
  NewBlobEvent,
  NewNumberEvent,
  NewSwitchEvent,
  NewTextEvent,
  NewVectorEvent,
  SnoopEvent,
  SnoopValue,
} from './events.js'
import type { RangePolicy, SendHost } from './host.js'
import { type Logger, stderrLogger } from './logger.js'
import { type OutMeta, Peer, type PeerKind } from './peer.js'
import { type SnoopFilter, type SnoopInfo, SnoopSubscription } from './snoop.js'
import { checkName, Emitter } from './util.js'
import type { AnyVector, BlobVector, NumberVector, SwitchVector, TextVector } from './vectors.js'
import { Writer } from './writer.js'

/** Options of `new Driver()`. */
export interface DriverOptions<C = unknown> {
  /** The devices this driver serves (ERR_INDI_DUPLICATE on a repeated name). */
  devices?: Device<unknown>[]
  /** Your own typed data, reachable as `driver.context` in hooks and handlers. */
  context?: C
  /** Log sink; default one line per record on stderr (never stdout). */
  logger?: Logger
  /**
   * Answer getProperties with def* of the matching enabled vectors (default true). With false,
   * a GetPropertiesEvent goes to `onGetProperties` / 'getProperties' listeners instead.
   */
  autoDefine?: boolean
  /** Incoming numbers outside [min, max]: 'accept' (default, as indipydriver), 'clamp', 'reject'. */
  numberRange?: RangePolicy
  /**
   * After each setBLOBVector, send `<pingRequest uid='SetBLOB/N'/>` and wait for the reply before
   * the next BLOB (libindi ≥ 1.9.7 flow control, protocol §0.2). Default: on for 'server' peers
   * (indiserver and @indi-ts/indi-server answer), off on direct client connections (listen()).
   */
  blobPing?: boolean
  /**
   * Wrap BLOB base64 every N characters; 0 (default) writes one line, as indiserver itself sends
   * BLOBs to clients. indi_getprop 1.9.9 counts line breaks as data (a 200 000-byte frame in
   * 72-column lines became a 202 776-byte file), so one line is what it saves correctly. 72 is
   * libindi's own driver layout and the only one written with `enclen`: indiserver 1.9.9 stops
   * reading a driver whose BLOB carries `enclen` with any other layout (see the README).
   */
  blobLineLength?: number
  /** How long to wait for a BLOB ping reply before going on anyway (ms). Default 5000, as libindi. */
  blobPingTimeoutMs?: number
  /** Bytes in the writer queue above which sends wait. Default 256 KiB: a larger queue kept more
   * short-lived strings alive past the young generation and doubled GC time in bench/emit.mjs. */
  highWaterMark?: number
  /** A connection that stays over its own high-water mark this long is dropped (ms). Default 60 000. */
  drainTimeoutMs?: number
  /** Client events waiting per vector before the reader pauses (backpressure). Default 64. */
  inboxLimit?: number
  /** Limits for the XML reader. */
  parserLimits?: ParserLimits
  /** Clock for automatic timestamps (tests). Default `() => new Date()`. */
  now?: () => Date
}

/** Options of `driver.run()`. */
export interface RunOptions {
  /** Default: this process's stdin/stdout (`stdioConnection()`), for use under indiserver. */
  connection?: Connection
  /** Aborting shuts the driver down (same as `close()`). */
  signal?: AbortSignal
  /** Who is on the other end; default 'server'. See PeerKind. */
  peer?: PeerKind
  /**
   * Speak @indi-ts/indi-msgpack's binary link instead of INDI XML (only to an indi-ts server that
   * expects it). BLOBs then travel as raw bytes, without base64. Default: on stdio, true when the
   * environment has `INDI_TS_BINARY=1` (what @indi-ts/indi-server sets for `binary: true`
   * executables); otherwise false.
   */
  binary?: boolean
}

/** Options of `driver.listen()`. */
export interface ListenOptions {
  /** Default '127.0.0.1'. */
  host?: string
  /** TCP port; 0 picks a free one. Default 7624. */
  port?: number
  /** Most simultaneous clients (default: unlimited). */
  maxConnections?: number
  /** Allowed client addresses (default: all). */
  allow?: string[]
  /** Aborting shuts the driver down. */
  signal?: AbortSignal
}

/** What `listen()` resolves with. */
export interface DriverListener {
  /** The bound address (useful with port 0). */
  readonly address: { host: string; port: number }
  /** Resolves when the driver has shut down. */
  readonly finished: Promise<void>
}

/** Counters, for tests and monitoring. */
export interface DriverStats {
  /** new* for an unknown or disabled device/vector (ignored, as libindi does). */
  ignored: number
  /** Client requests refused with a message. */
  rejected: number
  /** Elements that did not parse. */
  parseErrors: number
  /** Well-formed elements INDI does not define. */
  unknown: number
  /** Snoop events dropped because a subscription was not being read. */
  snoopDropped: number
  /** Defs for one of our own devices that arrived on input (ignored). */
  ownDefsIgnored: number
  /** Client timestamps that did not parse (the event's `timestamp` is undefined). */
  badTimestamps: number
}

type State = 'idle' | 'running' | 'stopping' | 'closed'

const NEW_KIND = {
  newTextVector: 'Text',
  newNumberVector: 'Number',
  newSwitchVector: 'Switch',
  newBLOBVector: 'BLOB',
} as const

const RESOLVED_TRUE = Promise.resolve(true)
const RESOLVED_FALSE = Promise.resolve(false)

/**
 * An INDI driver: devices and their vectors, client events, snooping and a hardware loop, run over
 * any Connection (stdio by default, so it works under indilib's indiserver), or listening on TCP.
 *
 * Subclass and override the hooks (`onNewVector`, `hardware`, `onSnoop`, `onGetProperties`), or
 * register listeners (`driver.on('newNumberVector', fn)`, `vector.onNew(fn)`), or iterate
 * `driver.commands()`. Client events for one vector are handled in order; a slow handler for one
 * vector never blocks the others.
 */
export class Driver<C = unknown> extends Emitter<DriverEvents> {
  /** Your typed driver data. */
  context: C
  readonly logger: Logger
  /** Counters (read-only view). */
  readonly stats: Readonly<DriverStats>
  readonly #stats: DriverStats = {
    ignored: 0,
    rejected: 0,
    parseErrors: 0,
    unknown: 0,
    snoopDropped: 0,
    ownDefsIgnored: 0,
    badTimestamps: 0,
  }
  readonly #devices = new Map<string, Device<unknown>>()
  readonly #opts: DriverOptions<C>
  readonly #now: () => Date
  #state: State = 'idle'
  #peers: Peer[] = []
  readonly #writer: Writer
  #abort = new AbortController()
  readonly #tasks = new Set<Promise<void>>()
  readonly #pendingSpawns: Array<(signal: AbortSignal) => Promise<void>> = []
  readonly #commands = new Set<BoundedQueue<NewVectorEvent>>()
  readonly #snoops = new Set<SnoopSubscription>()
  readonly #blobSnoops = new Map<string, { device: string; name: string | undefined; policy: BlobPolicy }>()
  #snoopTail: Promise<void> = Promise.resolve()
  #pingSeq = 0
  #pingWait: Promise<void> | undefined
  readonly #pingResolvers = new Map<string, () => void>()
  #blobPing: boolean
  readonly #host: SendHost
  #closedResolve!: () => void
  #closed!: Promise<void>
  #shutdown: Promise<void> | undefined
  #closeDeadlineMs = 5000
  #cleanup: Array<() => void> = []

  constructor(options: DriverOptions<C> = {}) {
    super()
    this.#opts = options
    this.context = options.context as C
    this.logger = options.logger ?? stderrLogger()
    this.stats = this.#stats
    this.#now = options.now ?? (() => new Date())
    this.#blobPing = options.blobPing ?? true
    this.#newLifecycle()
    const self = this
    this.#host = {
      get running() {
        return self.#state === 'running'
      },
      stamp: () => this.#stamp(),
      get full() {
        return self.#writer.full
      },
      pushText: (t, meta) => this.#writer.pushText(t, meta),
      queueText: (t, meta, s) => this.#queueText(t, meta, s),
      queue: (m, s) => this.#queue(m, undefined, s),
      queueBlob: (m, s) => this.#queueBlob(m, s),
    }
    this.#writer = new Writer({
      highWaterMark: options.highWaterMark ?? 256 * 1024,
      flushBytes: 64 * 1024,
      drainTimeoutMs: options.drainTimeoutMs ?? 60_000,
      logger: this.logger,
      peers: () => this.#peers,
      onDeadPeer: (peer, error) => {
        this.logger.error(`dropping connection ${peer.label}: ${error.message}`)
        peer.conn.destroy(error)
      },
    })
    for (const d of options.devices ?? []) this.addDevice(d)
  }

  // ---------------------------------------------------------------- model

  /** Adds a device (ERR_INDI_DUPLICATE on a name clash). Define it to clients with `device.restore()`. */
  addDevice<D extends Device<unknown>>(device: D): D {
    if (this.#devices.has(device.name)) {
      throw new IndiError('ERR_INDI_DUPLICATE', `duplicate device name ${JSON.stringify(device.name)}`)
    }
    if (device._host !== undefined && device._host !== this.#host) {
      throw new IndiError('ERR_INDI_DUPLICATE', `device ${device.name} already belongs to another driver`)
    }
    device._host = this.#host
    this.#devices.set(device.name, device)
    return device
  }

  /** The named device, or undefined. */
  device(name: string): Device<unknown> | undefined {
    return this.#devices.get(name)
  }

  /** Devices in order. */
  devices(): Device<unknown>[] {
    return [...this.#devices.values()]
  }

  [Symbol.iterator](): Iterator<Device<unknown>> {
    return this.#devices.values()
  }

  /** True between run()/listen() and shutdown. */
  get running(): boolean {
    return this.#state === 'running'
  }

  /** Bytes waiting in the writer queue. */
  get bufferedBytes(): number {
    return this.#writer.bufferedBytes
  }

  /** Resolves when the writer queue is under its high-water mark again. */
  writable(options?: { signal?: AbortSignal }): Promise<void> {
    return this.#writer.room(options?.signal)
  }

  /** Resolves once everything queued so far has been handed to the connection(s). */
  flush(): Promise<void> {
    return this.#writer.flush()
  }

  // ---------------------------------------------------------------- hooks (override)

  /** Subclass hook: the hardware loop, started with the driver; `signal` aborts on shutdown. */
  protected async hardware(_signal: AbortSignal): Promise<void> {}

  /** Subclass hook: every client change request, after the vector's and the typed listeners. */
  protected async onNewVector(_event: NewVectorEvent): Promise<void> {}

  /** Subclass hook: every snooped element that matches a subscription. */
  protected async onSnoop(_event: SnoopEvent): Promise<void> {}

  /** Subclass hook for getProperties when `autoDefine: false`; by default it replies. */
  protected async onGetProperties(event: GetPropertiesEvent): Promise<void> {
    if (this.listenerCount('getProperties') === 0) await event.reply()
  }

  // ---------------------------------------------------------------- sending

  /** A message with no device (a "global" message). Resolves false when not running. */
  async message(
    text: string,
    options?: { timestamp?: Date | string; signal?: AbortSignal },
  ): Promise<boolean> {
    if (this.#state !== 'running') return false
    const ts = options?.timestamp
    if (typeof ts === 'string') parseTimestamp(ts)
    const timestamp = typeof ts === 'string' ? ts : formatTimestamp(ts ?? this.#now())
    return this.#queue({ tag: 'message', timestamp, message: text }, undefined, options?.signal)
  }

  #meta(m: IndiMessage, target: Peer | undefined): OutMeta {
    const device = 'device' in m ? m.device : undefined
    const name = 'name' in m ? m.name : undefined
    return { blob: m.tag === 'setBLOBVector' && m.members.length > 0, device, name, target }
  }

  #tryQueue(m: IndiMessage, target: Peer | undefined): boolean {
    if (this.#writer.full) return false
    this.#writer.pushText(buildMessage(m), this.#meta(m, target))
    return true
  }

  #queue(m: IndiMessage, target: Peer | undefined, signal?: AbortSignal): Promise<boolean> {
    if (this.#state !== 'running' && this.#state !== 'stopping') return RESOLVED_FALSE
    if (this.#tryQueue(m, target)) return RESOLVED_TRUE
    return this.#writer.room(signal).then(() => {
      this.#writer.pushText(buildMessage(m), this.#meta(m, target))
      return true
    })
  }

  #queueText(text: string, meta: OutMeta, signal?: AbortSignal): Promise<boolean> {
    if (this.#state !== 'running' && this.#state !== 'stopping') return RESOLVED_FALSE
    if (!this.#writer.full) {
      this.#writer.pushText(text, meta)
      return RESOLVED_TRUE
    }
    return this.#writer.room(signal).then(() => {
      this.#writer.pushText(text, meta)
      return true
    })
  }

  async #queueBlob(m: SetBlobVector, signal?: AbortSignal): Promise<boolean> {
    if (this.#state !== 'running') return false
    const ping = this.#blobPing && m.members.length > 0 && this.#peers.some((p) => p.kind === 'server')
    if (ping && this.#pingWait !== undefined) await this.#pingWait
    await this.#writer.room(signal)
    if (this.#state !== 'running') return false
    let size = 0
    for (const b of m.members) size += Math.ceil(b.data.length / 3) * 4
    // enclen only with libindi's 72-column layout: indiserver 1.9.9 stops reading a driver whose
    // BLOB carries it with any other (see blobLineLength).
    const line = this.#opts.blobLineLength ?? 0
    this.#writer.pushStream(
      buildBlobChunks(m, { chunkBytes: 64 * 1024, blobLineLength: line, blobEnclen: line === 72 }),
      size,
      this.#meta(m, undefined),
      this.#peers.some((p) => p.binaryLink !== undefined)
        ? () => loadedIndiMsgpack()!.encodeFrame(m)
        : undefined,
    )
    if (ping) {
      const uid = `SetBLOB/${++this.#pingSeq}`
      this.#writer.pushText(buildMessage({ tag: 'pingRequest', uid }), {
        blob: false,
        device: undefined,
        name: undefined,
        target: undefined,
      })
      this.#pingWait = new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.#pingResolvers.delete(uid)
          this.logger.warn(`no pingReply for ${uid} within ${this.#blobPingTimeoutMs} ms; sending on`)
          resolve()
        }, this.#blobPingTimeoutMs)
        timer.unref?.()
        this.#pingResolvers.set(uid, () => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
    return true
  }

  #stampSecond = Number.NaN
  #stampText = ''
  /** INDI timestamps have whole seconds (libindi's form), so one formatting per second is enough. */
  #stamp(): string {
    const ms = this.#opts.now !== undefined ? this.#now().getTime() : Date.now()
    const sec = Math.floor(ms / 1000)
    if (sec !== this.#stampSecond) {
      this.#stampSecond = sec
      this.#stampText = formatTimestamp(new Date(ms))
    }
    return this.#stampText
  }

  get #blobPingTimeoutMs(): number {
    return this.#opts.blobPingTimeoutMs ?? 5000
  }

  // ---------------------------------------------------------------- running

  /**
   * Run over one connection: stdin/stdout by default (works as an executable under indiserver),
   * or any Connection (the in-process server uses connectionPair()). Resolves when the driver has
   * shut down: at end of input, on `signal`, on `close()`, or on SIGTERM when on stdio.
   */
  async run(options: RunOptions = {}): Promise<void> {
    this.#claim()
    let conn = options.connection
    if (conn === undefined) {
      conn = stdioConnection()
      const onTerm = (): void => {
        this.logger.info('SIGTERM: shutting down')
        void this.close()
      }
      process.once('SIGTERM', onTerm)
      this.#cleanup.push(() => process.off('SIGTERM', onTerm))
    }
    const kind = options.peer ?? 'server'
    if (this.#opts.blobPing === undefined) this.#blobPing = kind === 'server'
    const binary = options.binary ?? (options.connection === undefined && process.env.INDI_TS_BINARY === '1')
    const link = binary ? conn : undefined
    if (binary) {
      // The driver keeps writing and reading XML text through the bridge; only BLOBs bypass it
      // (Writer#writeStream sends them to `link` as raw-byte frames).
      const { binaryAsXml } = loadedIndiMsgpack() ?? (await loadIndiMsgpack())
      conn = binaryAsXml(conn, {
        ...(this.#opts.parserLimits ? { parserLimits: this.#opts.parserLimits } : {}),
        onDropped: (reason) => this.logger.warn(`not sent over the binary link: ${reason}`),
      })
    }
    // The peer first: hardware() starts synchronously and may fill a flush before its first await.
    this.#state = 'running'
    const peer = this.#addPeer(conn, kind, link)
    this.#start(options.signal)
    await this.#readLoop(peer)
    await this.#stop('end of input')
  }

  /**
   * Listen for INDI clients on TCP (no server needed). Each client has its own BLOB policy
   * (Never until it sends enableBLOB). Resolves once listening.
   */
  async listen(options: ListenOptions = {}): Promise<DriverListener> {
    this.#claim()
    const listener = await listenTcp({
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 7624,
      ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
      ...(options.allow !== undefined ? { allow: options.allow } : {}),
    })
    if (this.#opts.blobPing === undefined) this.#blobPing = false
    this.#start(options.signal)
    this.#cleanup.push(() => void listener.close().catch(() => {}))
    const accept = (async () => {
      try {
        for await (const conn of listener) {
          if (this.#state !== 'running') {
            conn.destroy()
            break
          }
          const peer = this.#addPeer(conn, 'client')
          this.logger.info(`client connected: ${peer.label}`)
          this.#trackReader(
            this.#readLoop(peer).then(() => {
              this.#removePeer(peer)
              void peer.conn.close().catch(() => {})
              this.logger.info(`client gone: ${peer.label}`)
            }),
          )
        }
      } catch (e) {
        if (this.#state === 'running') this.#reportError(e, 'listener')
      }
    })()
    this.#track(accept)
    return { address: listener.address, finished: this.closed }
  }

  /** Settles once the driver has shut down (never rejects); a new run() starts a new one. */
  get closed(): Promise<void> {
    return this.#closed
  }

  #newLifecycle(): void {
    this.#closed = new Promise((r) => {
      this.#closedResolve = r
    })
  }

  #claim(): void {
    if (this.#state === 'closed') {
      // A driver that has shut down may run again: the model (devices, values, snoop filters)
      // stays; connections, hardware() and the shutdown signal are new. The in-process server
      // restarts a driver this way.
      this.#abort = new AbortController()
      this.#shutdown = undefined
      this.#peers = []
      this.#pingWait = undefined
      this.#pingResolvers.clear()
      this.#newLifecycle()
      this.#state = 'idle'
    }
    if (this.#state !== 'idle') {
      throw new IndiError(
        'ERR_INDI_CLOSED',
        `driver already ${this.#state === 'running' ? 'running' : 'closed'}`,
      )
    }
  }

  #start(signal: AbortSignal | undefined): void {
    this.#state = 'running'
    if (signal !== undefined) {
      if (signal.aborted) queueMicrotask(() => void this.close())
      else {
        const onAbort = (): void => void this.close()
        signal.addEventListener('abort', onAbort, { once: true })
        this.#cleanup.push(() => signal.removeEventListener('abort', onAbort))
      }
    }
    const s = this.#abort.signal
    this.#track(
      this.hardware(s).catch((e) => {
        if (!s.aborted) this.#reportError(e, 'hardware')
      }),
    )
    for (const fn of this.#pendingSpawns.splice(0)) this.spawn(fn)
    for (const sub of this.#snoops) sub._resume()
  }

  #addPeer(conn: Connection, kind: PeerKind, binaryLink?: Connection): Peer {
    const peer = new Peer(conn, kind, binaryLink)
    this.#peers = [...this.#peers, peer]
    // Snoop requests, then their enableBLOBs (the server needs the snoop entry first, §1.7).
    if (kind === 'server') {
      for (const sub of this.#snoops) this.#sendSnoopRequest(sub, peer)
      for (const b of this.#blobSnoops.values()) this.#sendEnableBlob(b.device, b.name, b.policy, peer)
    }
    return peer
  }

  #removePeer(peer: Peer): void {
    this.#peers = this.#peers.filter((p) => p !== peer)
  }

  /**
   * Start a background task with the driver's shutdown signal. Its failure is logged and emitted
   * as an 'error' event; it never stops the driver. Before run(), tasks wait for the start.
   */
  spawn(fn: (signal: AbortSignal) => Promise<void>): void {
    if (this.#state === 'idle') {
      this.#pendingSpawns.push(fn)
      return
    }
    if (this.#state !== 'running') return
    const s = this.#abort.signal
    let p: Promise<void>
    try {
      p = Promise.resolve(fn(s))
    } catch (e) {
      p = Promise.reject(e)
    }
    this.#track(
      p.catch((e) => {
        if (!s.aborted) this.#reportError(e, 'task')
      }),
    )
  }

  readonly #readers = new Set<Promise<void>>()
  /** Client read loops end when their connection closes, which shutdown does after flushing. */
  #trackReader(p: Promise<void>): void {
    this.#readers.add(p)
    void p.finally(() => this.#readers.delete(p))
  }

  #track(p: Promise<void>): void {
    this.#tasks.add(p)
    void p.finally(() => this.#tasks.delete(p))
  }

  /**
   * Shut down: abort the hardware loop and tasks, flush what was queued, close the connection(s).
   * After `deadlineMs` (default 5000) whatever is left is dropped and the connections destroyed.
   */
  async close(options: { deadlineMs?: number } = {}): Promise<void> {
    if (options.deadlineMs !== undefined) this.#closeDeadlineMs = options.deadlineMs
    if (this.#state === 'idle') {
      this.#state = 'closed'
      this.#closedResolve()
      return
    }
    await this.#stop('close()')
  }

  #stop(why: string): Promise<void> {
    if (this.#shutdown !== undefined) return this.#shutdown
    this.#shutdown = (async () => {
      this.logger.debug(`shutting down (${why})`)
      this.#state = 'stopping'
      this.#abort.abort(new IndiError('ERR_INDI_CLOSED', `driver shutting down (${why})`))
      for (const c of this.#cleanup.splice(0)) c()
      let timer: NodeJS.Timeout | undefined
      const deadline = new Promise<'late'>((r) => {
        timer = setTimeout(() => r('late'), this.#closeDeadlineMs)
      })
      const graceful = (async () => {
        await Promise.allSettled([...this.#tasks])
        await this.#writer.flush()
        await Promise.allSettled(this.#peers.map((p) => p.conn.close()))
        await Promise.allSettled([...this.#readers])
      })()
      const r = await Promise.race([graceful.then(() => 'ok' as const), deadline])
      clearTimeout(timer)
      if (r === 'late') {
        this.logger.warn(`shutdown deadline of ${this.#closeDeadlineMs} ms passed; dropping what is left`)
        this.#writer.discard()
        for (const p of this.#peers) p.conn.destroy(new IndiError('ERR_INDI_CLOSED', 'driver shut down'))
      }
      this.#state = 'closed'
      for (const ch of this.#commands) ch.close()
      for (const s of this.#snoops) s._end()
      for (const r of this.#pingResolvers.values()) r()
      this.#closedResolve()
    })()
    return this.#shutdown
  }

  // ---------------------------------------------------------------- iteration

  /**
   * Client change requests as an async iterable (another style than hooks and listeners). Each
   * iterator buffers up to 256 events; while it is full, handling of that vector waits for it.
   */
  commands(options: { signal?: AbortSignal } = {}): AsyncIterable<NewVectorEvent> {
    const ch = new BoundedQueue<NewVectorEvent>(256)
    this.#commands.add(ch)
    const signal = options.signal
    const done = (): void => {
      ch.close()
      this.#commands.delete(ch)
      signal?.removeEventListener('abort', done)
    }
    if (signal?.aborted || this.#state === 'closed') done()
    else signal?.addEventListener('abort', done, { once: true })
    return {
      [Symbol.asyncIterator]: () => {
        const it = ch.values()
        return {
          next: () => it.next(),
          return: async () => {
            done()
            return { value: undefined, done: true }
          },
        }
      },
    }
  }

  // ---------------------------------------------------------------- snooping

  /**
   * Snoop on another device (or everything): sends `<getProperties version='1.7' device= name=/>`
   * upstream (now, or when the driver starts) and returns a subscription: an async iterable of
   * SnoopEvents with `cancel()`. With `refreshAfterMs`, the request is re-sent after that long
   * without traffic. Throws ERR_INDI_SNOOP_OWN_DEVICE for one of this driver's devices.
   */
  snoop(filter: SnoopFilter = {}, options: { signal?: AbortSignal } = {}): SnoopSubscription {
    if (filter.device !== undefined) {
      checkName(filter.device, 'device')
      if (this.#devices.has(filter.device)) {
        throw new IndiError('ERR_INDI_SNOOP_OWN_DEVICE', `cannot snoop own device ${filter.device}`)
      }
    }
    if (filter.vector !== undefined) {
      checkName(filter.vector, 'vector')
      if (filter.device === undefined) {
        throw new IndiError('ERR_INDI_INVALID_VALUE', 'snooping a vector needs its device')
      }
    }
    const sub = new SnoopSubscription(filter, {
      onCancel: (s) => this.#snoops.delete(s),
      onRefresh: (s) => {
        for (const p of this.#peers) if (p.kind === 'server') this.#sendSnoopRequest(s, p)
      },
      onDrop: () => {
        this.#stats.snoopDropped++
      },
    })
    this.#snoops.add(sub)
    if (this.#state === 'running')
      for (const p of this.#peers) if (p.kind === 'server') this.#sendSnoopRequest(sub, p)
    if (this.#state === 'closed' || options.signal?.aborted) sub.cancel()
    else options.signal?.addEventListener('abort', () => sub.cancel(), { once: true })
    return sub
  }

  /**
   * Ask for snooped BLOBs of another device (or one of its vectors): sends enableBLOB upstream,
   * after the snoop's getProperties. Throws ERR_INDI_SNOOP_OWN_DEVICE for one of our devices.
   */
  enableBlob(device: string, vector: string | undefined, policy: BlobPolicy): void {
    checkName(device, 'device')
    if (vector !== undefined) checkName(vector, 'vector')
    if (this.#devices.has(device)) {
      throw new IndiError('ERR_INDI_SNOOP_OWN_DEVICE', `cannot enable snooped BLOBs of own device ${device}`)
    }
    if (policy !== 'Never' && policy !== 'Also' && policy !== 'Only') {
      throw new IndiError('ERR_INDI_INVALID_VALUE', `BLOB policy must be Never, Also or Only`)
    }
    this.#blobSnoops.set(`${device}\u0000${vector ?? ''}`, { device, name: vector, policy })
    if (this.#state === 'running') {
      for (const p of this.#peers) if (p.kind === 'server') this.#sendEnableBlob(device, vector, policy, p)
    }
  }

  /** Active snoop subscriptions and when each last saw traffic. */
  get snoops(): readonly SnoopInfo[] {
    return [...this.#snoops].map((s) => s.info())
  }

  #sendSnoopRequest(sub: SnoopSubscription, peer: Peer): void {
    const m: GetProperties = { tag: 'getProperties', version: '1.7' }
    if (sub.device !== undefined) m.device = sub.device
    if (sub.vector !== undefined) m.name = sub.vector
    this.#writer.pushText(buildMessage(m), this.#meta(m, peer))
  }

  #sendEnableBlob(device: string, name: string | undefined, policy: BlobPolicy, peer: Peer): void {
    const m: IndiMessage = { tag: 'enableBLOB', device, policy, ...(name !== undefined ? { name } : {}) }
    this.#writer.pushText(buildMessage(m), this.#meta(m, peer))
  }

  // ---------------------------------------------------------------- reading

  async #readLoop(peer: Peer): Promise<void> {
    const limits = this.#opts.parserLimits ?? {}
    const framer = new IndiFramer(limits)
    const parser = new IndiParser(limits)
    try {
      for await (const chunk of peer.conn) {
        for (const ev of framer.push(chunk)) {
          if (ev.kind === 'error') this.#parseError(ev.error, peer)
          else await this.#onFrame(peer, ev.frame, parser)
          if (this.#state === 'closed') return
        }
      }
      for (const ev of framer.end()) {
        if (ev.kind === 'error') this.#parseError(ev.error, peer)
        else await this.#onFrame(peer, ev.frame, parser)
      }
    } catch (e) {
      if (this.#state === 'running') this.logger.warn(`connection ${peer.label} failed`, { error: e })
    }
  }

  #parseError(error: unknown, peer: Peer): void {
    this.#stats.parseErrors++
    this.logger.warn(`bad XML from ${peer.label}: ${error instanceof Error ? error.message : String(error)}`)
  }

  async #onFrame(peer: Peer, frame: RawFrame, parser: IndiParser): Promise<void> {
    for (const ev of parser.push(frame.bytes)) {
      if (ev.kind === 'message') await this.#dispatch(peer, ev.message)
      else if (ev.kind === 'unknown') {
        this.#stats.unknown++
        this.logger.debug(`ignoring unknown element <${ev.tag}> from ${peer.label}`)
      } else {
        this.#parseError(ev.error, peer)
        const dev = frame.device
        if (Object.hasOwn(NEW_KIND, frame.tag) && dev !== undefined && this.#devices.get(dev)?.enabled) {
          this.#refuse(peer, frame.tag, dev, frame.name, `invalid ${frame.tag}: ${ev.error.message}`)
        } else if (dev !== undefined && !this.#devices.has(dev)) {
          this.#snoopError(frame.tag, dev, frame.name, ev.error)
        }
      }
    }
  }

  async #dispatch(peer: Peer, m: IndiMessage): Promise<void> {
    switch (m.tag) {
      case 'getProperties':
        return this.#onGetProperties(peer, m)
      case 'enableBLOB':
        if (peer.kind === 'client') peer.setBlobPolicy(m.device, m.name, m.policy)
        this.#emitSafe('enableBLOB', {
          type: 'enableBLOB',
          device: m.device,
          name: m.name,
          policy: m.policy,
          source: peer.label,
        })
        return
      case 'pingRequest':
        // Answered at once, behind what is already queued: it doubles as a flush barrier (§1.3).
        this.#writer.pushText(buildMessage({ tag: 'pingReply', uid: m.uid }), this.#meta(m, peer))
        return
      case 'pingReply':
        this.#pingResolvers.get(m.uid)?.()
        this.#pingResolvers.delete(m.uid)
        return
      case 'newTextVector':
      case 'newNumberVector':
      case 'newSwitchVector':
      case 'newBLOBVector':
        return this.#onNew(peer, m)
      case 'defTextVector':
      case 'defNumberVector':
      case 'defSwitchVector':
      case 'defLightVector':
      case 'defBLOBVector':
      case 'setTextVector':
      case 'setNumberVector':
      case 'setSwitchVector':
      case 'setLightVector':
      case 'setBLOBVector':
      case 'delProperty':
      case 'message':
        return this.#onPublished(m)
    }
  }

  // ---------------------------------------------------------------- getProperties

  #matching(device: string | undefined, name: string | undefined): AnyVector[] {
    const out: AnyVector[] = []
    const all = device === undefined || device === '*'
    for (const d of this.#devices.values()) {
      if (!d.enabled || (!all && d.name !== device)) continue
      for (const v of d) if (v.enabled && (name === undefined || all || v.name === name)) out.push(v)
    }
    return out
  }

  async #onGetProperties(peer: Peer, m: GetProperties): Promise<void> {
    // Any version is accepted, and a missing one too: libindi exits here (§0.1); we never do.
    if (m.device !== undefined && m.device !== '*' && !this.#devices.has(m.device)) return
    const vectors = this.#matching(m.device, m.name)
    const reply = async (): Promise<boolean> => {
      for (const v of vectors) {
        if (!v.enabled) continue
        if (!(await this.#queue(v.toDef(), peer))) return false
      }
      return true
    }
    if (this.#opts.autoDefine ?? true) {
      await reply()
      return
    }
    const ev: GetPropertiesEvent = {
      type: 'getProperties',
      version: m.version,
      device: m.device,
      name: m.name,
      vectors,
      source: peer.label,
      reply,
    }
    await this.#guard(`getProperties`, async () => {
      await Promise.all(this.emitAll('getProperties', ev))
      await this.onGetProperties(ev)
    })
  }

  // ---------------------------------------------------------------- client requests

  #refuse(peer: Peer, tag: string, device: string, name: string | undefined, reason: string): void {
    this.#stats.rejected++
    this.logger.warn(`refused ${tag} ${device}.${name ?? ''} from ${peer.label}: ${reason}`)
    // A message to the client that says why; the vector keeps its state (no Alert is sent, so a
    // refused request never changes what other clients see). libindi sends "[ERROR] …" the same way.
    const msg: Message = {
      tag: 'message',
      device,
      timestamp: this.#stamp(),
      message: `[ERROR] ${name ?? ''}: ${reason}`,
    }
    this.#writer.pushText(buildMessage(msg), this.#meta(msg, peer))
    this.#emitSafe('rejected', { type: 'rejected', tag, device, name, reason, source: peer.label })
  }

  async #onNew(peer: Peer, m: NewVector): Promise<void> {
    const dev = this.#devices.get(m.device)
    const v = dev?.get(m.name)
    if (dev === undefined || !dev.enabled || v === undefined || !v.enabled) {
      this.#stats.ignored++
      this.logger.debug(`ignored ${m.tag} for unknown or disabled ${m.device}.${m.name}`)
      return
    }
    const want = NEW_KIND[m.tag]
    if (v.kind !== want) {
      return this.#refuse(
        peer,
        m.tag,
        m.device,
        m.name,
        `${m.name} is a ${v.kind} vector; ${m.tag} does not apply`,
      )
    }
    if ((v as TextVector).perm === 'ro') {
      return this.#refuse(peer, m.tag, m.device, m.name, `${m.name} is read-only`)
    }
    for (const one of m.members) {
      if (!v.has(one.name)) {
        return this.#refuse(peer, m.tag, m.device, m.name, `${m.name} has no member ${one.name}`)
      }
    }
    if (m.members.length === 0) {
      return this.#refuse(peer, m.tag, m.device, m.name, `${m.tag} with no members`)
    }
    let ev: NewVectorEvent
    try {
      ev = this.#buildEvent(peer, dev, v, m)
    } catch (e) {
      return this.#refuse(peer, m.tag, m.device, m.name, e instanceof Error ? e.message : String(e))
    }
    if (v.concurrent) {
      this.#track(this.#deliver(ev))
      return
    }
    // Per-vector inbox: events for one vector run in order; other vectors are not held up.
    v._pending++
    const run = v._tail.then(() => this.#deliver(ev))
    v._tail = run.finally(() => {
      v._pending--
    })
    if (v._pending > (this.#opts.inboxLimit ?? 64)) await v._tail
  }

  #buildEvent(peer: Peer, dev: Device<unknown>, v: AnyVector, m: NewVector): NewVectorEvent {
    const raw = new Map<string, string>()
    let timestamp: Date | undefined
    if (m.timestamp !== undefined) {
      try {
        timestamp = parseTimestamp(m.timestamp)
      } catch {
        this.#stats.badTimestamps++
        this.logger.warn(`unparsable timestamp ${m.timestamp} from ${peer.label}`)
      }
    }
    const base = { device: dev, raw, timestamp, rawTimestamp: m.timestamp, source: peer.label }
    switch (m.tag) {
      case 'newTextVector': {
        const tv = v as TextVector
        const values = new Map<string, string>()
        for (const o of m.members) {
          raw.set(o.name, o.value)
          values.set(o.name, o.value)
        }
        return {
          ...base,
          type: m.tag,
          vector: tv,
          values,
          message: m,
          apply: () => void tv.update(values),
        } as NewTextEvent
      }
      case 'newNumberVector': {
        const nv = v as NumberVector
        const policy = nv.range ?? this.#opts.numberRange ?? 'accept'
        const values = new Map<string, number>()
        for (const o of m.members) {
          raw.set(o.name, o.value)
          let n: number
          try {
            n = parseIndiNumber(o.value)
          } catch {
            throw new Error(`${o.name}: ${JSON.stringify(o.value)} is not a number`)
          }
          const mem = nv.member(o.name)
          // A range with min == max means "no range" (indiapi.h).
          if (mem.min !== mem.max && (n < mem.min || n > mem.max)) {
            if (policy === 'reject')
              throw new Error(`${o.name}: ${o.value} is outside [${mem.min}, ${mem.max}]`)
            if (policy === 'clamp') n = Math.min(mem.max, Math.max(mem.min, n))
          }
          values.set(o.name, n)
        }
        return {
          ...base,
          type: m.tag,
          vector: nv,
          values,
          message: m,
          apply: () => void nv.update(values),
        } as NewNumberEvent
      }
      case 'newSwitchVector': {
        const sv = v as SwitchVector
        const values = new Map<string, SwitchState>()
        for (const o of m.members) {
          raw.set(o.name, o.value)
          values.set(o.name, o.value)
        }
        this.#applyRule(sv, values)
        return {
          ...base,
          type: m.tag,
          vector: sv,
          values,
          message: m,
          apply: () => void sv.update(values),
        } as NewSwitchEvent
      }
      case 'newBLOBVector': {
        const bv = v as BlobVector
        const values = new Map<string, BlobData>()
        for (const o of m.members) {
          // A size with no content: the bytes came as a shared-memory attachment (indiserver
          // ≥ 1.9.7 to a local driver), never as an empty upload. Refused whatever the format.
          if (o.size > 0 && o.data.length === 0) throw attachedError(m.device, m.name, o.name, o.size)
          // `size` is the decoded length, except for zlib (`.z`) formats where it is the inflated one.
          if (!o.format.endsWith('.z') && o.size !== o.data.length) {
            throw new Error(`${o.name}: size ${o.size} does not match the ${o.data.length} decoded bytes`)
          }
          raw.set(o.name, o.format)
          values.set(o.name, { data: o.data, size: o.size, format: o.format })
        }
        return {
          ...base,
          type: m.tag,
          vector: bv,
          values,
          message: m,
          apply: () => {
            for (const [k, b] of values) bv.set(k, { data: b.data, format: b.format, size: b.size })
          },
        } as NewBlobEvent
      }
    }
  }

  /** Completes a switch proposal by the vector's rule; throws (→ refusal) when it cannot hold. */
  #applyRule(sv: SwitchVector, values: Map<string, SwitchState>): void {
    if (sv.rule === 'AnyOfMany') return
    const on = [...values].filter(([, s]) => s === 'On').map(([n]) => n)
    if (on.length > 1) throw new Error(`${sv.rule} allows one member On, the request has ${on.join(', ')}`)
    if (on.length === 1) {
      // libindi clients send only the member switched On (§0.8): the others go Off.
      for (const mem of sv.members()) if (mem.name !== on[0]) values.set(mem.name, 'Off')
      return
    }
    if (sv.rule === 'OneOfMany') {
      const stillOn = sv.members().filter((mem) => (values.get(mem.name) ?? mem.value) === 'On')
      if (stillOn.length !== 1) throw new Error(`OneOfMany needs exactly one member On`)
    }
  }

  async #deliver(ev: NewVectorEvent): Promise<void> {
    const where = `handler ${ev.type} ${ev.device.name}.${ev.vector.name}`
    for (const h of [
      ...(ev.vector._handlers as Set<(e: NewVectorEvent) => unknown>),
      ...ev.device._handlers,
    ]) {
      await this.#guard(where, async () => void (await h(ev)))
    }
    await this.#guard(where, async () => void (await Promise.all(this.emitAll(ev.type, ev as never))))
    await this.#guard(where, async () => void (await Promise.all(this.emitAll('newVector', ev))))
    await this.#guard(where, () => this.onNewVector(ev))
    for (const ch of this.#commands) await ch.put(ev).catch(() => {})
  }

  async #guard(where: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn()
    } catch (e) {
      this.#reportError(e, where)
    }
  }

  #reportError(error: unknown, where: string): void {
    this.logger.error(
      `${where} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    )
    try {
      this.emitAll('error', { type: 'error', error, where })
    } catch (e) {
      this.logger.error(`an 'error' listener threw: ${String(e)}`)
    }
  }

  #emitSafe<K extends 'enableBLOB' | 'rejected'>(type: K, arg: Parameters<DriverEvents[K]>[0]): void {
    try {
      this.emitAll(type, arg)
    } catch (e) {
      this.#reportError(e, `${type} listener`)
    }
  }

  // ---------------------------------------------------------------- snooped input

  async #onPublished(m: DefVector | SetVector | DelProperty | Message): Promise<void> {
    const device = m.device
    if (device !== undefined && this.#devices.has(device)) {
      // Someone else defines one of our devices (a loop, or a duplicate driver): indipydriver
      // shut down here; we log and ignore it (parity §8).
      if (m.tag.startsWith('def')) {
        this.#stats.ownDefsIgnored++
        this.logger.warn(`ignoring ${m.tag} for our own device ${device}.${'name' in m ? m.name : ''}`)
      }
      return
    }
    const name = 'name' in m ? m.name : undefined
    const subs = [...this.#snoops].filter((s) => s.matches(device, name))
    if (subs.length === 0) return
    let ev: SnoopEvent
    try {
      ev = snoopEvent(m)
    } catch (e) {
      const error = IndiError.is(e) ? e : new IndiError('ERR_INDI_XML_INVALID_MESSAGE', String(e))
      ev = { type: 'error', device, name, tag: m.tag, error }
    }
    this.#deliverSnoop(subs, ev)
  }

  #snoopError(tag: string, device: string, name: string | undefined, error: IndiError): void {
    const subs = [...this.#snoops].filter((s) => s.matches(device, name))
    if (subs.length > 0) this.#deliverSnoop(subs, { type: 'error', device, name, tag, error })
  }

  #deliverSnoop(subs: SnoopSubscription[], ev: SnoopEvent): void {
    for (const s of subs) s._push(ev)
    // Snoop handlers run on their own chain: a slow one delays snoops, never client requests.
    this.#snoopTail = this.#snoopTail.then(async () => {
      await this.#guard('snoop', async () => void (await Promise.all(this.emitAll('snoop', ev))))
      await this.#guard('snoop', () => this.onSnoop(ev))
    })
  }
}

function ts(text: string | undefined): Date | undefined {
  if (text === undefined) return undefined
  try {
    return parseTimestamp(text)
  } catch {
    return undefined
  }
}

/**
 * A oneBLOB with a size but no content. indiserver (≥ 1.9.7) hands BLOBs bound for a local driver
 * over as `attached="true"` plus a shared-memory fd (SCM_RIGHTS), which Node cannot receive; the
 * parser ignores `attached`, so what arrives is an empty payload. Kept short: the text goes to the
 * client in an INDI message (libindi truncates messages at 255 bytes).
 */
function attachedError(device: string, vector: string, member: string, size: number): IndiError {
  return new IndiError(
    'ERR_INDI_BLOB_ATTACHED',
    `${device}.${vector}.${member}: ${size} bytes announced, no content; indiserver passed them as a shared-memory attachment, which this driver cannot receive (send it through @indi-ts/indi-server)`,
  )
}

/** A snooped element as a typed event; throws IndiError when a value does not parse. */
function snoopEvent(m: DefVector | SetVector | DelProperty | Message): SnoopEvent {
  switch (m.tag) {
    case 'message':
      return {
        type: 'message',
        device: m.device,
        text: m.message ?? '',
        timestamp: ts(m.timestamp),
        message: m,
      }
    case 'delProperty':
      return { type: 'delete', device: m.device, name: m.name, timestamp: ts(m.timestamp), message: m }
    default: {
      const values = new Map<string, SnoopValue>()
      const isNumber = m.tag === 'defNumberVector' || m.tag === 'setNumberVector'
      for (const mem of m.members as Array<{
        name: string
        value?: unknown
        data?: Uint8Array
        size?: number
      }>) {
        if (isNumber) {
          try {
            values.set(mem.name, parseIndiNumber(String(mem.value)))
          } catch (e) {
            throw new IndiError(
              'ERR_INDI_NUMBER',
              `${m.device}.${m.name}.${mem.name}: ${String(mem.value)} is not a number`,
              {
                cause: e,
              },
            )
          }
        } else if (mem.data !== undefined) {
          if ((mem.size ?? 0) > 0 && mem.data.length === 0) {
            throw attachedError(m.device, m.name, mem.name, mem.size ?? 0)
          }
          values.set(mem.name, mem.data)
        } else values.set(mem.name, mem.value === undefined ? '' : String(mem.value))
      }
      const kind = kindOf(m.tag)
      if (m.tag.startsWith('def')) {
        const d = m as DefVector
        return {
          type: 'def',
          device: d.device,
          name: d.name,
          kind,
          state: d.state,
          values,
          timestamp: ts(d.timestamp),
          message: d,
        }
      }
      const s = m as SetVector
      return {
        type: 'set',
        device: s.device,
        name: s.name,
        kind,
        state: s.state,
        values,
        timestamp: ts(s.timestamp),
        message: s,
      }
    }
  }
}

function kindOf(tag: string): 'Text' | 'Number' | 'Switch' | 'Light' | 'BLOB' {
  if (tag.endsWith('TextVector')) return 'Text'
  if (tag.endsWith('NumberVector')) return 'Number'
  if (tag.endsWith('SwitchVector')) return 'Switch'
  if (tag.endsWith('LightVector')) return 'Light'
  return 'BLOB'
}

// A driver started by a server as a binary driver: indi-msgpack is loaded with this module, so
// run() sets up synchronously (as it does over XML) and nothing the driver sends at once can miss
// the peer. Otherwise it is loaded only for a binary link (see indi-msgpack/lazy).
if (typeof process !== 'undefined' && process.env.INDI_TS_BINARY === '1') await loadIndiMsgpack()
