import {
  buildMessageBytes,
  type DefVector,
  IndiFramer,
  type IndiMessage,
  IndiParser,
  type RawFrame,
} from '@indi-ts/indi-xml'
import { type Connection, connectionPair } from '@indi-ts/transport'
import type { Msg, NatsConnection, Subscription } from 'nats'
import { publishChunked, Reassembler } from './chunks.js'
import type { BridgeContext } from './context.js'

/** Counters of the export side. */
export interface ExportStats {
  /** Devices exported now. */
  devices: string[]
  /** NATS messages published (chunks count one each), and their payload bytes. */
  published: number
  publishedBytes: number
  /** setBLOBVector messages published (each possibly in several chunks). */
  blobs: number
  /** Messages not published because NATS was down (the local server keeps serving). */
  dropped: number
  /** new*Vector commands from other sites handed to the local server. */
  commands: number
  /** Commands refused: device not exported here, or not one new*Vector element. */
  refused: number
  /** Definition requests answered. */
  requests: number
  /** Chunked commands lost or failing verification. */
  chunksLost: number
}

interface PropState {
  def: Uint8Array
  set: Uint8Array | undefined
}

/** Bytes published between two flushes (a round trip to the NATS server) at most: bounds nats.js's buffer. */
const FLUSH_EVERY = 8 * 1024 * 1024

/**
 * The export side: a client of the local server (all devices, BLOBs enabled per exported BLOB
 * property) that publishes what exported devices send, answers definition requests from its cache
 * of current def*+set*, and injects commands from other sites.
 * @internal
 */
export class Exporter {
  /** Give this end to `server.addClient()`. */
  readonly serverEnd: Connection
  private readonly end: Connection
  private readonly framer = new IndiFramer()
  private readonly cmdFramer = new IndiFramer()
  private readonly cache = new Map<string, Map<string, PropState>>()
  private readonly blobEnabled = new Set<string>()
  private readonly subs: Subscription[] = []
  private readonly reassembler: Reassembler
  private helloTimer: ReturnType<typeof setInterval> | undefined
  private helloQueued = false
  private sinceFlush = 0
  private closed = false
  readonly stats: ExportStats = {
    devices: [],
    published: 0,
    publishedBytes: 0,
    blobs: 0,
    dropped: 0,
    commands: 0,
    refused: 0,
    requests: 0,
    chunksLost: 0,
  }

  constructor(
    private readonly ctx: BridgeContext,
    private readonly exports: (device: string) => boolean,
  ) {
    ;[this.serverEnd, this.end] = connectionPair({
      labels: ['nats-export', `nats-export:${ctx.site}`],
      highWaterMark: 1024 * 1024,
    })
    this.reassembler = new Reassembler(16, 512 * 1024 * 1024, (why, subject) => {
      this.stats.chunksLost++
      ctx.log(1, `NATS: command on ${subject} lost (${why})`)
    })
  }

  /** Asks the local server for every device and starts reading. */
  start(): void {
    // A bare getProperties first, so the server treats us as an all-devices client (§2.6).
    this.end.send(buildMessageBytes({ tag: 'getProperties', version: '1.7' }))
    void this.readLoop()
  }

  /** Devices exported now: seen locally, matching the patterns, not imported. */
  devices(): string[] {
    return [...this.cache.keys()].filter((d) => this.exportable(d))
  }

  private exportable(dev: string): boolean {
    return this.exports(dev) && !this.ctx.imported.has(dev)
  }

  /** A (new) NATS connection: subscribe to commands, requests and discovery; say hello. */
  onConnected(nc: NatsConnection): void {
    const s = this.ctx.subjects
    this.subs.push(
      nc.subscribe(s.commands(this.ctx.site), { callback: (err, msg) => err || this.onCommand(msg) }),
      nc.subscribe(s.requests(this.ctx.site), { callback: (err, msg) => err || this.onRequest(nc, msg) }),
      nc.subscribe(s.discover(), { callback: (err) => err || this.hello() }),
    )
    this.reassembler.clear()
    this.hello()
    if (this.helloTimer === undefined) {
      this.helloTimer = setInterval(() => this.hello(), this.ctx.heartbeatMs)
      this.helloTimer.unref?.()
    }
  }

  /** nats.js reconnected (it restores subscriptions itself): say hello at once. */
  onReconnected(): void {
    this.reassembler.clear()
    this.hello()
  }

  /** Says goodbye (an empty hello: importers delete our devices at once) and stops. */
  close(): void {
    if (this.closed) return
    this.closed = true
    if (this.helloTimer !== undefined) clearInterval(this.helloTimer)
    this.hello(true)
    for (const s of this.subs.splice(0)) s.unsubscribe()
    this.end.destroy()
  }

  /** Publishes presence: the exported devices, our instance and heartbeat period. */
  hello(bye = false): void {
    this.helloQueued = false
    const nc = this.ctx.connection()
    const devices = bye ? [] : this.devices()
    this.stats.devices = devices
    if (!nc) return
    const body = JSON.stringify({
      v: 1,
      site: this.ctx.site,
      instance: this.ctx.instance,
      hb: this.ctx.heartbeatMs,
      devices,
    })
    this.publish(nc, this.ctx.subjects.of(this.ctx.site, undefined, undefined, 'hello'), Buffer.from(body))
  }

  private helloSoon(): void {
    if (this.helloQueued) return
    this.helloQueued = true
    // One hello for a whole batch of new definitions.
    setTimeout(() => this.hello(), 0).unref?.()
  }

  private async readLoop(): Promise<void> {
    try {
      for await (const chunk of this.end) {
        for (const ev of this.framer.push(chunk)) {
          if (ev.kind === 'frame') this.fromServer(ev.frame)
          else this.ctx.log(1, `NATS export: ${ev.error.message}`)
        }
        // Bound what nats.js buffers: wait for the NATS server to have taken it. While we wait the
        // local server holds this client back, then conflates it (its counters show it).
        const nc = this.ctx.connection()
        if (nc && this.sinceFlush >= FLUSH_EVERY) {
          this.sinceFlush = 0
          await Promise.race([nc.flush(), new Promise((r) => setTimeout(r, 5000).unref?.())]).catch(
            () => undefined,
          )
        }
      }
    } catch (err) {
      if (!this.closed) this.ctx.log(0, `NATS export: local server link: ${(err as Error).message}`)
    }
  }

  private fromServer(f: RawFrame): void {
    const tag = f.tag
    if (tag === 'pingRequest') {
      this.end.send(buildMessageBytes({ tag: 'pingReply', uid: f.attr('uid') ?? '' }))
      return
    }
    const dev = f.device
    if (dev === undefined || dev === '' || this.ctx.imported.has(dev)) return
    const name = f.name
    const s = this.ctx.subjects
    const site = this.ctx.site
    const c0 = tag.charCodeAt(0)
    if (c0 === 100 /* d */) {
      this.ctx.local.add(dev)
      if (!this.exports(dev) || name === undefined) return
      let props = this.cache.get(dev)
      if (!props) {
        props = new Map()
        this.cache.set(dev, props)
        this.helloSoon()
      }
      const bytes = f.bytes.slice()
      props.set(name, { def: bytes, set: undefined })
      if (tag === 'defBLOBVector' && !this.blobEnabled.has(`${dev}\0${name}`)) {
        // Per property, so the server sends us BLOBs of exported devices only (§2.7).
        this.blobEnabled.add(`${dev}\0${name}`)
        this.end.send(buildMessageBytes({ tag: 'enableBLOB', device: dev, name, policy: 'Also' }))
      }
      this.send(s.of(site, dev, name, 'def'), bytes)
    } else if (c0 === 115 /* s */) {
      if (!this.exports(dev) || name === undefined) return
      if (tag === 'setBLOBVector') {
        this.stats.blobs++
        this.send(s.of(site, dev, name, 'blob'), f.bytes)
        return
      }
      const bytes = f.bytes.slice()
      const p = this.cache.get(dev)?.get(name)
      if (p) p.set = bytes
      this.send(s.of(site, dev, name, 'set'), bytes)
    } else if (tag === 'delProperty') {
      if (name === undefined || name === '') {
        this.ctx.local.delete(dev)
        if (this.cache.delete(dev)) this.helloSoon()
      } else {
        const props = this.cache.get(dev)
        props?.delete(name)
        this.blobEnabled.delete(`${dev}\0${name}`)
      }
      if (this.exports(dev)) this.send(s.of(site, dev, name, 'del'), f.bytes)
    } else if (tag === 'message') {
      if (this.exports(dev)) this.send(s.of(site, dev, undefined, 'msg'), f.bytes)
    }
    // new*Vector echoes of local clients' commands stay local.
  }

  private send(subject: string, bytes: Uint8Array): void {
    const nc = this.ctx.connection()
    if (!nc) {
      this.stats.dropped++
      return
    }
    this.publish(nc, subject, bytes)
  }

  private publish(nc: NatsConnection, subject: string, bytes: Uint8Array, reply?: string): void {
    try {
      this.stats.published += publishChunked(nc, subject, bytes, this.ctx.maxPayload(), reply)
      this.stats.publishedBytes += bytes.byteLength
      this.sinceFlush += bytes.byteLength
    } catch (err) {
      // Closed or draining connection: the message is lost, counted, and never throws into routing.
      this.stats.dropped++
      this.ctx.log(2, `NATS export: publish ${subject}: ${(err as Error).message}`)
    }
  }

  /** A definition request: reply with every current def*, each followed by its latest set*. */
  private onRequest(nc: NatsConnection, msg: Msg): void {
    if (!msg.reply) return
    const dev = this.ctx.subjects.parse(msg.subject)?.device
    const props = dev !== undefined && this.exportable(dev) ? this.cache.get(dev) : undefined
    const parts: Uint8Array[] = []
    if (props) {
      for (const p of props.values()) {
        if (p.set) {
          // As a driver answers getProperties: definitions carrying the current values (clients
          // such as indi_getprop print what the def says and ignore a set right after it).
          p.def = mergeDef(p.def, p.set)
          p.set = undefined
        }
        parts.push(p.def)
      }
    }
    this.stats.requests++
    // An empty reply means "not here (any more)": the importer deletes the device.
    this.publish(nc, msg.reply, Buffer.concat(parts), undefined)
  }

  /** A command from another site: exactly one new*Vector for an exported device, injected as a client's. */
  private onCommand(msg: Msg): void {
    const data = this.reassembler.push(msg)
    if (data === undefined) return
    const dev = this.ctx.subjects.parse(msg.subject)?.device
    const events = this.cmdFramer.push(data)
    const ev = events[0]
    if (
      dev === undefined ||
      !this.exportable(dev) ||
      !this.cache.has(dev) ||
      events.length !== 1 ||
      ev?.kind !== 'frame' ||
      !ev.frame.tag.startsWith('new') ||
      ev.frame.device !== dev
    ) {
      this.stats.refused++
      this.ctx.log(1, `NATS export: refused a command on ${msg.subject}`)
      return
    }
    this.stats.commands++
    this.end.send(ev.frame.bytes)
  }
}

function parseOne(bytes: Uint8Array): IndiMessage | undefined {
  const events = new IndiParser().push(bytes)
  const ev = events[0]
  return events.length === 1 && ev?.kind === 'message' ? ev.message : undefined
}

/**
 * The definition `def` updated by the later `set` (member values, state, timeout, timestamp, number
 * ranges), rebuilt as XML. The set's `message` is not carried: it was shown once already. When either
 * does not parse, returns `def` followed by `set` (what was received, in order).
 */
export function mergeDef(def: Uint8Array, set: Uint8Array): Uint8Array {
  const d = parseOne(def) as DefVector | undefined
  const u = parseOne(set)
  if (!d || !u || !d.tag.startsWith('def') || !u.tag.startsWith('set') || d.tag.slice(3) !== u.tag.slice(3))
    return Buffer.concat([def, set])
  const upd = u as Extract<IndiMessage, { tag: 'setNumberVector' }>
  const merged = { ...d, members: d.members.map((m) => ({ ...m })) } as DefVector & { timeout?: string }
  if (upd.state !== undefined) merged.state = upd.state
  if (upd.timestamp !== undefined) merged.timestamp = upd.timestamp
  if (upd.timeout !== undefined && 'perm' in merged) merged.timeout = upd.timeout
  delete merged.message
  const byName = new Map<string, Record<string, unknown>>()
  for (const m of merged.members) byName.set(m.name, m as unknown as Record<string, unknown>)
  for (const one of upd.members) {
    const m = byName.get(one.name)
    if (!m) continue
    m.value = one.value
    if (one.min !== undefined) m.min = one.min
    if (one.max !== undefined) m.max = one.max
    if (one.step !== undefined) m.step = one.step
  }
  return buildMessageBytes(merged)
}
