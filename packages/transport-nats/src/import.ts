import { buildMessageBytes, IndiFramer, type RawFrame } from '@indi-ts/indi-xml'
import { type Connection, connectionPair } from '@indi-ts/transport'
import { createInbox, type Msg, type NatsConnection, type Subscription } from 'nats'
import { publishChunked, Reassembler } from './chunks.js'
import type { BridgeContext } from './context.js'
import { ImportOutbox, type OutboxStats } from './outbox.js'

/** Counters of the import side. */
export interface ImportStats extends OutboxStats {
  /** Devices imported now, with the site serving each. */
  devices: { device: string; site: string; subscribed: boolean; defined: boolean }[]
  /** Sites heard from (hello) and not lost since. */
  sites: string[]
  /** NATS messages received on device subjects, and their bytes. */
  received: number
  receivedBytes: number
  /** Commands (new*Vector) sent to owning sites. */
  commands: number
  /** Commands that could not be sent (NATS down, device gone). */
  commandsLost: number
  /** Definition requests sent, those awaiting an answer now, and those that got none in time. */
  fetches: number
  fetchesInFlight: number
  fetchTimeouts: number
  /** Updates dropped because a definition request in flight will answer with newer state. */
  superseded: number
  /** Chunked BLOBs lost in transit or failing verification (size or SHA-256). */
  chunksLost: number
  /** Sites declared gone: no heartbeat for three periods, or NATS down. */
  sitesLost: number
}

interface SiteState {
  instance: string
  lastSeen: number
  hb: number
  devices: Set<string>
}

interface Imported {
  readonly site: string
  sub: Subscription | undefined
  /** A def* has reached the server since the last device-wide delProperty. */
  defined: boolean
  /** Definition requests in flight for the whole device, and per property. */
  fetchAll: number
  readonly fetchNames: Map<string, number>
  /** BLOBs that arrived during a whole-device fetch, delivered after its definitions. */
  readonly heldBlobs: Map<string, Uint8Array>
  /** A fetch failed: try again on the next hello. */
  stale: boolean
}

interface Fetch {
  readonly device: string
  readonly name: string | undefined
  readonly timer: ReturnType<typeof setTimeout>
}

/**
 * The import side: a driver link of the local server. It learns from hellos which devices other
 * sites export, claims them with their definitions (fetched by request), subscribes to a device's
 * subjects only once a local client or driver asked for it, and publishes commands to the owner.
 * @internal
 */
export class Importer {
  /** Give this end to `server.addDriverConnection()`. */
  readonly serverEnd: Connection
  private readonly end: Connection
  private readonly framer = new IndiFramer()
  private readonly replyFramer = new IndiFramer()
  private readonly outbox: ImportOutbox
  private readonly sites = new Map<string, SiteState>()
  private readonly devices = new Map<string, Imported>()
  private readonly fetches = new Map<string, Fetch>()
  private readonly warned = new Set<string>()
  private readonly reassembler: Reassembler
  private readonly replies: Reassembler
  private wantAll = false
  private readonly interested = new Set<string>()
  private subs: Subscription[] = []
  private inbox = ''
  private fetchSeq = 0
  private watchdog: ReturnType<typeof setInterval> | undefined
  private closed = false
  private readonly counters = {
    received: 0,
    receivedBytes: 0,
    commands: 0,
    commandsLost: 0,
    fetches: 0,
    fetchTimeouts: 0,
    superseded: 0,
    chunksLost: 0,
    sitesLost: 0,
  }

  constructor(
    private readonly ctx: BridgeContext,
    private readonly imports: (device: string) => boolean,
    options: { highWaterMark: number; maxBacklogBytes: number; requestTimeoutMs: number },
  ) {
    ;[this.serverEnd, this.end] = connectionPair({
      labels: ['nats-import', `nats-import:${ctx.site}`],
      highWaterMark: options.highWaterMark,
    })
    this.requestTimeoutMs = options.requestTimeoutMs
    this.outbox = new ImportOutbox(this.end, options.maxBacklogBytes)
    const lost = (what: string) => (why: string, subject: string) => {
      this.counters.chunksLost++
      ctx.log(1, `NATS import: ${what} on ${subject} lost (${why})`)
    }
    this.reassembler = new Reassembler(16, 512 * 1024 * 1024, lost('BLOB'))
    this.replies = new Reassembler(16, 512 * 1024 * 1024, lost('definitions'))
  }
  private readonly requestTimeoutMs: number

  get stats(): ImportStats {
    return {
      ...this.outbox.stats,
      ...this.counters,
      fetchesInFlight: this.fetches.size,
      devices: [...this.devices].map(([device, d]) => ({
        device,
        site: d.site,
        subscribed: d.sub !== undefined,
        defined: d.defined,
      })),
      sites: [...this.sites.keys()],
    }
  }

  /** Starts reading what the local server sends to this driver link. */
  start(): void {
    void this.readLoop()
    this.watchdog = setInterval(() => this.checkHeartbeats(), Math.max(50, this.ctx.heartbeatMs / 2))
    this.watchdog.unref?.()
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    if (this.watchdog !== undefined) clearInterval(this.watchdog)
    for (const f of this.fetches.values()) clearTimeout(f.timer)
    this.fetches.clear()
    for (const s of this.subs.splice(0)) s.unsubscribe()
    for (const d of this.devices.values()) d.sub?.unsubscribe()
    // The server sends delProperty for every device of this link when it ends.
    this.end.destroy()
  }

  /** A (new) NATS connection: listen for hellos and replies, then ask every exporter to say hello. */
  onConnected(nc: NatsConnection): void {
    this.inbox = createInbox(`_INBOX_indi_${this.ctx.instance}`)
    // Callbacks, not iterators: nats.js calls them in arrival order across subscriptions, so a
    // reply and the updates published after it are handled in the order the exporter sent them.
    this.subs = [
      nc.subscribe(this.ctx.subjects.allHellos(), { callback: (err, msg) => err || this.onHello(msg) }),
      nc.subscribe(`${this.inbox}.>`, { callback: (err, msg) => err || this.onReply(msg) }),
    ]
    this.discover(nc)
  }

  /** nats.js reconnected and restored our subscriptions: rediscover. */
  onReconnected(): void {
    const nc = this.ctx.connection()
    if (nc) this.discover(nc)
  }

  /** NATS is down: every imported device is gone for the local clients until it comes back. */
  onDisconnected(): void {
    for (const site of [...this.sites.keys()]) this.siteGone(site, 'NATS connection lost')
    for (const f of this.fetches.values()) clearTimeout(f.timer)
    this.fetches.clear()
    this.reassembler.clear()
    this.replies.clear()
  }

  /** The NATS connection was replaced: drop subscriptions that belonged to the old one. */
  onClosed(): void {
    this.onDisconnected()
    this.subs = []
  }

  private discover(nc: NatsConnection): void {
    try {
      nc.publish(this.ctx.subjects.discover())
    } catch {}
  }

  // ------------------------------------------------------------- presence

  private onHello(msg: Msg): void {
    let h: { site?: unknown; instance?: unknown; hb?: unknown; devices?: unknown }
    try {
      h = JSON.parse(Buffer.from(msg.data).toString('utf8'))
    } catch {
      return
    }
    if (typeof h.site !== 'string' || typeof h.instance !== 'string' || !Array.isArray(h.devices)) return
    const site = h.site
    if (site === this.ctx.site) {
      if (h.instance !== this.ctx.instance)
        this.warnOnce(
          `site:${site}`,
          `NATS: another server also calls itself site "${site}"; its devices are ignored`,
        )
      return
    }
    let st = this.sites.get(site)
    if (st && st.instance !== h.instance) {
      // The exporting server restarted: what we hold may be stale. Delete, then define afresh.
      this.siteGone(site, 'restarted')
      st = undefined
    }
    if (!st) {
      st = { instance: h.instance, lastSeen: 0, hb: 2000, devices: new Set() }
      this.sites.set(site, st)
      this.ctx.log(1, `NATS: site "${site}" is up`)
    }
    st.lastSeen = performance.now()
    st.hb = typeof h.hb === 'number' && h.hb > 0 ? h.hb : 2000
    const now = new Set(h.devices.filter((d): d is string => typeof d === 'string'))
    for (const dev of st.devices) if (!now.has(dev)) this.deviceGone(dev, site)
    for (const dev of now) this.deviceSeen(dev, site, st)
  }

  private deviceSeen(dev: string, site: string, st: SiteState): void {
    if (!this.imports(dev)) return
    const have = this.devices.get(dev)
    if (have) {
      if (have.site !== site) {
        this.warnOnce(
          `dup:${dev}:${site}`,
          `NATS: device "${dev}" is exported by "${have.site}" and "${site}"; using "${have.site}"`,
        )
        return
      }
      if (have.stale && have.fetchAll === 0) this.fetch(dev, undefined)
      return
    }
    if (this.ctx.local.has(dev)) {
      this.warnOnce(
        `local:${dev}`,
        `NATS: device "${dev}" of site "${site}" is also served locally; not imported`,
      )
      return
    }
    st.devices.add(dev)
    const imp: Imported = {
      site,
      sub: undefined,
      defined: false,
      fetchAll: 0,
      fetchNames: new Map(),
      heldBlobs: new Map(),
      stale: false,
    }
    this.devices.set(dev, imp)
    // Before anything reaches the server: its definitions must not be exported back (no loops).
    this.ctx.imported.add(dev)
    this.ctx.log(1, `NATS: importing "${dev}" from site "${site}"`)
    if (this.wantAll || this.interested.has(dev)) this.subscribe(dev, imp)
    // Define it at once, as indiserver does with a new driver: that is also what makes the local
    // server route getProperties and commands for this device to us.
    this.fetch(dev, undefined)
  }

  private deviceGone(dev: string, site: string): void {
    const imp = this.devices.get(dev)
    if (!imp || imp.site !== site) return
    this.devices.delete(dev)
    this.sites.get(site)?.devices.delete(dev)
    imp.sub?.unsubscribe()
    this.outbox.purge(`${dev}\0`)
    if (imp.defined) this.outbox.push(buildMessageBytes({ tag: 'delProperty', device: dev }))
    // After the delProperty has been queued: from now on a local driver may claim the name.
    this.ctx.imported.delete(dev)
    this.ctx.log(1, `NATS: "${dev}" of site "${site}" is gone`)
  }

  private siteGone(site: string, why: string): void {
    const st = this.sites.get(site)
    if (!st) return
    this.sites.delete(site)
    this.counters.sitesLost++
    this.ctx.log(0, `NATS: site "${site}" lost (${why}); deleting its devices`)
    for (const dev of [...st.devices]) this.deviceGone(dev, site)
  }

  private checkHeartbeats(): void {
    const now = performance.now()
    for (const [site, st] of this.sites) {
      if (now - st.lastSeen > 3 * st.hb)
        this.siteGone(site, `no heartbeat for ${Math.round(now - st.lastSeen)} ms`)
    }
  }

  // ------------------------------------------------------------- local server → NATS

  private async readLoop(): Promise<void> {
    try {
      for await (const chunk of this.end) {
        for (const ev of this.framer.push(chunk)) {
          if (ev.kind === 'frame') this.fromServer(ev.frame)
          else this.ctx.log(1, `NATS import: ${ev.error.message}`)
        }
      }
    } catch (err) {
      if (!this.closed) this.ctx.log(0, `NATS import: local server link: ${(err as Error).message}`)
    }
  }

  private fromServer(f: RawFrame): void {
    const tag = f.tag
    const dev = f.device
    if (tag === 'getProperties') {
      if (dev === undefined || dev === '' || dev === '*') {
        this.wantAll = true
        for (const [d, imp] of this.devices) {
          this.subscribe(d, imp)
          this.fetch(d, undefined)
        }
        return
      }
      const imp = this.devices.get(dev)
      if (!imp) return
      this.interested.add(dev)
      this.subscribe(dev, imp)
      const name = f.name
      this.fetch(dev, name === '' ? undefined : name)
    } else if (tag.startsWith('new')) {
      const imp = dev === undefined ? undefined : this.devices.get(dev)
      const nc = this.ctx.connection()
      if (!imp || !nc || dev === undefined) {
        this.counters.commandsLost++
        return
      }
      this.interested.add(dev)
      this.subscribe(dev, imp)
      try {
        publishChunked(nc, this.ctx.subjects.of(imp.site, dev, f.name, 'new'), f.bytes, this.ctx.maxPayload())
        this.counters.commands++
      } catch {
        this.counters.commandsLost++
      }
    } else if (tag === 'pingRequest') {
      this.end.send(buildMessageBytes({ tag: 'pingReply', uid: f.attr('uid') ?? '' }))
    }
    // enableBLOB never reaches a driver link (the server applies BLOB policy); nothing else is ours.
  }

  private subscribe(dev: string, imp: Imported): void {
    if (imp.sub !== undefined) return
    const nc = this.ctx.connection()
    if (!nc) return
    imp.sub = nc.subscribe(this.ctx.subjects.device(imp.site, dev), {
      callback: (err, msg) => err || this.onUpdate(dev, imp, msg),
    })
  }

  private fetch(dev: string, name: string | undefined): void {
    const imp = this.devices.get(dev)
    const nc = this.ctx.connection()
    if (!imp || !nc) return
    const id = (++this.fetchSeq).toString(36)
    const timer = setTimeout(() => this.fetchTimedOut(id), this.requestTimeoutMs)
    timer.unref?.()
    this.fetches.set(id, { device: dev, name, timer })
    if (name === undefined) imp.fetchAll++
    else imp.fetchNames.set(name, (imp.fetchNames.get(name) ?? 0) + 1)
    imp.stale = false
    this.counters.fetches++
    try {
      nc.publish(this.ctx.subjects.of(imp.site, dev, undefined, 'get'), undefined, {
        reply: `${this.inbox}.${id}`,
      })
    } catch {
      this.fetchTimedOut(id)
    }
  }

  private endFetch(id: string): { fetch: Fetch; imp: Imported | undefined } | undefined {
    const fetch = this.fetches.get(id)
    if (!fetch) return undefined
    this.fetches.delete(id)
    clearTimeout(fetch.timer)
    const imp = this.devices.get(fetch.device)
    if (imp) {
      if (fetch.name === undefined) imp.fetchAll--
      else {
        const n = (imp.fetchNames.get(fetch.name) ?? 1) - 1
        if (n <= 0) imp.fetchNames.delete(fetch.name)
        else imp.fetchNames.set(fetch.name, n)
      }
    }
    return { fetch, imp }
  }

  private fetchTimedOut(id: string): void {
    const done = this.endFetch(id)
    if (!done) return
    this.counters.fetchTimeouts++
    this.ctx.log(
      1,
      `NATS: no definitions for "${done.fetch.device}" in ${this.requestTimeoutMs} ms; retrying on the next hello`,
    )
    if (done.imp) {
      done.imp.stale = true
      this.releaseBlobs(done.fetch.device, done.imp)
    }
  }

  // ------------------------------------------------------------- NATS → local server

  private onReply(msg: Msg): void {
    const id = msg.subject.slice(this.inbox.length + 1)
    if (!this.fetches.has(id)) return
    const data = this.replies.push(msg)
    if (data === undefined) return
    const done = this.endFetch(id)
    const imp = done?.imp
    if (!done || !imp || this.devices.get(done.fetch.device) !== imp) return
    const dev = done.fetch.device
    if (data.byteLength === 0) {
      // The exporter no longer has it: gone until a hello lists it again.
      this.deviceGone(dev, imp.site)
      return
    }
    const name = done.fetch.name
    for (const ev of this.replyFramer.push(data)) {
      if (ev.kind !== 'frame') continue
      const f = ev.frame
      if (f.device !== dev || (name !== undefined && f.name !== name)) continue
      if (f.tag.startsWith('def')) imp.defined = true
      this.outbox.push(f.bytes, `${dev}\0${f.tag[0]}\0${f.name ?? ''}`)
    }
    this.releaseBlobs(dev, imp)
  }

  private releaseBlobs(dev: string, imp: Imported): void {
    if (imp.fetchAll > 0) return
    for (const [name, b] of imp.heldBlobs) this.outbox.push(b, `${dev}\0b\0${name}`)
    imp.heldBlobs.clear()
  }

  private onUpdate(dev: string, imp: Imported, msg: Msg): void {
    if (this.devices.get(dev) !== imp) return
    const p = this.ctx.subjects.parse(msg.subject)
    if (!p) return
    this.counters.received++
    this.counters.receivedBytes += msg.data.byteLength
    const name = p.property
    // While a fetch is in flight its reply carries the state after these updates (one publisher,
    // in order), so they are superseded; BLOBs are not in the reply and wait for it instead.
    const superseded = imp.fetchAll > 0 || (name !== undefined && imp.fetchNames.has(name))
    if (superseded) this.counters.superseded++
    switch (p.kind) {
      case 'set':
        if (!superseded) this.outbox.push(msg.data, `${dev}\0s\0${name}`)
        return
      case 'blob': {
        const data = this.reassembler.push(msg)
        if (data === undefined) return
        if (imp.fetchAll > 0) imp.heldBlobs.set(name ?? '', data)
        else this.outbox.push(data, `${dev}\0b\0${name}`)
        return
      }
      case 'def':
        if (superseded) return
        imp.defined = true
        this.outbox.push(msg.data, `${dev}\0d\0${name}`)
        return
      case 'del':
        if (name === undefined) {
          if (imp.fetchAll > 0) return
          this.outbox.purge(`${dev}\0`)
          imp.defined = false
        } else if (superseded) return
        this.outbox.push(msg.data)
        return
      case 'msg':
        this.outbox.push(msg.data)
        return
      default:
      // `new` (other sites' commands) and `get` (their requests) are not for us.
    }
  }

  private warnOnce(key: string, text: string): void {
    if (this.warned.has(key)) return
    this.warned.add(key)
    this.ctx.log(0, text)
  }
}
