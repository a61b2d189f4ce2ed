import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { connect as netConnect } from 'node:net'
import { IndiServer, type IndiServerOptions } from '@indi-ts/indi-server'
import type { Connection } from '@indi-ts/transport'
import { connectionPair } from '@indi-ts/transport'
import { NatsBridge, type NatsBridgeOptions } from '../src/index.js'

/** Whether Debian's nats-server is installed (tests skip with one line otherwise). */
export const hasNatsServer = ((): boolean => {
  try {
    execFileSync('nats-server', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

/** A nats-server on loopback, started the way users start it, stopped by its PID. */
export class NatsServer {
  proc: ChildProcess | undefined
  constructor(readonly port: number) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`
  }

  async start(extra: string[] = []): Promise<void> {
    const proc = spawn('nats-server', ['-p', String(this.port), '-a', '127.0.0.1', ...extra], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    this.proc = proc
    let log = ''
    await new Promise<void>((resolve, reject) => {
      proc.stderr!.on('data', (d: Buffer) => {
        log += d.toString()
        if (log.includes('Server is ready')) resolve()
      })
      proc.once('exit', (code) => reject(new Error(`nats-server exited ${code}: ${log}`)))
    })
    proc.stderr!.resume()
  }

  /** Kills it by PID and waits for the exit. */
  async stop(): Promise<void> {
    const proc = this.proc
    this.proc = undefined
    if (!proc || proc.exitCode !== null) return
    const exited = new Promise((r) => proc.once('exit', r))
    proc.kill('SIGKILL')
    await exited
  }
}

/** Accumulates what a connection receives; waits resolve as soon as the bytes arrive. */
export class Reader {
  text = ''
  ended = false
  private waiters: { test: () => boolean; resolve: () => void; reject: (e: Error) => void; what: string }[] =
    []

  push(chunk: Uint8Array): void {
    this.text += Buffer.from(chunk).toString('latin1')
    this.check()
  }
  end(): void {
    this.ended = true
    this.check()
    for (const w of this.waiters.splice(0)) w.reject(new Error(`ended while waiting for ${w.what}`))
  }
  count(needle: string): number {
    let n = 0
    for (let i = this.text.indexOf(needle); i >= 0; i = this.text.indexOf(needle, i + needle.length)) n++
    return n
  }
  has(needle: string): boolean {
    return this.text.includes(needle)
  }
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

export function readInto(conn: Connection | AsyncIterable<Uint8Array>, reader = new Reader()): Reader {
  void (async () => {
    try {
      for await (const chunk of conn) reader.push(chunk)
    } catch {}
    reader.end()
  })()
  return reader
}

export interface TestClient {
  conn: Connection
  in: Reader
  send(xml: string): void
}

/** A client of `server` over an in-memory pair. */
export function addClient(
  server: IndiServer,
  options: { highWaterMark?: number; read?: boolean } = {},
): TestClient {
  const [a, b] = connectionPair({
    labels: ['server:test', 'test'],
    ...(options.highWaterMark ? { highWaterMark: options.highWaterMark } : {}),
  })
  server.addClient(a)
  const reader = options.read === false ? new Reader() : readInto(b)
  return { conn: b, in: reader, send: (xml) => void b.send(Buffer.from(xml)) }
}

/**
 * An in-process driver speaking raw XML: answers getProperties for its devices, records what it
 * receives, and lets the test send anything.
 */
export class RawDriver {
  conn: Connection | undefined
  in = new Reader()
  ready: Promise<void>
  private started!: () => void

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
    this.conn = connection!
    this.in = new Reader()
    this.started()
    const onAbort = (): void => connection!.destroy()
    signal?.addEventListener('abort', onAbort, { once: true })
    let seen = 0
    try {
      for await (const chunk of connection!) {
        this.in.push(chunk)
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

  send(xml: string | Uint8Array): boolean {
    return this.conn!.send(typeof xml === 'string' ? Buffer.from(xml) : xml)
  }
}

/** Everything a test started, closed in reverse order by `closeAll()`. */
export class Site {
  constructor(
    readonly server: IndiServer,
    readonly bridge: NatsBridge,
  ) {}
}

const quiet = (): void => undefined

/** An indi-server plus a NATS bridge, started (awaits the first NATS connection). */
export async function startSite(
  nats: NatsServer,
  bridge: Omit<NatsBridgeOptions, 'servers'> & { site: string },
  server: IndiServerOptions = {},
): Promise<Site> {
  const s = new IndiServer({ port: 0, verbosity: 0, logger: quiet, ...server })
  const b = new NatsBridge({
    servers: nats.url,
    heartbeatMs: 1000,
    minDelayMs: 50,
    maxDelayMs: 200,
    logger: quiet,
    ...bridge,
  })
  b.attach(s)
  await b.start()
  return new Site(s, b)
}

export async function closeSites(sites: Site[]): Promise<void> {
  await Promise.all(
    sites.splice(0).map(async (x) => {
      await x.bridge.close()
      await x.server.close({ signal: AbortSignal.timeout(5000) })
    }),
  )
}

/** Resolves on the next `event` of `emitter`. */
export function once<T extends unknown[]>(
  emitter: { once(e: string, f: (...a: T) => void): unknown },
  event: string,
): Promise<T> {
  return new Promise((resolve) => emitter.once(event, (...args: T) => resolve(args)))
}

/** Resolves once `test()` holds, checking on every turn of the event loop (no fixed sleeps). */
export async function until(test: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!test()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** A free-standing TCP probe: whether something accepts on the port. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect({ host: '127.0.0.1', port }, () => {
      s.destroy()
      resolve(true)
    })
    s.on('error', () => resolve(false))
  })
}
