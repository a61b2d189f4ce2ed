import type { Connection } from '@indi-ts/transport'
import { connectionPair } from '@indi-ts/transport'
import { IndiServer, type IndiServerOptions, type LogEntry, type RunnableDriver } from '../src/index.js'

/** Accumulates what a connection receives and resolves waits as soon as the bytes arrive. */
export class Reader {
  text = ''
  bytes = 0
  ended = false
  private waiters: { test: () => boolean; resolve: () => void; reject: (e: Error) => void; what: string }[] =
    []

  push(chunk: Uint8Array): void {
    this.bytes += chunk.byteLength
    this.text += Buffer.from(chunk).toString('utf8')
    this.check()
  }

  end(): void {
    this.ended = true
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

export function readInto(conn: Connection, reader = new Reader()): Reader {
  void (async () => {
    try {
      for await (const chunk of conn) reader.push(chunk)
    } catch {}
    reader.end()
  })()
  return reader
}

/** A client of the server over an in-memory pair. */
export interface TestClient {
  conn: Connection
  in: Reader
  id: number
  send(xml: string): void
  /** Resolves once everything the server queued for this client before now has arrived. */
  sync(): Promise<void>
}

let syncSeq = 0

export function addClient(server: IndiServer, label = 'client'): TestClient {
  const [a, b] = connectionPair({ labels: [`server:${label}`, label] })
  const info = server.addClient(a)
  if (!info) throw new Error('refused')
  const reader = readInto(b)
  return {
    conn: b,
    in: reader,
    id: info.id,
    send: (xml) => {
      b.send(Buffer.from(xml))
    },
    sync: () => {
      // A pingReply joins the back of this client's queue (a flush barrier, protocol reference §1.3).
      const uid = `sync${++syncSeq}`
      b.send(Buffer.from(`<pingRequest uid="${uid}"/>`))
      return reader.waitFor(`<pingReply uid="${uid}"/>`)
    },
  }
}

/**
 * An in-process driver speaking raw XML (a `RunnableDriver`): answers getProperties for its
 * devices with `defs`, records everything it receives.
 */
export class RawDriver implements RunnableDriver {
  conn: Connection | undefined
  in = new Reader()
  runs = 0
  private started: (() => void) | undefined
  ready: Promise<void>

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
    this.in = new Reader()
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

  send(xml: string): void {
    this.conn!.send(Buffer.from(xml))
  }
}

export function testServer(options: IndiServerOptions = {}): { server: IndiServer; logs: LogEntry[] } {
  const logs: LogEntry[] = []
  const server = new IndiServer({
    verbosity: 1,
    logger: (e) => logs.push(e),
    restartMinDelayMs: 10,
    restartMaxDelayMs: 50,
    ...options,
  })
  return { server, logs }
}

/** Resolves on the next `event` of `server` (typed loosely for tests). */
export function once<T extends unknown[]>(
  emitter: { once(e: string, f: (...a: T) => void): unknown },
  event: string,
): Promise<T> {
  return new Promise((resolve) => emitter.once(event, (...args: T) => resolve(args)))
}

/**
 * A loopback port of the binary/record suites' range (18250–18299) that is free right now.
 * Tried in a random order, so two runs of the suite at once (parallel engineers) rarely meet.
 */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net')
  const ports = Array.from({ length: 50 }, (_, i) => 18250 + i).sort(() => Math.random() - 0.5)
  for (const port of ports) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createServer()
      s.once('error', () => resolve(false))
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
    })
    if (ok) return port
  }
  throw new Error('no free port in 18250–18299')
}
