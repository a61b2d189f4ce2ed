import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { connect as netConnect } from 'node:net'
import { IndiServer, type IndiServerOptions } from '@indi-ts/indi-server'
import { addTestClient, type TestClient } from '@indi-ts/indi-server/testing'
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

export { RawDriver, ReceivedText as Reader, readInto, type TestClient } from '@indi-ts/indi-server/testing'

/** A client of `server` over an in-memory pair. */
export function addClient(
  server: IndiServer,
  options: { highWaterMark?: number; read?: boolean } = {},
): TestClient {
  return addTestClient(server, { label: 'test', ...options })
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
