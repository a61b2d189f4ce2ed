import { EventEmitter } from 'node:events'
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs'
import { join } from 'node:path'
import type { BinaryAsXmlOptions, SessionRecorder } from '@indi-ts/indi-msgpack'
import { loadedIndiMsgpack, loadIndiMsgpack } from '@indi-ts/indi-msgpack/lazy'
import {
  buildMessageBytes,
  type FrameEvent,
  INDI_TAGS,
  IndiError,
  IndiFramer,
  type IndiMessage,
  type ParserLimits,
  type RawFrame,
  type XmlParseError,
} from '@indi-ts/indi-xml'
import { type AbortOptions, type Connection, connectionPair } from '@indi-ts/transport'
import { spawnDriver } from '@indi-ts/transport-stdio'
import { connectTcpWithRetry, listenTcp, type TcpListener } from '@indi-ts/transport-tcp'
import { BlobBufferPool } from './blobpool.js'
import { compactBlob, isStreamBlob } from './compact.js'
import { crackBlob, SnoopTable } from './interest.js'
import { type Logger, type LogLevel, logTimestamp, stderrLogger } from './log.js'
import { Outbox, type OutboxHost, type OutboxLimits, type OutItem } from './outbox.js'
import {
  type ClientInfo,
  ClientPeer,
  type DriverInfo,
  type DriverKind,
  DriverPeer,
  type ExecutableSpec,
  type Peer,
  type RemoteSpec,
  type RunnableDriver,
} from './peers.js'
import { RemoteLink, type RemoteState, type RemoteStatus } from './remote.js'

/** Options of `new IndiServer()`. Every size is in MB (1 048 576 bytes) as indiserver's flags. */
export interface IndiServerOptions {
  /** Address to listen on. Default `127.0.0.1` (indiserver binds every IPv4 address). */
  host?: string
  /** TCP port. Default 7624; 0 picks a free one (see `listen()`'s result). */
  port?: number
  /** Most clients at once; more are sent an INDI `message` and closed. Default unlimited. */
  maxClients?: number
  /** `-m`: a client more than this many MB behind is disconnected (after conflation). Default 128. */
  maxQueueMB?: number
  /** `-d`: streaming BLOBs (`format` containing `stream`) are dropped for a client this many MB behind. Default 5; 0 disables. */
  maxStreamMB?: number
  /** `-r`: restarts allowed per local driver over the server's life. Default 10. */
  restarts?: number
  /** First restart delay, doubled each restart up to `restartMaxDelayMs`. Default 100 ms. */
  restartMinDelayMs?: number
  /** Default 10 000 ms. */
  restartMaxDelayMs?: number
  /** Remote reconnection backoff bounds. Defaults 500 ms and 10 000 ms. */
  remoteMinDelayMs?: number
  remoteMaxDelayMs?: number
  /**
   * A congested peer that takes no bytes for this long stops holding back the producers; it is then
   * conflated and, past `-m`, disconnected. Default 2000 ms.
   */
  stallTimeoutMs?: number
  /** Each stage of a graceful driver stop (stdin closed, SIGTERM, SIGKILL) waits this long. Default 2000 ms. */
  closeStageMs?: number
  /** Client addresses or CIDR ranges allowed to connect over TCP. Default everyone. */
  allow?: string[]
  /** Where log lines go. Default stderr as `<ts>: <text>`. */
  logger?: Logger
  /** 0 (default) to 3, as `-v`, `-vv`, `-vvv`. */
  verbosity?: LogLevel
  /** `-l`: append driver `message` attributes to `<dir>/YYYY-MM-DD.islog`. */
  logDir?: string
  /** Framing limits for every peer (largest element, largest BLOB element). */
  limits?: ParserLimits
  /**
   * Keep-alive, off by default (indiserver has none): a client silent for this long is sent a
   * `pingRequest` (libindi ≥ 1.9.7 clients answer it; nobody sees it as a message) and is closed
   * with ERR_INDI_SLOW_PEER if it sends nothing for as long again. Finds dead TCP peers early.
   */
  pingIntervalMs?: number
  /**
   * Remove the line breaks libindi puts every 72 base64 characters when a driver runs over pipes,
   * once per BLOB for all recipients. indiserver sends local drivers' BLOBs as one line, and
   * indi_getprop 1.9.9 decodes line breaks as data (files come out 1.4 % too long). A compacted
   * member loses its `enclen`, as indiserver's own one-line BLOBs have none (an indiserver 1.9.9
   * chained on top stalls on enclen with one-line base64). Default true.
   */
  compactBlobs?: boolean
  /**
   * Reuse the buffers drivers' BLOBs (of 1 MiB or more) are assembled in, once every client has
   * been sent the BLOB: a camera's frames then cost no new memory each, and RSS stays near what
   * is queued instead of growing with garbage V8 frees late (see BlobBufferPool). A buffer goes
   * back only when every holder gave it back; connections that cannot tell when they are done
   * with a chunk (`Connection.send`'s `released`) keep theirs. Off with `recorder`. Default true.
   */
  reuseBlobBuffers?: boolean
  /**
   * Called after every `reclaimEveryBytes` (default 8 MiB) read from drivers, once that read is
   * routed. Meant for a young-generation garbage collection (the CLI passes V8's): each read
   * chunk from a driver is a 64 KiB external buffer that is garbage as soon as it is framed, but
   * V8 collects external memory only after tens of MiB of it, so a camera's frames left ~20 MiB
   * of dead chunks at the RSS peak (bench/ slow-client workload: peak ~128 → ~106 MiB with it).
   * Default none.
   */
  reclaimMemory?: () => void
  /** Bytes read from drivers between two `reclaimMemory` calls. Default 8 MiB. */
  reclaimEveryBytes?: number
  /**
   * Records every element the server receives, with time, direction `'in'` and peer
   * (`client:<label>`, `driver:<name>`, `remote:<host>:<port>`), as raw bytes: no parsing on the
   * routing path, and `record()` never waits (it drops and counts past its memory bound). The
   * caller creates it (`SessionRecorder.create`) and closes it after `server.close()`; replay it
   * with `indi-replay`. Default none (and then no cost at all).
   */
  recorder?: SessionRecorder
  /**
   * Serve binary-link peers (another @indi-ts/indi-server's `addRemote({ binary: true })`) on the
   * same TCP port as XML clients: each accepted connection's first bytes are sniffed (binary peers
   * open with 0x89). Such a connection is served (and counted, and sees `client`) once it has
   * sent something, as INDI clients speak first. Default false: XML only, each connection served
   * at once, as indiserver does.
   */
  acceptBinary?: boolean
}

/** Typed events of an `IndiServer`. */
export interface IndiServerEvents {
  /** A client was accepted. */
  client: [ClientInfo]
  /** A client left or was disconnected (`reason` set, e.g. ERR_INDI_SLOW_PEER). */
  clientClosed: [ClientInfo, Error | undefined]
  /** A client over `maxClients` was told so and closed. */
  clientRefused: [label: string]
  /** A driver (re)started, or a remote link connected. */
  driverStarted: [DriverInfo]
  /** A driver's connection ended; for executables with their exit status. */
  driverExited: [DriverInfo, { code: number | null; signal: string | null }]
  /** A driver used up its restarts, or was removed. */
  driverRemoved: [DriverInfo]
  /** A driver announced a device. */
  device: [device: string, DriverInfo]
  /** A client fell more than `-m` behind and was disconnected. */
  slowClient: [ClientInfo, behindBytes: number]
  /** A remote link changed state: once per change (connected, disconnected, stopped), never per retry. */
  remoteStatus: [RemoteStatus]
  /** Something went wrong with one peer; the server carries on (e.g. ERR_INDI_DEVICE_LOOP). */
  warning: [IndiError]
  /** No drivers remain (the CLI exits then, as indiserver, unless a FIFO is open). */
  idle: []
}

const KNOWN_TAGS: ReadonlySet<string> = new Set(INDI_TAGS)
const MB = 1048576

/**
 * An INDI server: routes between clients and drivers as indilib's indiserver does (protocol
 * reference §2.5–§2.8), forwarding each element's original bytes to every recipient.
 */
export class IndiServer extends EventEmitter<IndiServerEvents> implements OutboxHost {
  readonly host: string
  readonly port: number
  private readonly maxClients: number | undefined
  private readonly maxBytes: number
  private readonly streamBytes: number
  private readonly maxRestarts: number
  private readonly opts: Required<
    Pick<
      IndiServerOptions,
      | 'restartMinDelayMs'
      | 'restartMaxDelayMs'
      | 'remoteMinDelayMs'
      | 'remoteMaxDelayMs'
      | 'stallTimeoutMs'
      | 'closeStageMs'
    >
  >
  private readonly allow: string[] | undefined
  private readonly logger: Logger
  readonly verbosity: LogLevel
  private readonly logDir: string | undefined
  private readonly compactBlobs: boolean
  private readonly pingIntervalMs: number
  private pingTimer: ReturnType<typeof setInterval> | undefined
  private pingSeq = 0
  private readonly limits: ParserLimits
  private readonly clientLimits: OutboxLimits
  private readonly driverLimits: OutboxLimits

  private clients: ClientPeer[] = []
  private drivers: DriverPeer[] = []
  private snoopers: DriverPeer[] = []
  private readonly owners = new Map<string, DriverPeer>()
  private nextClientId = 0
  private nextDriverId = 0
  private listener: TcpListener | undefined
  private readonly recorder: SessionRecorder | undefined
  private readonly blobPool: BlobBufferPool | undefined
  private readonly reclaimMemory: (() => void) | undefined
  private readonly reclaimEveryBytes: number
  /** Bytes read from drivers since reclaimMemory was last called. */
  private readSinceReclaim = 0
  private readonly acceptBinary: boolean
  /** Accepted TCP connections whose first bytes are not in yet (see `acceptBinary`). */
  private readonly sniffing = new Set<Connection>()
  private closing = false
  private closePromise: Promise<void> | undefined
  private dirty: Outbox[] = []
  private flushQueued = false
  private readonly clientGating = new Set<Outbox>()
  private readonly driverGating = new Set<Outbox>()
  private gateWaiters: (() => void)[] = []
  /**
   * While routing the frames of one read: that chunk's ArrayBuffer. A frame outside it was
   * assembled by the framer in a buffer of its own that nobody else sees (the framer never writes
   * into a buffer it lent out), so a BLOB there may be compacted in place.
   */
  private readChunk: ArrayBufferLike | undefined
  private readonly logStreams = new Map<string, WriteStream>()

  constructor(options: IndiServerOptions = {}) {
    super()
    this.host = options.host ?? '127.0.0.1'
    this.port = options.port ?? 7624
    this.maxClients = options.maxClients
    this.maxBytes = Math.max(0, options.maxQueueMB ?? 128) * MB
    this.streamBytes = Math.max(0, options.maxStreamMB ?? 5) * MB
    this.maxRestarts = options.restarts ?? 10
    this.opts = {
      restartMinDelayMs: options.restartMinDelayMs ?? 100,
      restartMaxDelayMs: options.restartMaxDelayMs ?? 10_000,
      remoteMinDelayMs: options.remoteMinDelayMs ?? 500,
      remoteMaxDelayMs: options.remoteMaxDelayMs ?? 10_000,
      stallTimeoutMs: options.stallTimeoutMs ?? 2000,
      closeStageMs: options.closeStageMs ?? 2000,
    }
    this.allow = options.allow
    this.logger = options.logger ?? stderrLogger
    this.verbosity = options.verbosity ?? 0
    this.logDir = options.logDir
    this.compactBlobs = options.compactBlobs ?? true
    this.pingIntervalMs = options.pingIntervalMs ?? 0
    this.limits = options.limits ?? {}
    this.recorder = options.recorder
    // A recording keeps frames' bytes past their routing, without telling when it is done.
    this.blobPool =
      (options.reuseBlobBuffers ?? true) && this.recorder === undefined ? new BlobBufferPool() : undefined
    this.acceptBinary = options.acceptBinary ?? false
    this.reclaimMemory = options.reclaimMemory
    this.reclaimEveryBytes = options.reclaimEveryBytes ?? 8 * MB
    // The high-water mark that holds producers back is far below -m, so a flood is backpressured
    // long before anyone is disconnected; 1 MiB is enough to keep a socket write-bound.
    const highWater = Math.min(MB, Math.max(16 * 1024, this.maxBytes / 4), this.maxBytes / 2)
    this.clientLimits = {
      highWater,
      lowWater: highWater / 2,
      // Twice the gate: a reading peer held at the high-water mark is never conflated.
      conflateAt: 2 * highWater,
    }
    this.driverLimits = this.clientLimits
  }

  // ---------------------------------------------------------------- public API

  /** The listening address once `listen()` resolved. */
  get address(): { host: string; port: number } | undefined {
    return this.listener?.address
  }

  /**
   * Starts accepting TCP clients on `host:port`. Resolves with the bound address.
   * Rejects with the transport's error (e.g. ERR_INDI_CONNECTION_REFUSED when the port is taken).
   */
  async listen(): Promise<{ host: string; port: number }> {
    const listener = await listenTcp({
      host: this.host,
      port: this.port,
      ...(this.allow ? { allow: this.allow } : {}),
      onRefused: (peer) => this.log(1, `refused ${peer.address}:${peer.port} (${peer.reason})`),
    })
    this.listener = listener
    this.log(1, `listening to port ${listener.address.port} on ${listener.address.host}`)
    void (async () => {
      try {
        for await (const conn of listener) {
          if (this.acceptBinary) this.sniff(conn)
          else this.addClient(conn)
        }
      } catch (err) {
        // Never exit on accept errors (indiserver does, §2.15): log and stop listening.
        if (!this.closing) this.log(0, `listener: ${(err as Error).message}`)
      }
    })()
    return listener.address
  }

  /** Waits for a TCP client's first bytes, then serves it as an XML or a binary-link peer. */
  private sniff(conn: Connection): void {
    this.sniffing.add(conn)
    loadIndiMsgpack()
      .then(async (msgpack) => ({ msgpack, ...(await msgpack.sniffProtocol(conn)) }))
      .then(
        ({ msgpack, protocol, connection }) => {
          this.sniffing.delete(conn)
          if (this.closing) return conn.destroy()
          if (protocol === 'xml') return void this.addClient(connection)
          this.log(1, `${conn.label}: binary link peer`)
          this.addClient(msgpack.binaryAsXml(connection, this.bridgeOptions(conn.label)))
        },
        () => {
          this.sniffing.delete(conn)
          conn.destroy()
        },
      )
  }

  private bridgeOptions(label: string): BinaryAsXmlOptions {
    return {
      parserLimits: this.limits,
      onDropped: (reason) => this.log(1, `${label}: not sent over the binary link: ${reason}`),
    }
  }

  /**
   * Serves a client over any Connection (TCP, WebSocket bridge, in-memory pair). Returns its info,
   * or undefined when it was refused (over `maxClients`, or the server is closing).
   */
  addClient(connection: Connection): ClientInfo | undefined {
    if (this.closing) {
      connection.destroy()
      return undefined
    }
    if (this.maxClients !== undefined && this.clients.length >= this.maxClients) {
      this.refuse(connection)
      return undefined
    }
    const cp = new ClientPeer(++this.nextClientId, connection.label)
    cp.connection = connection
    cp.framer = new IndiFramer(this.limits)
    cp.outbox = new Outbox(connection, this, this.clientLimits, true, this.blobPool)
    // Appended in place (copying the array per accept cost O(n) garbage in a burst of clients);
    // removal still makes a new array, so a loop over the old one is never disturbed.
    this.clients.push(cp)
    if (this.pingIntervalMs > 0 && this.pingTimer === undefined) {
      this.pingTimer = setInterval(this.keepAlive, Math.max(1, this.pingIntervalMs / 4))
      this.pingTimer.unref?.()
    }
    this.log(1, `Client ${cp.id}: new arrival from ${connection.label} - welcome!`, 'indi:server:client', {
      client: cp.id,
      peer: connection.label,
    })
    const info = clientInfo(cp)
    this.emit('client', info)
    this.runClient(cp, connection, cp.framer)
    return info
  }

  /**
   * Runs an in-process driver (an @indi-ts/indi-driver `Driver`): the server makes a
   * `connectionPair()`, calls `driver.run({ connection, signal })` and restarts it if it fails.
   */
  addDriver(driver: RunnableDriver, options: { name?: string } = {}): DriverInfo {
    const dp = this.newDriver('inproc', options.name ?? `driver${this.nextDriverId + 1}`, { driver })
    this.startDriver(dp)
    return driverInfo(dp)
  }

  /** Spawns an executable driver over two pipes, as indiserver does; restarted up to `restarts` times. */
  addExecutable(spec: ExecutableSpec): DriverInfo {
    const dp = this.newDriver('exec', spec.name ?? spec.command, { exec: spec })
    this.startDriver(dp)
    return driverInfo(dp)
  }

  /**
   * Chains a remote INDI server: one device (`device`) or all (device="*" handshake). Reconnects
   * with backoff forever; its devices get delProperty when the link is lost.
   */
  addRemote(spec: RemoteSpec): DriverInfo {
    const name = `${spec.device ?? ''}@${spec.host}:${spec.port ?? 7624}`
    const dp = this.newDriver('remote', name, { remote: spec })
    void this.runRemote(dp)
    return driverInfo(dp)
  }

  /** Attaches a driver that already runs on a Connection (e.g. a driver listening on TCP). Never restarted. */
  addDriverConnection(connection: Connection, options: { name?: string } = {}): DriverInfo {
    const dp = this.newDriver('connection', options.name ?? connection.label, {})
    this.attachDriver(dp, connection)
    return driverInfo(dp)
  }

  /**
   * Stops a driver for good (no restart): closes its stdin, then SIGTERM, then SIGKILL, each after
   * `closeStageMs`. Its devices get delProperty. Accepts the id, the name, or the info object.
   */
  async removeDriver(
    which: number | string | DriverInfo,
    options: { device?: string } = {},
  ): Promise<boolean> {
    const dp = this.findDriver(which, options.device)
    if (!dp) return false
    await this.stopDriver(dp)
    return true
  }

  /** Sends a global `message` (no device) to every client. */
  message(text: string): void {
    this.toClients(
      undefined,
      false,
      '',
      '',
      built({ tag: 'message', timestamp: logTimestamp(), message: text }),
    )
  }

  /**
   * How drivers' BLOB buffers were reused (`reuseBlobBuffers`): buffers handed out again, buffers
   * allocated because none free fitted, and buffers waiting free. Undefined when not reusing.
   */
  blobBufferStats(): { reused: number; allocated: number; free: number } | undefined {
    const p = this.blobPool
    return p && { reused: p.reused, allocated: p.allocated, free: p.freeCount }
  }

  /** Snapshots of the connected clients with their counters. */
  clientStats(): ClientInfo[] {
    return this.clients.map(clientInfo)
  }

  /** Snapshots of the drivers (running, or waiting for a restart) with their counters. */
  driverStats(): DriverInfo[] {
    return this.drivers.map(driverInfo)
  }

  /**
   * Per-peer trace switch: every element read from and queued to that client (by id) or driver
   * (by id, name or info) is logged with scope `indi:server:trace` whatever the verbosity, BLOB
   * payloads elided. Returns false when no such peer is connected.
   */
  setTrace(which: { client: number } | { driver: number | string | DriverInfo }, enabled = true): boolean {
    const peer: Peer | undefined =
      'client' in which ? this.clients.find((c) => c.id === which.client) : this.findDriver(which.driver)
    if (!peer) return false
    peer.traced = enabled
    return true
  }

  /**
   * Graceful shutdown: stops listening, stops every driver (stdin closed, SIGTERM, SIGKILL), flushes
   * and closes clients. `signal` aborts the waiting: everything left is destroyed at once.
   */
  close(options: AbortOptions = {}): Promise<void> {
    this.closePromise ??= this.doClose(options.signal)
    return this.closePromise
  }

  // ---------------------------------------------------------------- OutboxHost

  /** @internal */
  schedule(outbox: Outbox): void {
    this.dirty.push(outbox)
    if (!this.flushQueued) {
      this.flushQueued = true
      // After the current chunk has been routed: every frame of it goes out in one write.
      queueMicrotask(this.flushAll)
    }
  }

  /** @internal */
  congestion(outbox: Outbox, congested: boolean): void {
    const gating = outbox.forClient ? this.clientGating : this.driverGating
    if (congested) {
      outbox.lastProgress = performance.now()
      gating.add(outbox)
      this.armStall(outbox, gating, this.opts.stallTimeoutMs)
    } else {
      this.forgetOutbox(outbox)
    }
  }

  // ---------------------------------------------------------------- clients

  private refuse(connection: Connection): void {
    const text = `This INDI server is full (at most ${this.maxClients} clients); try again later.`
    this.log(0, `Client refused from ${connection.label}: ${this.maxClients} clients already connected`)
    connection.send(buildMessageBytes({ tag: 'message', timestamp: logTimestamp(), message: text }))
    void connection
      .close({ signal: AbortSignal.timeout(this.opts.closeStageMs) })
      .catch(() => connection.destroy())
    this.emit('clientRefused', connection.label)
  }

  private runClient(cp: ClientPeer, conn: Connection, framer: IndiFramer): void {
    // A continuation rather than a second async function: one suspended generator per idle
    // client instead of two (each with its promise and context).
    void this.readLoop(cp, conn, framer, true).then((err) => {
      if (cp.dropping) return
      this.log(1, err ? `Client ${cp.id}: ${err.message}` : `Client ${cp.id}: read EOF`)
      this.dropClient(cp, undefined)
    })
  }

  private dropClient(cp: ClientPeer, reason: Error | undefined): void {
    if (cp.dropping) return
    cp.dropping = true
    this.clients = this.clients.filter((c) => c !== cp)
    const info = clientInfo(cp)
    const outbox = cp.outbox
    const conn = cp.connection
    if (outbox) {
      this.forgetOutbox(outbox)
      outbox.close()
    }
    if (conn) {
      if (reason) conn.destroy(reason)
      else
        void conn.close({ signal: AbortSignal.timeout(this.opts.closeStageMs) }).catch(() => conn.destroy())
    }
    this.log(1, `Client ${cp.id}: shut down complete - bye!`)
    this.emit('clientClosed', info, reason)
  }

  // ---------------------------------------------------------------- reading

  /** Reads one peer until EOF: one framer pass per chunk, then waits while producers are held back. */
  private async readLoop(
    peer: Peer,
    conn: Connection,
    framer: IndiFramer,
    isClient: boolean,
  ): Promise<Error | undefined> {
    try {
      for await (const chunk of conn) {
        if (isClient) (peer as ClientPeer).lastRead = performance.now()
        // No local for the events: a suspended reader would keep its last frames (and their chunk) alive.
        this.readChunk = chunk.buffer
        this.dispatch(peer, framer.push(chunk), isClient)
        this.readChunk = undefined
        if (!isClient && this.reclaimMemory !== undefined) {
          this.readSinceReclaim += chunk.byteLength
          if (this.readSinceReclaim >= this.reclaimEveryBytes) {
            this.readSinceReclaim = 0
            this.reclaimMemory()
          }
        }
        if (peer.dropping) return undefined
        for (let gate = this.readGate(isClient); gate; gate = this.readGate(isClient)) {
          await gate
          if (peer.dropping) return undefined
        }
      }
      // A peer that disconnects mid-element: the partial element is reported and dropped.
      this.dispatch(peer, framer.end(), isClient)
      return undefined
    } catch (err) {
      return err as Error
    }
  }

  private dispatch(peer: Peer, events: FrameEvent[], isClient: boolean): void {
    // Frames of one read may share a reused BLOB buffer: the router holds it for all of them
    // until the last is routed, so it cannot go back to the pool between two of them.
    const pool = this.blobPool
    let held = false
    if (pool !== undefined && pool.outstanding > 0 && !isClient) held = this.holdFrames(pool, events, true)
    try {
      this.route(peer, events, isClient)
    } finally {
      if (held) this.holdFrames(pool!, events, false)
    }
  }

  /** Takes (or gives back) the router's reference on every frame in a reused buffer. */
  private holdFrames(pool: BlobBufferPool, events: FrameEvent[], hold: boolean): boolean {
    let any = false
    for (let i = 0; i < events.length; i++) {
      const ev = events[i]!
      if (ev.kind !== 'frame') continue
      const bytes = ev.frame.bytes
      if (bytes.buffer.byteLength < pool.minBytes) continue
      if (hold) any = pool.hold(bytes) || any
      else pool.release(bytes)
    }
    return any
  }

  private route(peer: Peer, events: FrameEvent[], isClient: boolean): void {
    const rec = this.recorder
    for (let i = 0; i < events.length; i++) {
      const ev = events[i]!
      if (ev.kind === 'frame') {
        if (rec !== undefined) {
          peer.recordAs ??= this.recordName(peer, isClient)
          rec.recordRaw('in', peer.recordAs, ev.frame.bytes)
        }
        try {
          if (isClient) this.fromClient(peer as ClientPeer, ev.frame)
          else this.fromDriver(peer as DriverPeer, ev.frame)
        } catch (err) {
          // A routing bug must never take the peer (or the server) down: log it and go on.
          this.log(0, `${this.peerName(peer)}: cannot route <${ev.frame.tag}>: ${(err as Error).stack}`)
        }
      } else this.xmlError(peer, ev.error, isClient)
      if (peer.dropping) return
    }
  }

  /** A peer's name in recordings: `client:<label>`, `driver:<name>` or `remote:<host>:<port>`. */
  private recordName(peer: Peer, isClient: boolean): string {
    if (isClient) return `client:${peer.label}`
    const dp = peer as DriverPeer
    return dp.kind === 'remote' ? `remote:${dp.remoteUid}` : `driver:${dp.name}`
  }

  private xmlError(peer: Peer, error: XmlParseError, isClient: boolean): void {
    peer.xmlErrors++
    this.log(0, `${this.peerName(peer)}: XML error: ${error.message} (dropped)`)
    this.emit('warning', error)
    // Only an element over the size limits costs the connection; anything else is dropped and
    // the framer has resynchronised at the next element.
    if (error.code === 'ERR_INDI_XML_TOO_LARGE') {
      if (isClient) this.dropClient(peer as ClientPeer, error)
      else peer.connection?.destroy(error)
    }
  }

  private readGate(isClient: boolean): Promise<void> | undefined {
    if (this.clientGating.size === 0 && (!isClient || this.driverGating.size === 0)) return undefined
    return new Promise((resolve) => this.gateWaiters.push(resolve))
  }

  private releaseGates(): void {
    if (this.gateWaiters.length === 0) return
    const waiters = this.gateWaiters
    this.gateWaiters = []
    for (const w of waiters) w()
  }

  private armStall(outbox: Outbox, gating: Set<Outbox>, ms: number): void {
    outbox.stallTimer = setTimeout(
      () => {
        outbox.stallTimer = undefined
        if (!outbox.congested || outbox.closed) return
        const idle = performance.now() - outbox.lastProgress
        // Still taking bytes: a slow reader keeps holding producers back (backpressure, not buffering).
        if (idle < this.opts.stallTimeoutMs)
          return this.armStall(outbox, gating, this.opts.stallTimeoutMs - idle)
        outbox.stalled = true
        gating.delete(outbox)
        this.log(
          2,
          `${outbox.connection.label}: stalled, ${outbox.behind} bytes behind; no longer holding back readers`,
        )
        this.releaseGates()
      },
      Math.max(1, ms),
    )
    outbox.stallTimer.unref?.()
  }

  private forgetOutbox(outbox: Outbox): void {
    if (outbox.stallTimer !== undefined) clearTimeout(outbox.stallTimer)
    outbox.stallTimer = undefined
    outbox.stalled = false
    outbox.congested = false
    if (this.clientGating.delete(outbox) || this.driverGating.delete(outbox)) this.releaseGates()
  }

  private readonly keepAlive = (): void => {
    const now = performance.now()
    for (const cp of this.clients) {
      if (cp.pingUid !== undefined) {
        if (cp.lastRead > cp.pingSentAt) cp.pingUid = undefined
        else if (now - cp.pingSentAt >= this.pingIntervalMs) {
          this.log(1, `Client ${cp.id}: no answer to keep-alive ping, shutting down`)
          this.dropClient(cp, new IndiError('ERR_INDI_SLOW_PEER', `client ${cp.id} did not answer a ping`))
        }
      } else if (now - cp.lastRead >= this.pingIntervalMs) {
        cp.pingUid = `indi-server/${++this.pingSeq}`
        cp.pingSentAt = now
        cp.outbox?.push(built({ tag: 'pingRequest', uid: cp.pingUid }))
      }
    }
  }

  private readonly flushAll = (): void => {
    this.flushQueued = false
    const dirty = this.dirty
    this.dirty = []
    for (let i = 0; i < dirty.length; i++) dirty[i]!.flush()
  }

  // ---------------------------------------------------------------- routing (protocol reference §2.5)

  private fromClient(cp: ClientPeer, f: RawFrame): void {
    const tag = f.tag
    if (!KNOWN_TAGS.has(tag)) {
      this.unknown(cp, f)
      return
    }
    const dev = f.device ?? ''
    const name = f.name ?? ''
    if (this.verbosity >= 2 || cp.traced) this.trace(`Client ${cp.id}: read`, f, cp.traced)
    cp.interest.note(tag, dev, name)
    if (tag === 'enableBLOB') cp.interest.enableBlob(dev, name, f.text())
    else if (tag === 'pingRequest') {
      this.pong(cp, f)
      return
    } else if (tag === 'pingReply') {
      if (cp.pingUid !== undefined && f.attr('uid') === cp.pingUid) cp.pingUid = undefined
      return
    }
    this.toDrivers(dev, f, undefined)
    const c0 = tag.charCodeAt(0)
    // set* from a chained upstream server reaches local drivers snooping it.
    if (c0 === 115 /* s */) this.toSnoopers(undefined, tag === 'setBLOBVector', dev, name, f)
    // new* is echoed to other interested clients; the echo is never a BLOB for the policy (§2.5.6).
    else if (c0 === 110 /* n */) this.toClients(cp, false, dev, name, f)
  }

  private fromDriver(dp: DriverPeer, f: RawFrame): void {
    const tag = f.tag
    if (!KNOWN_TAGS.has(tag)) {
      this.unknown(dp, f)
      return
    }
    const dev = f.device ?? ''
    if (this.verbosity >= 2 || dp.traced) this.trace(`Driver ${dp.name}: read`, f, dp.traced)
    if (tag === 'getProperties') {
      const name = f.name ?? ''
      // A snoop request: record it, pass it upstream and to the owner so it re-sends its defs.
      if (dp.snoops.add(dev, name)) {
        this.log(1, `Driver ${dp.name}: snooping on ${dev}.${name}`)
        if (!this.snoopers.includes(dp)) this.snoopers = [...this.snoopers, dp]
      }
      this.toUpstream(dp, f)
      this.toDrivers(dev, f, dp)
      return
    }
    if (tag === 'enableBLOB') {
      const sp = dp.snoops.find(dev, f.name ?? '')
      if (sp) sp.blob = crackBlob(f.text(), sp.blob)
      return
    }
    if (dev !== '' && dev !== dp.lastDevice) {
      if (!this.claim(dp, dev)) return
      dp.lastDevice = dev
    }
    if (this.logDir !== undefined) this.logDriverMessage(f, dev)
    if (tag === 'pingRequest') {
      this.pong(dp, f)
      return
    }
    if (tag === 'pingReply') return
    if (dp.link !== undefined) {
      // The remote's `blobs` flag: drop its BLOBs, or answer its BLOB definitions with enableBLOB.
      const verdict = dp.link.incoming(tag, dev, f.name)
      if (verdict === false) return
      if (verdict !== true) {
        if (this.verbosity >= 2 || dp.traced) this.trace(`Driver ${dp.name}: queuing`, verdict, dp.traced)
        dp.outbox?.push(verdict)
      }
    }
    const isBlob = tag === 'setBLOBVector'
    // In place only when nobody else holds the raw bytes: not the read chunk, not a recording.
    const inPlace =
      this.readChunk !== undefined && f.bytes.buffer !== this.readChunk && this.recorder === undefined
    const item = isBlob && this.compactBlobs ? compactBlob(f, inPlace) : f
    // The name is decoded only when some recipient's rules need it (measured: ~8 % of a flood).
    this.toClients(undefined, isBlob, dev, undefined, item)
    if (this.snoopers.length > 0) this.toSnoopers(dp, isBlob, dev, f.name ?? '', item)
  }

  /** indiserver's q2RDrivers: to the owner of `dev`, or to every driver (one per remote server). */
  private toDrivers(dev: string, f: RawFrame, from: DriverPeer | undefined): void {
    const tag = f.tag
    let local: OutItem = f
    let remote: OutItem = f
    if (tag === 'getProperties') [local, remote] = clampGetProperties(f)
    if (dev !== '' && dev !== '*') {
      const dp = this.owners.get(dev)
      if (!dp || dp === from || !dp.running) return
      const isRemote = dp.kind === 'remote'
      // enableBLOB is consumed here and only forwarded over chained links (§1.3).
      if (tag === 'enableBLOB' && !isRemote) return
      this.offerDriver(dp, isRemote ? remote : local)
      return
    }
    let seen: Set<string> | undefined
    for (const dp of this.drivers) {
      if (!dp.running || dp === from) continue
      const uid = dp.remoteUid
      if (uid !== undefined && dev === '') {
        // A generic request reaches each remote server once, or replies would fan out.
        seen ??= new Set()
        if (seen.has(uid)) continue
        seen.add(uid)
      }
      if (tag === 'enableBLOB' && uid === undefined) continue
      this.offerDriver(dp, uid === undefined ? local : remote)
    }
  }

  /** indiserver's q2Clients: every interested client, with BLOB policy, -d and -m. */
  private toClients(
    notme: ClientPeer | undefined,
    isBlob: boolean,
    dev: string,
    name: string | undefined,
    item: OutItem,
  ): void {
    const clients = this.clients
    for (let i = 0; i < clients.length; i++) {
      const cp = clients[i]!
      if (cp === notme) continue
      const it = cp.interest
      // Fast path: an all-devices client and a non-BLOB message need no property name.
      if (!isBlob && (it.allprops >= 1 || dev === '')) {
        if (it.blob === 'Only') continue
      } else {
        name ??= item.name ?? ''
        if (!it.accepts(isBlob, dev, name)) continue
      }
      this.offerClient(cp, item, isBlob)
    }
  }

  /** indiserver's q2Servers: a driver's snoop request to chained upstream servers. */
  private toUpstream(dp: DriverPeer, item: OutItem): void {
    const clients = this.clients
    for (let i = 0; i < clients.length; i++) {
      const cp = clients[i]!
      const it = cp.interest
      // indiserver never resets its "found" flag per client; we test each client on its own.
      if (it.allprops === 2 || (it.allprops === 0 && it.namesAny(dp.devices)))
        this.offerClient(cp, item, false)
    }
  }

  /** indiserver's q2SDrivers: drivers snooping dev/name, by their snoop BLOB policy. */
  private toSnoopers(
    me: DriverPeer | undefined,
    isBlob: boolean,
    dev: string,
    name: string,
    item: OutItem,
  ): void {
    const meUid = me?.remoteUid
    for (const dp of this.snoopers) {
      if (!dp.running || dp === me) continue
      // Remote links on the same server manage their snoops there (indilib 48d7c7a: no echo loops).
      if (meUid !== undefined && dp.remoteUid === meUid) continue
      if (dp.snoops.accepts(isBlob, dev, name)) this.offerDriver(dp, item)
    }
  }

  private offerClient(cp: ClientPeer, item: OutItem, isBlob: boolean): void {
    const o = cp.outbox!
    let behind = o.behind
    if (isBlob && this.streamBytes > 0 && behind > this.streamBytes && isStreamBlob(item.bytes)) {
      o.dropped++
      this.log(2, `Client ${cp.id}: ${behind} bytes behind. Dropping stream BLOB...`)
      return
    }
    if (behind > this.maxBytes) {
      // Conflate first: a client only loses the connection if superseded values were not enough.
      o.compact()
      behind = o.behind
      if (behind > this.maxBytes) {
        this.log(1, `Client ${cp.id}: ${behind} bytes behind, shutting down`)
        const info = clientInfo(cp)
        this.dropClient(cp, new IndiError('ERR_INDI_SLOW_PEER', `client ${cp.id} was ${behind} bytes behind`))
        this.emit('slowClient', info, behind)
        return
      }
    }
    if (this.verbosity >= 2 || cp.traced) this.trace(`Client ${cp.id}: queuing`, item, cp.traced)
    o.push(item)
  }

  private offerDriver(dp: DriverPeer, item: OutItem): void {
    const o = dp.outbox
    if (!o || o.closed) return
    if (dp.link !== undefined && !dp.link.outgoing(item)) return
    if (o.behind > this.maxBytes) {
      o.compact()
      if (o.behind > this.maxBytes) {
        // A driver is never disconnected for being slow; what it cannot take is dropped and counted.
        if (o.dropped++ === 0 || o.dropped % 1000 === 0)
          this.log(0, `Driver ${dp.name}: ${o.behind} bytes behind, dropping messages to it (${o.dropped})`)
        return
      }
    }
    if (this.verbosity >= 2 || dp.traced) this.trace(`Driver ${dp.name}: queuing`, item, dp.traced)
    o.push(item)
  }

  private pong(peer: Peer, f: RawFrame): void {
    // Joins the back of the peer's queue, so it also works as a flush barrier (§1.3).
    peer.outbox?.push(built({ tag: 'pingReply', uid: f.attr('uid') ?? '' }))
  }

  private unknown(peer: Peer, f: RawFrame): void {
    // indiserver broadcasts unknown elements to every driver; libindi drivers then log dispatch
    // errors. Garbage is not passed on: logged and counted as dropped.
    if (peer.outbox) peer.outbox.dropped++
    this.log(1, `${this.peerName(peer)}: unknown element <${f.tag}> dropped`)
  }

  /** A driver announces `dev`; a second peer claiming it is a loop (ERR_INDI_DEVICE_LOOP) and refused. */
  private claim(dp: DriverPeer, dev: string): boolean {
    if (dp.devices.has(dev)) return true
    const owner = this.owners.get(dev)
    if (owner !== undefined && owner !== dp) {
      if (!dp.loopsLogged.has(dev)) {
        dp.loopsLogged.add(dev)
        const err = new IndiError(
          'ERR_INDI_DEVICE_LOOP',
          `Driver ${dp.name}: device "${dev}" is already served by ${owner.name}; refusing its messages`,
        )
        this.log(0, err.message)
        this.emit('warning', err)
      }
      return false
    }
    this.owners.set(dev, dp)
    dp.devices.add(dev)
    this.log(1, `Driver ${dp.name}: serves device "${dev}"`)
    this.emit('device', dev, driverInfo(dp))
    return true
  }

  // ---------------------------------------------------------------- drivers

  private newDriver(kind: DriverKind, name: string, spec: DriverPeer['spec']): DriverPeer {
    if (this.closing) throw new IndiError('ERR_INDI_CLOSED', 'the server is closing')
    const dp = new DriverPeer(++this.nextDriverId, kind, name, spec)
    this.drivers = [...this.drivers, dp]
    return dp
  }

  private findDriver(which: number | string | DriverInfo, device?: string): DriverPeer | undefined {
    if (typeof which === 'object') which = which.id
    for (const dp of this.drivers) {
      if (typeof which === 'number' ? dp.id !== which : dp.name !== which) continue
      if (device !== undefined && !dp.devices.has(device)) continue
      return dp
    }
    return undefined
  }

  private startDriver(dp: DriverPeer): void {
    dp.restartTimer = undefined
    if (this.closing || dp.removed) return
    if (dp.kind === 'inproc') {
      const [server, driverEnd] = connectionPair({ labels: [`server:${dp.name}`, `inproc:${dp.name}`] })
      const abort = new AbortController()
      dp.abort = abort
      dp.runPromise = Promise.resolve()
        .then(() => dp.spec.driver!.run({ connection: driverEnd, signal: abort.signal }))
        .then(
          () => driverEnd.destroy(),
          (err: Error) => {
            if (!abort.signal.aborted) this.log(0, `Driver ${dp.name}: ${err?.stack ?? err}`)
            driverEnd.destroy(err)
          },
        )
      this.attachDriver(dp, server)
    } else if (dp.kind === 'exec') {
      const spec = dp.spec.exec!
      if (spec.binary && loadedIndiMsgpack() === undefined) {
        // Loaded on first use (indi-msgpack/lazy); the driver starts once it is there.
        loadIndiMsgpack().then(
          () => this.startDriver(dp),
          (err: Error) => {
            this.log(0, `Driver ${dp.name}: ${err.message}`)
            this.afterDeath(dp)
          },
        )
        return
      }
      let proc: ReturnType<typeof spawnDriver>
      try {
        const env = { ...process.env, ...spec.env } as Record<string, string>
        // Set for binary drivers only, and never inherited by the others (an indi-ts driver
        // started by a binary driver, or by a server that is itself one, must speak XML).
        if (spec.binary) env.INDI_TS_BINARY = '1'
        else delete env.INDI_TS_BINARY
        proc = spawnDriver(spec.command, [...(spec.args ?? [])], {
          env,
          ...(spec.cwd !== undefined ? { cwd: spec.cwd } : {}),
          label: dp.name,
          onStderrLine: (line: string) =>
            this.log(0, `Driver ${dp.name}: ${line}`, 'indi:server:driver', {
              driver: dp.name,
              stderr: line,
            }),
        })
      } catch (err) {
        this.log(0, `Driver ${dp.name}: ${(err as Error).message}`)
        this.emit(
          'warning',
          IndiError.is(err) ? err : new IndiError('ERR_INDI_SPAWN', String(err), { cause: err }),
        )
        this.afterDeath(dp)
        return
      }
      dp.process = proc
      this.attachDriver(
        dp,
        spec.binary
          ? loadedIndiMsgpack()!.binaryAsXml(proc.connection, this.bridgeOptions(dp.name))
          : proc.connection,
      )
      this.log(1, `Driver ${dp.name}: pid=${proc.pid}`)
    }
    // Every local driver is asked for its properties at once: that is how it announces devices (§0.5).
    dp.outbox?.push(built({ tag: 'getProperties', version: '1.7' }))
  }

  private attachDriver(dp: DriverPeer, conn: Connection): void {
    dp.connection = conn
    const framer = new IndiFramer(this.limits, this.blobPool ? { blobBuffers: this.blobPool } : {})
    dp.framer = framer
    dp.outbox = new Outbox(conn, this, this.driverLimits, false, this.blobPool)
    dp.devices = new Set()
    dp.snoops = new SnoopTable()
    dp.lastDevice = undefined
    dp.loopsLogged.clear()
    dp.dropping = false
    dp.running = true
    const device = dp.spec.remote?.device
    // A `Device@host` link serves that device before it has said anything.
    if (device !== undefined && device !== '') this.claim(dp, device)
    this.emit('driverStarted', driverInfo(dp))
    if (dp.kind !== 'remote') {
      dp.loopDone = this.readLoop(dp, conn, framer, false).then((err) => this.driverEnded(dp, conn, err))
    }
  }

  /** The driver's connection is gone: delProperty for its devices, then restart or forget it. */
  private detachDriver(dp: DriverPeer, conn: Connection, err: Error | undefined): void {
    if (dp.connection !== conn) return
    dp.running = false
    dp.dropping = true
    if (err) this.log(1, `Driver ${dp.name}: ${err.message}`)
    const outbox = dp.outbox
    if (outbox) {
      this.forgetOutbox(outbox)
      outbox.close()
    }
    conn.destroy()
    this.snoopers = this.snoopers.filter((d) => d !== dp)
    for (const dev of dp.devices) {
      if (this.owners.get(dev) === dp) this.owners.delete(dev)
      const del = built({ tag: 'delProperty', device: dev })
      this.log(1, `Driver ${dp.name}: <delProperty device="${dev}"/>`)
      this.toClients(undefined, false, dev, '', del)
      this.toSnoopers(dp, false, dev, '', del)
    }
    dp.devices = new Set()
  }

  private async driverEnded(dp: DriverPeer, conn: Connection, err: Error | undefined): Promise<void> {
    this.detachDriver(dp, conn, err)
    let status: { code: number | null; signal: string | null } = { code: null, signal: null }
    const proc = dp.process
    if (dp.kind === 'exec' && proc) {
      // indiserver kills a driver whose stdout ended; give it a moment to exit by itself first.
      const exited = await within(proc.exited, this.opts.closeStageMs)
      if (!exited) proc.kill('SIGKILL')
      status = await proc.exited
      this.log(
        0,
        status.signal
          ? `Driver ${dp.name}: process ${proc.pid} killed with signal ${status.signal}`
          : `Driver ${dp.name}: process ${proc.pid} exited with status ${status.code}`,
      )
    } else if (dp.kind === 'inproc') {
      dp.abort?.abort()
      await within(dp.runPromise ?? Promise.resolve(), this.opts.closeStageMs)
    }
    this.emit('driverExited', driverInfo(dp), status)
    this.afterDeath(dp)
  }

  private afterDeath(dp: DriverPeer): void {
    if (dp.removed || this.closing || dp.kind === 'connection') {
      this.forgetDriver(dp)
      return
    }
    if (dp.restarts < this.maxRestarts) {
      const n = dp.restarts++
      const delay = Math.min(this.opts.restartMaxDelayMs, this.opts.restartMinDelayMs * 2 ** n)
      this.log(0, `Driver ${dp.name}: restart #${n}`)
      dp.restartTimer = setTimeout(() => this.startDriver(dp), delay)
      return
    }
    this.log(0, `Driver ${dp.name}: Terminated after #${dp.restarts} restarts.`)
    this.forgetDriver(dp)
  }

  private forgetDriver(dp: DriverPeer): void {
    dp.removed = true
    if (!this.drivers.includes(dp)) return
    this.drivers = this.drivers.filter((d) => d !== dp)
    this.emit('driverRemoved', driverInfo(dp))
    if (this.drivers.length === 0 && !this.closing) this.emit('idle')
  }

  private async runRemote(dp: DriverPeer): Promise<void> {
    const r = dp.spec.remote!
    const port = r.port ?? 7624
    const abort = new AbortController()
    dp.abort = abort
    dp.link = new RemoteLink(r.blobs)
    let done!: () => void
    dp.loopDone = new Promise((resolve) => {
      done = resolve
    })
    try {
      while (!dp.removed && !this.closing) {
        let conn: Connection
        try {
          conn = await connectTcpWithRetry({
            host: r.host,
            port,
            signal: abort.signal,
            minDelayMs: this.opts.remoteMinDelayMs,
            maxDelayMs: this.opts.remoteMaxDelayMs,
            onAttempt: (attempt, error) => {
              this.log(
                attempt === 1 ? 1 : 2,
                `Driver ${dp.name}: ${r.host}:${port}: ${error.message}; retrying`,
                'indi:server:remote',
                { remote: dp.name, attempt },
              )
              this.remoteState(dp, 'disconnected', error)
            },
          })
        } catch (err) {
          if (!abort.signal.aborted) this.log(0, `Driver ${dp.name}: ${(err as Error).message}`)
          break
        }
        if (dp.removed || this.closing) {
          conn.destroy()
          break
        }
        if (r.binary) conn = (await loadIndiMsgpack()).binaryAsXml(conn, this.bridgeOptions(dp.name))
        this.log(1, `Driver ${dp.name}: connected to ${r.host}:${port}`, 'indi:server:remote', {
          remote: dp.name,
        })
        this.attachDriver(dp, conn)
        // The chaining handshake (§2.4): one device, or "*" which marks us as an upstream server.
        dp.outbox?.push(built({ tag: 'getProperties', version: '1.7', device: r.device || '*' }))
        // The remote forgot our clients' enableBLOBs with the old connection: ask again.
        for (const item of dp.link.replay()) dp.outbox?.push(item)
        this.remoteState(dp, 'connected')
        const err = await this.readLoop(dp, conn, dp.framer!, false)
        this.log(
          0,
          `Driver ${dp.name}: lost connection to ${r.host}:${port}${err ? `: ${err.message}` : ''}`,
          'indi:server:remote',
          { remote: dp.name },
        )
        this.detachDriver(dp, conn, err)
        this.emit('driverExited', driverInfo(dp), { code: null, signal: null })
        this.remoteState(
          dp,
          'disconnected',
          err ?? new IndiError('ERR_INDI_CONNECTION_RESET', 'remote closed'),
        )
      }
    } finally {
      this.remoteState(dp, 'stopped')
      this.forgetDriver(dp)
      done()
    }
  }

  /** One `remoteStatus` event (and, if asked, one client message) per state change of a remote link. */
  private remoteState(dp: DriverPeer, next: RemoteState, error?: Error): void {
    const link = dp.link!
    const previous = link.state
    if (!link.transition(next, error)) return
    const r = dp.spec.remote!
    const why = next === 'disconnected' && link.error ? `: ${link.error.message}` : ''
    const text = `Remote ${dp.name} ${next}${why}`
    this.log(next === 'disconnected' ? 0 : 1, text, 'indi:server:remote', {
      remote: dp.name,
      state: next,
      previous,
    })
    this.emit('remoteStatus', {
      name: dp.name,
      host: r.host,
      port: r.port ?? 7624,
      device: r.device,
      state: next,
      previous,
      error: link.error,
      attempts: link.attempts,
    })
    if (r.statusMessages && next !== 'stopped' && !this.closing) this.message(text)
  }

  private async stopDriver(dp: DriverPeer): Promise<void> {
    dp.removed = true
    if (dp.restartTimer !== undefined) {
      clearTimeout(dp.restartTimer)
      dp.restartTimer = undefined
      this.forgetDriver(dp)
      return
    }
    const conn = dp.connection
    const stage = this.opts.closeStageMs
    if (dp.kind === 'exec' && dp.process && dp.running) {
      const proc = dp.process
      // Graceful: EOF on stdin (libindi drivers exit on it), then SIGTERM, then SIGKILL.
      await within(
        conn?.end({ signal: AbortSignal.timeout(stage) }).catch(() => undefined) ?? Promise.resolve(),
        stage,
      )
      if (!(await within(proc.exited, stage))) {
        proc.kill('SIGTERM')
        if (!(await within(proc.exited, stage))) proc.kill('SIGKILL')
      }
    } else if (dp.kind === 'inproc') {
      dp.abort?.abort()
      await within(dp.runPromise ?? Promise.resolve(), stage)
      conn?.destroy()
    } else {
      dp.abort?.abort()
      conn?.destroy()
    }
    await dp.loopDone
    this.forgetDriver(dp)
  }

  // ---------------------------------------------------------------- shutdown

  private async doClose(signal: AbortSignal | undefined): Promise<void> {
    this.closing = true
    if (this.pingTimer !== undefined) clearInterval(this.pingTimer)
    const onAbort = (): void => {
      for (const dp of this.drivers) {
        dp.process?.kill('SIGKILL')
        dp.connection?.destroy()
      }
      for (const cp of this.clients) cp.connection?.destroy()
    }
    for (const conn of this.sniffing) conn.destroy()
    this.sniffing.clear()
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      // Not awaited yet: a net.Server only finishes closing once every client has gone.
      const listenerClosed = this.listener?.close()
      await Promise.all(this.drivers.map((dp) => this.stopDriver(dp)))
      const clients = this.clients
      this.clients = []
      await Promise.all(
        clients.map(async (cp) => {
          cp.dropping = true
          const conn = cp.connection!
          cp.outbox?.flush()
          await conn
            .close({ signal: AbortSignal.timeout(this.opts.closeStageMs) })
            .catch(() => conn.destroy())
        }),
      )
      const streams = [...this.logStreams.values()]
      this.logStreams.clear()
      await Promise.all(streams.map((s) => new Promise<void>((resolve) => s.end(resolve))))
      this.releaseGates()
      await listenerClosed
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
  }

  // ---------------------------------------------------------------- logging

  private log(
    level: LogLevel,
    text: string,
    scope = 'indi:server',
    fields?: Readonly<Record<string, unknown>>,
  ): void {
    if (level <= this.verbosity)
      this.logger(
        fields ? { level, text, time: new Date(), scope, fields } : { level, text, time: new Date(), scope },
      )
  }

  private trace(what: string, item: OutItem, forced = false): void {
    if (forced) {
      // A traced peer: full XML (BLOB payloads elided) whatever the verbosity.
      const fields = {
        peer: what,
        tag: item.tag,
        device: item.device,
        name: item.name,
        bytes: item.bytes.byteLength,
      }
      this.logger({
        level: 3,
        text: `${what} ${traceText(item)}`,
        time: new Date(),
        scope: 'indi:server:trace',
        fields,
      })
    } else if (this.verbosity >= 3) {
      const b = item.bytes
      // BLOB payloads are never logged whole: the head of the element and its size only.
      const text =
        item.tag.endsWith('BLOBVector') && b.byteLength > 512
          ? `${Buffer.from(b.buffer, b.byteOffset, 512).toString('utf8')}… (${b.byteLength} bytes)`
          : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8')
      this.log(3, `${what} ${text}`)
    } else this.log(2, `${what} <${item.tag} device='${item.device ?? ''}' name='${item.name ?? ''}'>`)
  }

  private peerName(peer: Peer): string {
    return peer instanceof ClientPeer ? `Client ${peer.id}` : peer.label
  }

  /** `-l`: `<timestamp>: <device>: <message>` into `<dir>/<YYYY-MM-DD>.islog` (§2.14). */
  private logDriverMessage(f: RawFrame, dev: string): void {
    const text = f.attr('message')
    if (text === undefined || text === '') return
    let ts = f.attr('timestamp') ?? ''
    if (!/^\d{4}-\d\d-\d\dT/.test(ts)) ts = logTimestamp()
    const day = ts.slice(0, 10)
    let stream = this.logStreams.get(day)
    if (!stream) {
      mkdirSync(this.logDir!, { recursive: true })
      stream = createWriteStream(join(this.logDir!, `${day}.islog`), { flags: 'a' })
      stream.on('error', (err) => this.log(0, `log file: ${err.message}`))
      this.logStreams.set(day, stream)
    }
    stream.write(`${ts}: ${dev}: ${text}\n`)
  }
}

/** A message the server makes itself, in the shape outboxes hold. */
function built(msg: IndiMessage): OutItem {
  const m = msg as { device?: string; name?: string }
  return { tag: msg.tag, device: m.device, name: m.name, bytes: buildMessageBytes(msg) }
}

/**
 * §0.1: a libindi driver exits on a getProperties without version or above 1.7. Returns what to
 * send to local drivers and to remote servers: the original bytes when already plain 1.7, else a
 * rebuilt `version="1.7"` (INDIGO's `switch` dropped). `device="*"` only means something to servers.
 */
function clampGetProperties(f: RawFrame): [OutItem, OutItem] {
  const plain = f.attr('version') === '1.7' && f.attr('switch') === undefined
  const dev = f.device
  const remote: OutItem = plain
    ? f
    : built({
        tag: 'getProperties',
        version: '1.7',
        ...(dev !== undefined ? { device: dev } : {}),
        ...(f.name !== undefined ? { name: f.name } : {}),
      })
  if (dev === '*') return [built({ tag: 'getProperties', version: '1.7' }), remote]
  return [remote, remote]
}

function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms)
    p.then(
      () => {
        clearTimeout(t)
        resolve(true)
      },
      () => {
        clearTimeout(t)
        resolve(true)
      },
    )
  })
}

function clientInfo(cp: ClientPeer): ClientInfo {
  const o = cp.outbox
  return {
    id: cp.id,
    label: cp.label,
    delivered: o?.delivered ?? 0,
    conflated: o?.conflated ?? 0,
    dropped: o?.dropped ?? 0,
    behind: o && !o.closed ? o.behind : 0,
    queuedMessages: o?.queuedMessages ?? 0,
  }
}

function driverInfo(dp: DriverPeer): DriverInfo {
  const o = dp.outbox
  return {
    id: dp.id,
    name: dp.name,
    kind: dp.kind,
    running: dp.running,
    restarts: dp.restarts,
    devices: [...dp.devices],
    snoops: dp.snoops.entries.map((e) => `${e.dev}.${e.name}`),
    pid: dp.process?.pid,
    delivered: o?.delivered ?? 0,
    conflated: o?.conflated ?? 0,
    // A remote's `blobs: false` drops count too: both directions, over every connection.
    dropped: (o?.dropped ?? 0) + (dp.link?.dropped ?? 0),
  }
}

/** An element for a trace line: whole, or for a big BLOB element its head and size only. */
function traceText(item: OutItem): string {
  const b = item.bytes
  return item.tag.endsWith('BLOBVector') && b.byteLength > 512
    ? `${Buffer.from(b.buffer, b.byteOffset, 512).toString('utf8')}… (${b.byteLength} bytes)`
    : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8')
}
