import { setTimeout as sleep } from 'node:timers/promises'
import type { BlobPolicy, IndiMessage } from '@indi-ts/indi-xml'
import { buildMessageBytes, IndiError, IndiParser } from '@indi-ts/indi-xml'
import type { Connection } from '@indi-ts/transport'
import { listenTcp } from '@indi-ts/transport-tcp'
import { readRecording, type SessionRecord } from './recording.js'

/** Tags that flow from devices to clients: the only ones a replay sends. */
const DEVICE_TO_CLIENT = new Set<string>([
  'defTextVector',
  'defNumberVector',
  'defSwitchVector',
  'defLightVector',
  'defBLOBVector',
  'setTextVector',
  'setNumberVector',
  'setSwitchVector',
  'setLightVector',
  'setBLOBVector',
  'message',
  'delProperty',
])

const decoder = new TextDecoder()

/** The root tag of raw XML bytes, or undefined. */
function rawTag(raw: Uint8Array): string | undefined {
  const head = decoder.decode(raw.subarray(0, 64))
  return /^\s*(?:<\?[^>]*\?>\s*)?<([A-Za-z]+)/.exec(head)?.[1]
}

/**
 * A raw record as a message, so the BLOB rules apply to it too; undefined when indi-xml cannot
 * parse it (an element INDI does not define), which is then sent as recorded.
 */
function parseRaw(raw: Uint8Array): IndiMessage | undefined {
  const parser = new IndiParser()
  const events = [...parser.push(raw), ...parser.end()]
  const ev = events.find((e) => e.kind === 'message')
  return ev?.kind === 'message' ? ev.message : undefined
}

/**
 * Whether a replay sends this record to its clients: a record is replayed when it was received
 * by the recording process (`dir === 'in'`) and carries device-to-client traffic (a `def*`,
 * `set*`, `message` or `delProperty`). For a server's recording these are what its drivers (and
 * remote servers) sent; for a client's recording, what its server sent. Client commands and the
 * server's fan-out copies (`dir === 'out'`) are never replayed, so each message goes out once.
 * With `peer`, only records whose peer starts with it (e.g. `'server#1:'` for one session of a
 * `recordProxy` recording, where each client session holds its own copy of the device traffic).
 */
export function isReplayed(record: SessionRecord, peer?: string): boolean {
  if (record.dir !== 'in') return false
  if (peer !== undefined && !record.peer.startsWith(peer)) return false
  const tag = record.msg ? record.msg.tag : rawTag(record.raw)
  return tag !== undefined && DEVICE_TO_CLIENT.has(tag)
}

/** Pacing of a replay. */
export interface ReplayPacing {
  /** Gaps between records are divided by this. Default 1 (real time). Must be > 0. */
  speed?: number
  /** Send as fast as the client reads, ignoring the recorded gaps. */
  fast?: boolean
  /** Start again from the beginning at the end (until the client leaves or the signal aborts). */
  loop?: boolean
  /** Replay only records whose peer starts with this (see `isReplayed`). Default: every peer. */
  peer?: string
}

/** Options of `replayTo`. */
export interface ReplayOptions extends ReplayPacing {
  /** Stops the replay; the connection is left to the caller. */
  signal?: AbortSignal
  /** Called with each message the client sends (getProperties, new*, enableBLOB…). */
  onClientMessage?: (peer: string, message: IndiMessage) => void
  /** Close the client's connection at the end of the recording (without `loop`). Default false: stay connected like a server would. */
  closeAtEnd?: boolean
  /** How long to wait for a client that does not read, in ms, before dropping it. Default 60 000. */
  drainTimeoutMs?: number
  /**
   * When the timeline starts: at the client's first `getProperties` (default, as a real server
   * sends nothing before it, and so `enableBLOB` sent first is in force), or at once on connect.
   */
  startOn?: 'getProperties' | 'connect'
}

/** A client's BLOB policy, as set by its enableBLOB messages (default Never, as indiserver). */
class BlobPolicies {
  private readonly byDevice = new Map<string, BlobPolicy>()
  private readonly byVector = new Map<string, BlobPolicy>()
  set(device: string, name: string | undefined, policy: BlobPolicy): void {
    if (name === undefined) this.byDevice.set(device, policy)
    else this.byVector.set(`${device}\u0000${name}`, policy)
  }
  private get(device: string, name?: string): BlobPolicy {
    return (
      (name === undefined ? undefined : this.byVector.get(`${device}\u0000${name}`)) ??
      this.byDevice.get(device) ??
      'Never'
    )
  }
  /** indiserver's rules: BLOBs need Also/Only; Only suppresses the device's other traffic. */
  allows(m: IndiMessage): boolean {
    if (m.tag === 'setBLOBVector') return this.get(m.device, m.name) !== 'Never'
    if (m.tag === 'message' && m.device === undefined) return true
    const device = (m as { device?: string }).device
    return device === undefined || this.byDevice.get(device) !== 'Only'
  }
}

/**
 * Replays a recording to one client connection as standard INDI XML (see `isReplayed` for which
 * records), paced by the recorded gaps divided by `speed` (the first record goes out at once).
 * Meanwhile it reads the client: `pingRequest` is answered with `pingReply`, `enableBLOB` sets
 * the client's BLOB policy (default Never, as indiserver), and every message is reported to
 * `onClientMessage`. The timeline starts at the client's first `getProperties` (see `startOn`).
 * Resolves when the recording ends (or, with `loop`, when the client leaves or `signal` aborts).
 * @throws IndiError `ERR_INDI_RECORDING` for a bad recording; `ERR_INDI_SLOW_PEER` when the
 * client stops reading for `drainTimeoutMs`.
 */
export async function replayTo(
  path: string,
  connection: Connection,
  options: ReplayOptions = {},
): Promise<void> {
  const speed = options.speed ?? 1
  if (!(speed > 0)) throw new IndiError('ERR_INDI_USAGE', `speed must be > 0, got ${speed}`)
  const drainTimeoutMs = options.drainTimeoutMs ?? 60_000
  const outer = options.signal
  outer?.throwIfAborted()
  // Stops pacing and reading when the client leaves or the caller aborts.
  const controller = new AbortController()
  const onOuterAbort = (): void => controller.abort(outer?.reason)
  outer?.addEventListener('abort', onOuterAbort, { once: true })
  const signal = controller.signal
  const policies = new BlobPolicies()
  void connection.closed.then((error) =>
    controller.abort(error ?? new IndiError('ERR_INDI_CLOSED', `${connection.label} closed`)),
  )

  const send = async (bytes: Uint8Array): Promise<void> => {
    if (connection.send(bytes)) return
    const timer = setTimeout(() => {
      connection.destroy(
        new IndiError(
          'ERR_INDI_SLOW_PEER',
          `${connection.label}: client did not read for ${drainTimeoutMs} ms`,
        ),
      )
    }, drainTimeoutMs)
    try {
      await connection.drained({ signal })
    } finally {
      clearTimeout(timer)
    }
  }

  let started: () => void = () => {}
  const start = new Promise<void>((resolve) => {
    started = resolve
  })
  if (options.startOn === 'connect') started()
  void readClient(connection, policies, send, (peer, m) => {
    if (m.tag === 'getProperties') started()
    options.onClientMessage?.(peer, m)
  })
  try {
    await Promise.race([
      start,
      new Promise((_, reject) => {
        if (signal.aborted) reject(signal.reason)
        signal.addEventListener('abort', () => reject(signal.reason), { once: true })
      }),
    ])
    let replayed: number
    do {
      replayed = 0
      const t0 = performance.now()
      let first: number | undefined
      for await (const rec of readRecording(path, { signal })) {
        if (!isReplayed(rec, options.peer)) continue
        first ??= rec.t
        if (!options.fast) {
          const due = t0 + (rec.t - first) / speed
          const wait = due - performance.now()
          if (wait > 0) await sleep(wait, undefined, { signal })
        }
        replayed++
        if (rec.msg) {
          if (policies.allows(rec.msg)) await send(buildMessageBytes(rec.msg))
        } else {
          const msg = parseRaw(rec.raw)
          if (msg === undefined || policies.allows(msg)) await send(rec.raw)
        }
      }
      // A recording with nothing to replay must not spin in a loop.
    } while (options.loop && replayed > 0 && !signal.aborted)
    if (options.closeAtEnd) await connection.close({ signal: outer })
  } catch (error) {
    if (outer?.aborted) throw outer.reason
    if (!signal.aborted) throw error
    // The connection ended. A client that left ends its replay normally; a stalled one is reported.
    if (IndiError.is(signal.reason, 'ERR_INDI_SLOW_PEER')) throw signal.reason
  } finally {
    outer?.removeEventListener('abort', onOuterAbort)
  }
}

/** Reads the client: answers pings, tracks enableBLOB, reports each message. */
async function readClient(
  connection: Connection,
  policies: BlobPolicies,
  send: (bytes: Uint8Array) => Promise<void>,
  onMessage: (peer: string, message: IndiMessage) => void,
): Promise<void> {
  const parser = new IndiParser()
  try {
    for await (const chunk of connection) {
      for (const ev of parser.push(chunk)) {
        if (ev.kind !== 'message') continue
        const m = ev.message
        onMessage(connection.label, m)
        // indi-protocol §0.2: a ping is answered at once and never forwarded.
        if (m.tag === 'pingRequest') await send(buildMessageBytes({ tag: 'pingReply', uid: m.uid }))
        else if (m.tag === 'enableBLOB') policies.set(m.device, m.name, m.policy)
      }
    }
  } catch {
    // The connection's own `closed` reports how it ended; the replay loop watches that.
  }
}

/** Options of `serveReplay`. */
export interface ServeReplayOptions extends ReplayPacing {
  /** Interface to bind. Default 127.0.0.1. */
  host?: string
  /** TCP port. Default 7624; 0 picks a free port (see `address`). */
  port?: number
  /** Most clients at once. Default unlimited. */
  maxConnections?: number
  /** See `ReplayOptions.onClientMessage`. */
  onClientMessage?: (peer: string, message: IndiMessage) => void
  /** Called when a client connects, and when its replay ends (error undefined when it ended cleanly). */
  onClient?: (event: 'connect' | 'end', peer: string, error?: unknown) => void
  /** See `ReplayOptions.closeAtEnd`. */
  closeAtEnd?: boolean
  /** See `ReplayOptions.startOn`. */
  startOn?: 'getProperties' | 'connect'
}

/** A running replay server. */
export interface ReplayServer {
  /** Where it listens (the real port when 0 was asked). */
  readonly address: { host: string; port: number }
  /** Stops listening, ends every client's replay and closes their connections. */
  close(): Promise<void>
}

/**
 * Serves a recording on a TCP port: each client that connects gets its own replay from the
 * start (see `replayTo`). Checks the recording's header before listening.
 * @throws IndiError `ERR_INDI_RECORDING` for a bad recording; the listener's errors unchanged.
 */
export async function serveReplay(path: string, options: ServeReplayOptions = {}): Promise<ReplayServer> {
  if (options.speed !== undefined && !(options.speed > 0)) {
    throw new IndiError('ERR_INDI_USAGE', `speed must be > 0, got ${options.speed}`)
  }
  // Fail before binding when the file is not a recording.
  for await (const _ of readRecording(path)) break
  const listener = await listenTcp({
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 7624,
    ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections }),
  })
  const controller = new AbortController()
  const clients = new Set<Promise<void>>()
  const connections = new Set<Connection>()
  const accepting = (async () => {
    for await (const connection of listener) {
      connections.add(connection)
      void connection.closed.then(() => connections.delete(connection))
      options.onClient?.('connect', connection.label)
      const run = replayTo(path, connection, { ...options, signal: controller.signal }).then(
        () => options.onClient?.('end', connection.label),
        (error: unknown) => {
          if (!controller.signal.aborted) options.onClient?.('end', connection.label, error)
          connection.destroy(error instanceof Error ? error : undefined)
        },
      )
      const tracked: Promise<void> = run.finally(() => clients.delete(tracked))
      clients.add(tracked)
    }
  })().catch(() => {})
  return {
    address: listener.address,
    async close(): Promise<void> {
      controller.abort(new IndiError('ERR_INDI_CLOSED', 'replay server closed'))
      // Close clients first: net.Server.close() only calls back once every socket has ended.
      const closing = listener.close()
      for (const c of connections) c.destroy()
      await closing
      await accepting
      await Promise.all(clients)
    },
  }
}
