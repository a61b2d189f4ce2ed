/**
 * `@indi-ts/indi-server/testing`: small helpers for testing drivers, clients and servers against an
 * IndiServer in one process (over in-memory connection pairs), as this repository's own tests do.
 */
import type { Connection } from '@indi-ts/transport'
import { connectionPair } from '@indi-ts/transport'
import type { RunnableDriver } from './peers.js'
import type { IndiServer } from './server.js'

/** Accumulates the text a connection receives; waits resolve as soon as the bytes arrive. */
export class ReceivedText {
  /** Everything received so far, decoded as UTF-8 (a character split across chunks is kept whole). */
  text = ''
  /** Bytes received so far. */
  bytes = 0
  /** The source ended (or failed). */
  ended = false
  private readonly decoder = new TextDecoder()
  private waiters: { test: () => boolean; resolve: () => void; reject: (e: Error) => void; what: string }[] =
    []

  push(chunk: Uint8Array): void {
    this.bytes += chunk.byteLength
    this.text += this.decoder.decode(chunk, { stream: true })
    this.check()
  }

  /** No more input: waits still pending reject, naming what they waited for and the last text. */
  end(): void {
    this.ended = true
    this.text += this.decoder.decode()
    this.check()
    for (const w of this.waiters.splice(0))
      w.reject(new Error(`ended while waiting for ${w.what}\n--- got:\n${this.text.slice(-2000)}`))
  }

  /** Occurrences of `needle` so far. */
  count(needle: string): number {
    let n = 0
    for (let i = this.text.indexOf(needle); i >= 0; i = this.text.indexOf(needle, i + needle.length)) n++
    return n
  }

  has(needle: string): boolean {
    return this.text.includes(needle)
  }

  /** Resolves once `needle` has arrived `times` times. */
  waitFor(needle: string, times = 1): Promise<void> {
    return this.until(() => this.count(needle) >= times, `${times} x ${needle}`)
  }

  /** Resolves once `test()` holds; checked after every chunk. */
  until(test: () => boolean, what = 'condition'): Promise<void> {
    if (test()) return Promise.resolve()
    if (this.ended) return Promise.reject(new Error(`ended while waiting for ${what}`))
    return new Promise((resolve, reject) => this.waiters.push({ test, resolve, reject, what }))
  }

  private check(): void {
    this.waiters = this.waiters.filter((w) => {
      if (!w.test()) return true
      w.resolve()
      return false
    })
  }
}

/** Reads `source` into `into` until it ends or fails (then `into.end()`). */
export function readInto(source: AsyncIterable<Uint8Array>, into = new ReceivedText()): ReceivedText {
  void (async () => {
    try {
      for await (const chunk of source) into.push(chunk)
    } catch {}
    into.end()
  })()
  return into
}

/** A client of the server over an in-memory pair (see addTestClient). */
export interface TestClient {
  /** The client's end of the pair. */
  conn: Connection
  /** What the server sent it. */
  in: ReceivedText
  /** Its id in clientStats(). */
  id: number
  send(xml: string): void
  /** Resolves once everything the server queued for this client before now has arrived. */
  sync(): Promise<void>
}

let syncSeq = 0

/**
 * Connects a client to `server` over an in-memory pair. `read: false` leaves the pair unread (a
 * client that stops reading); `highWaterMark` sets the pair's mark.
 */
export function addTestClient(
  server: IndiServer,
  options: { label?: string; highWaterMark?: number; read?: boolean } = {},
): TestClient {
  const label = options.label ?? 'client'
  const [a, b] = connectionPair({
    labels: [`server:${label}`, label],
    ...(options.highWaterMark !== undefined ? { highWaterMark: options.highWaterMark } : {}),
  })
  const info = server.addClient(a)
  if (!info) throw new Error(`${label}: refused by the server`)
  const reader = options.read === false ? new ReceivedText() : readInto(b)
  return {
    conn: b,
    in: reader,
    id: info.id,
    send: (xml) => {
      b.send(Buffer.from(xml))
    },
    sync: () => {
      // A pingReply joins the back of this client's queue: a flush barrier (protocol §1.3).
      const uid = `sync${++syncSeq}`
      b.send(Buffer.from(`<pingRequest uid="${uid}"/>`))
      return reader.waitFor(`<pingReply uid="${uid}"/>`)
    },
  }
}

/**
 * An in-process driver speaking raw XML (a RunnableDriver for `server.addDriver`): answers each
 * getProperties for its devices with `defs(device)`, records everything it receives in `in`, and
 * lets the test send anything with `send`.
 */
export class RawDriver implements RunnableDriver {
  /** The server's connection to it, once running. */
  conn: Connection | undefined
  /** What the server sent it during the current run. */
  in = new ReceivedText()
  /** How many times the server has run it (restarts included). */
  runs = 0
  /** Resolves once the server first runs it. */
  readonly ready: Promise<void>
  private started: (() => void) | undefined

  constructor(
    readonly devices: string[],
    readonly defs: (device: string) => string = (d) =>
      `<defSwitchVector device="${d}" name="CONNECTION" state="Idle" perm="rw" rule="OneOfMany"><defSwitch name="CONNECT">Off</defSwitch><defSwitch name="DISCONNECT">On</defSwitch></defSwitchVector>`,
  ) {
    this.ready = new Promise((r) => {
      this.started = r
    })
  }

  async run({ connection, signal }: { connection?: Connection; signal?: AbortSignal }): Promise<void> {
    this.runs++
    this.conn = connection!
    this.in = new ReceivedText()
    this.started?.()
    const onAbort = (): void => connection!.destroy()
    signal?.addEventListener('abort', onAbort, { once: true })
    let seen = 0
    try {
      for await (const chunk of connection!) {
        this.in.push(chunk)
        // Answer each complete getProperties once (they may arrive split or batched).
        const re = /<getProperties\b([^>]*)\/>/g
        re.lastIndex = seen
        for (let m = re.exec(this.in.text); m; m = re.exec(this.in.text)) {
          seen = re.lastIndex
          const dev = /device="([^"]*)"/.exec(m[1]!)?.[1]
          for (const d of this.devices) if (dev === undefined || dev === d) this.send(this.defs(d))
        }
      }
    } catch {
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
  }

  /** Sends raw bytes to the server; returns the connection's `send()` result. */
  send(xml: string | Uint8Array): boolean {
    return this.conn!.send(typeof xml === 'string' ? Buffer.from(xml) : xml)
  }
}
