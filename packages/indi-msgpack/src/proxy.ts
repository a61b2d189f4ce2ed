import type { IndiMessage } from '@indi-ts/indi-xml'
import { IndiError, IndiParser } from '@indi-ts/indi-xml'
import type { Connection } from '@indi-ts/transport'
import { connectTcp, listenTcp } from '@indi-ts/transport-tcp'
import type { SessionRecorder } from './recording.js'

/** Options of `recordProxy`. */
export interface RecordProxyOptions {
  /** Where clients connect. Default host 127.0.0.1, port 7624 (0 picks a free port). */
  listen?: { host?: string; port?: number }
  /** The INDI server to record (indiserver or ours). */
  upstream: { host: string; port: number }
  /** Where the session goes; the proxy never closes it. */
  recorder: SessionRecorder
  /** Called when a client session starts and ends (error undefined for a clean end). */
  onSession?: (event: 'open' | 'close', session: number, client: string, error?: unknown) => void
}

/** A running recording proxy. */
export interface RecordProxy {
  /** Where clients connect (the real port when 0 was asked). */
  readonly address: { host: string; port: number }
  /** Stops accepting and closes every session. The recorder stays open. */
  close(): Promise<void>
}

/**
 * A recording man-in-the-middle for any INDI server: clients connect to the proxy, each gets its
 * own connection to `upstream`, and bytes are forwarded unchanged both ways (with backpressure)
 * while the messages are parsed and recorded. Use it to record a night with indiserver before
 * the server's own `--record` exists, then serve it with `indi-replay`.
 *
 * Peers in the recording are `server#N:<host>:<port>` (what the server sent to session N) and
 * `client#N:<label>` (what that client sent), both `dir: 'in'`. Each session has its own copy of
 * the device traffic, so replay one session with `peer: 'server#1:'`. Elements that do not parse
 * are recorded raw.
 * @throws the listener's errors (port in use …).
 */
export async function recordProxy(options: RecordProxyOptions): Promise<RecordProxy> {
  const listener = await listenTcp({
    host: options.listen?.host ?? '127.0.0.1',
    port: options.listen?.port ?? 7624,
  })
  const { recorder, upstream } = options
  const open = new Set<Connection>()
  const sessions = new Set<Promise<void>>()
  let next = 1
  const accepting = (async () => {
    for await (const client of listener) {
      const n = next++
      open.add(client)
      const session = runSession(n, client).finally(() => sessions.delete(session))
      sessions.add(session)
    }
  })()

  async function runSession(n: number, client: Connection): Promise<void> {
    options.onSession?.('open', n, client.label)
    let server: Connection
    try {
      server = await connectTcp({ host: upstream.host, port: upstream.port })
    } catch (error) {
      options.onSession?.('close', n, client.label, error)
      client.destroy(error as Error)
      open.delete(client)
      return
    }
    open.add(server)
    const serverPeer = `server#${n}:${upstream.host}:${upstream.port}`
    const clientPeer = `client#${n}:${client.label}`
    const results = await Promise.allSettled([
      pump(
        client,
        server,
        (m) => recorder.record('in', clientPeer, m),
        (raw) => recorder.recordRaw('in', clientPeer, raw),
      ),
      pump(
        server,
        client,
        (m) => recorder.record('in', serverPeer, m),
        (raw) => recorder.recordRaw('in', serverPeer, raw),
      ),
    ])
    client.destroy()
    server.destroy()
    open.delete(client)
    open.delete(server)
    const failed = results.find((r) => r.status === 'rejected')
    options.onSession?.('close', n, client.label, failed?.status === 'rejected' ? failed.reason : undefined)
  }

  return {
    address: listener.address,
    async close(): Promise<void> {
      const closing = listener.close()
      for (const c of open) c.destroy(new IndiError('ERR_INDI_CLOSED', 'record proxy closed'))
      await closing
      await accepting
      await Promise.all(sessions)
    },
  }
}

/** Forwards `from` → `to` unchanged, recording each message; ends `to` when `from` ends. */
async function pump(
  from: Connection,
  to: Connection,
  onMessage: (m: IndiMessage) => void,
  onRaw: (raw: Uint8Array) => void,
): Promise<void> {
  const parser = new IndiParser()
  const record = (events: ReturnType<IndiParser['push']>): void => {
    for (const ev of events) {
      if (ev.kind === 'message') onMessage(ev.message)
      else if (ev.kind === 'unknown') onRaw(ev.bytes)
    }
  }
  for await (const chunk of from) {
    // Record before forwarding: the chunk belongs to `to` once sent (zero-copy transports).
    record(parser.push(chunk))
    if (!to.send(chunk)) await to.drained()
  }
  record(parser.end())
  await to.end()
}
