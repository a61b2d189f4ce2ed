import { IndiServer, type IndiServerOptions, type LogEntry } from '../src/index.js'
import { addTestClient, type TestClient } from '../src/testing.js'

// The in-process test kit is published as @indi-ts/indi-server/testing; these names are the
// ones this package's tests were written with.
export { RawDriver, ReceivedText as Reader, readInto, type TestClient } from '../src/testing.js'

/** A client of the server over an in-memory pair. */
export function addClient(server: IndiServer, label = 'client'): TestClient {
  return addTestClient(server, { label })
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
