import { createServer, type Server, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { type IndiServer, type LogEntry, type RemoteStatus, scopeFilter } from '../src/index.js'
import { addClient, RawDriver, Reader, testServer } from './helpers.js'

// Ports 18300–18349 are this file's (parallel test runs never collide).
const GP = '<getProperties version="1.7"/>'
const fastRetry = { remoteMinDelayMs: 10, remoteMaxDelayMs: 40 }
const BLOB_DEF =
  '<defBLOBVector device="Far Cam" name="CCD1" state="Idle" perm="ro"><defBLOB name="CCD1"/></defBLOBVector>'
const BLOB_SET =
  '<setBLOBVector device="Far Cam" name="CCD1" state="Ok"><oneBLOB name="CCD1" size="3" format=".fits">QUJD</oneBLOB></setBLOBVector>'

const servers: IndiServer[] = []
const fakes: FakeRemote[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
  await Promise.all(fakes.splice(0).map((f) => f.close()))
})

/** A bare TCP peer playing a remote INDI server: answers getProperties with `defs`, records input. */
class FakeRemote {
  readonly sockets: Socket[] = []
  /** What each connection received, in connection order. */
  readonly inputs: Reader[] = []
  private server: Server | undefined
  constructor(
    readonly port: number,
    readonly defs: string,
  ) {}

  async start(): Promise<void> {
    this.server = createServer((sock) => {
      const reader = new Reader()
      this.sockets.push(sock)
      this.inputs.push(reader)
      recheck()
      sock.on('data', (d) => {
        const before = reader.count('<getProperties')
        reader.push(d)
        if (reader.count('<getProperties') > before) sock.write(this.defs)
      })
      sock.on('error', () => {})
    })
    await new Promise<void>((r) => this.server!.listen(this.port, '127.0.0.1', r))
  }

  /** Waits for the n-th connection (1-based). */
  async connection(n: number): Promise<{ sock: Socket; in: Reader }> {
    await until(() => this.sockets.length >= n)
    return { sock: this.sockets[n - 1]!, in: this.inputs[n - 1]! }
  }

  send(xml: string, n = this.sockets.length): void {
    this.sockets[n - 1]!.write(xml)
  }

  dropAll(): void {
    for (const s of this.sockets) s.destroy()
  }

  async close(): Promise<void> {
    this.dropAll()
    if (this.server) await new Promise((r) => this.server!.close(r))
    this.server = undefined
  }
}

async function fakeRemote(port: number, defs: string): Promise<FakeRemote> {
  const f = new FakeRemote(port, defs)
  fakes.push(f)
  await f.start()
  return f
}

/** Waiters of `until()`, checked again after every log entry, status event and fake connection. */
const pending = new Set<() => void>()
function recheck(): void {
  for (const check of [...pending]) check()
}

/** Resolves once `test` holds; it is evaluated again on every event of the servers and fakes. */
function until(test: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (!test()) return
      pending.delete(check)
      resolve()
    }
    pending.add(check)
    check()
  })
}

function upstream(options: Parameters<typeof testServer>[0] = {}): {
  server: IndiServer
  logs: LogEntry[]
  status: RemoteStatus[]
} {
  const logs: LogEntry[] = []
  const { server } = testServer({
    port: 0,
    ...fastRetry,
    ...options,
    logger: (e) => {
      logs.push(e)
      recheck()
    },
  })
  servers.push(server)
  const status: RemoteStatus[] = []
  server.on('remoteStatus', (s) => {
    status.push(s)
    recheck()
  })
  return { server, logs, status }
}

describe('remote links: the blobs flag (parity §7 remote links)', () => {
  it('answers each defBLOBVector of the remote with enableBLOB Also under blobs: true', async () => {
    const far = await fakeRemote(18300, BLOB_DEF)
    const { server } = upstream()
    server.addRemote({ host: '127.0.0.1', port: 18300, blobs: true })
    const { in: remoteIn } = await far.connection(1)
    await remoteIn.until(() =>
      /<enableBLOB device="Far Cam" name="CCD1">Also<\/enableBLOB>/.test(remoteIn.text),
    )
  })

  it('under blobs: false answers Never and drops the remote setBLOBVector before any client', async () => {
    const far = await fakeRemote(18301, BLOB_DEF)
    const { server } = upstream()
    server.addRemote({ host: '127.0.0.1', port: 18301, blobs: false })
    const c = addClient(server)
    c.send(`${GP}<enableBLOB device="Far Cam">Also</enableBLOB>`)
    await c.in.waitFor('<defBLOBVector device="Far Cam"')
    const { in: remoteIn } = await far.connection(1)
    await remoteIn.waitFor('<enableBLOB device="Far Cam" name="CCD1">Never</enableBLOB>')
    far.send(BLOB_SET)
    far.send('<message device="Far Cam" message="after the BLOB"/>')
    await c.in.waitFor('after the BLOB')
    expect(c.in.has('<setBLOBVector')).toBe(false)
    expect(server.driverStats()[0]!.dropped).toBe(1)
  })

  it('under blobs: false never sends a client enableBLOB or newBLOBVector to the remote', async () => {
    const far = await fakeRemote(18302, BLOB_DEF)
    const { server } = upstream()
    server.addRemote({ host: '127.0.0.1', port: 18302, blobs: false })
    const c = addClient(server)
    c.send(GP)
    await c.in.waitFor('<defBLOBVector device="Far Cam"')
    c.send('<enableBLOB device="Far Cam">Also</enableBLOB>')
    c.send(
      '<newBLOBVector device="Far Cam" name="CCD1"><oneBLOB name="CCD1" size="3" format=".bin">QUJD</oneBLOB></newBLOBVector>',
    )
    c.send('<newSwitchVector device="Far Cam" name="X"><oneSwitch name="Y">On</oneSwitch></newSwitchVector>')
    const { in: remoteIn } = await far.connection(1)
    await remoteIn.waitFor('<newSwitchVector device="Far Cam"')
    expect(remoteIn.has('>Also<')).toBe(false)
    expect(remoteIn.has('<newBLOBVector')).toBe(false)
  })

  it('passes BLOBs through by client policy when the flag is absent (indiserver behaviour)', async () => {
    const far = await fakeRemote(18303, BLOB_DEF)
    const { server } = upstream()
    server.addRemote({ host: '127.0.0.1', port: 18303 })
    const c = addClient(server)
    c.send(GP)
    await c.in.waitFor('<defBLOBVector device="Far Cam"')
    const { in: remoteIn } = await far.connection(1)
    c.send('<enableBLOB device="Far Cam">Also</enableBLOB>')
    await remoteIn.waitFor('<enableBLOB device="Far Cam">Also</enableBLOB>')
    far.send(BLOB_SET)
    await c.in.waitFor('<setBLOBVector device="Far Cam"')
  })
})

describe('remote links: reconnection (parity §9 remote servers)', () => {
  it("re-sends clients' enableBLOB to a remote after it reconnects", async () => {
    const far = await fakeRemote(18304, BLOB_DEF)
    const { server } = upstream()
    server.addRemote({ host: '127.0.0.1', port: 18304 })
    const c = addClient(server)
    c.send(GP)
    await c.in.waitFor('<defBLOBVector device="Far Cam"')
    c.send('<enableBLOB device="Far Cam" name="CCD1">Also</enableBLOB>')
    const first = await far.connection(1)
    await first.in.waitFor('<enableBLOB device="Far Cam" name="CCD1">Also</enableBLOB>')
    first.sock.destroy()
    const second = await far.connection(2)
    await second.in.waitFor('<enableBLOB device="Far Cam" name="CCD1">Also</enableBLOB>')
    // After the handshake, so the remote's client record exists when the policy arrives.
    expect(second.in.text.indexOf('<getProperties')).toBeLessThan(second.in.text.indexOf('<enableBLOB'))
    far.send(BLOB_SET, 2)
    await c.in.waitFor('<setBLOBVector device="Far Cam"')
  })

  it('emits remoteStatus once per state change, not once per retry', async () => {
    const { server, logs, status } = upstream({ verbosity: 2 })
    server.addRemote({ host: '127.0.0.1', port: 18305 })
    const retries = (): number => logs.filter((l) => l.text.includes('retrying')).length
    await until(() => retries() >= 4)
    expect(status.map((s) => s.state)).toEqual(['disconnected'])
    expect(status[0]!.previous).toBe('connecting')
    expect(status[0]!.error).toBeInstanceOf(Error)
    const far = await fakeRemote(18305, BLOB_DEF)
    await far.connection(1)
    await until(() => status.length >= 2)
    expect(status[1]).toMatchObject({ state: 'connected', previous: 'disconnected', port: 18305 })
    far.dropAll()
    await until(() => status.length >= 3)
    expect(status[2]).toMatchObject({ state: 'disconnected', previous: 'connected' })
  })

  it('reports stopped when the link is removed', async () => {
    const { server, status } = upstream()
    const info = server.addRemote({ host: '127.0.0.1', port: 18306 })
    await until(() => status.length === 1)
    await server.removeDriver(info)
    expect(status.map((s) => s.state)).toEqual(['disconnected', 'stopped'])
  })

  it('with statusMessages sends clients one message per state change, none per retry', async () => {
    const { server, logs } = upstream({ verbosity: 2 })
    const near = new RawDriver(['Near'])
    server.addDriver(near, { name: 'near' })
    const c = addClient(server)
    c.send(GP)
    await c.in.waitFor('<defSwitchVector device="Near"')
    server.addRemote({ host: '127.0.0.1', port: 18307, statusMessages: true })
    const retries = (): number => logs.filter((l) => l.text.includes('retrying')).length
    await until(() => retries() >= 4)
    await c.sync()
    expect(c.in.count('@127.0.0.1:18307 disconnected')).toBe(1)
    const far = await fakeRemote(18307, BLOB_DEF)
    await far.connection(1)
    await c.in.waitFor('@127.0.0.1:18307 connected')
    await c.sync()
    expect(c.in.count('<message ')).toBe(2)
  })

  it('sends no status message to clients by default (indiserver sends none)', async () => {
    const { server, status } = upstream()
    const c = addClient(server)
    c.send(GP)
    server.addRemote({ host: '127.0.0.1', port: 18308 })
    await until(() => status.length === 1)
    await c.sync()
    expect(c.in.has('<message')).toBe(false)
  })
})

describe('scoped, structured logs and trace switches (parity §10)', () => {
  it('logs remote status under the indi:server:remote scope with structured fields', async () => {
    const { server, logs, status } = upstream()
    server.addRemote({ host: '127.0.0.1', port: 18309 })
    await until(() => status.length === 1)
    const entry = logs.find((l) => l.scope === 'indi:server:remote' && l.fields?.state === 'disconnected')
    expect(entry?.fields).toMatchObject({ remote: '@127.0.0.1:18309', previous: 'connecting' })
  })

  it('scopeFilter passes only the scopes asked for, with * matching child scopes', () => {
    const got: string[] = []
    const sink = scopeFilter('indi:server:remote, indi:server:trace:*', (e) => got.push(e.text))
    const at = (scope: string | undefined, text: string): void =>
      sink({ level: 1, text, time: new Date(), ...(scope ? { scope } : {}) })
    at('indi:server:remote', 'a')
    at('indi:server:client', 'b')
    at(undefined, 'c')
    at('indi:server:trace:x', 'd')
    at('indi:server:remotes', 'e')
    expect(got).toEqual(['a', 'd'])
    const all: string[] = []
    const root = scopeFilter('indi:server*', (e) => all.push(e.text))
    root({ level: 0, text: 'plain', time: new Date() })
    expect(all).toEqual(['plain'])
  })

  it('traces one client at verbosity 0 with setTrace, and stops when switched off', async () => {
    const { server, logs } = upstream({ verbosity: 0 })
    const a = addClient(server, 'a')
    const b = addClient(server, 'b')
    expect(server.setTrace({ client: a.id })).toBe(true)
    a.send('<getProperties version="1.7" device="Traced"/>')
    b.send('<getProperties version="1.7" device="Untraced"/>')
    await a.sync()
    await b.sync()
    const traced = logs.filter((l) => l.scope === 'indi:server:trace')
    expect(traced.some((l) => l.text.includes('device="Traced"'))).toBe(true)
    expect(traced.some((l) => l.text.includes('Untraced'))).toBe(false)
    expect(traced.every((l) => l.fields?.peer !== undefined)).toBe(true)
    server.setTrace({ client: a.id }, false)
    const n = logs.length
    a.send('<getProperties version="1.7" device="Later"/>')
    await a.sync()
    expect(logs.slice(n).some((l) => l.text.includes('Later'))).toBe(false)
    expect(server.setTrace({ client: 999 })).toBe(false)
  })

  it('traces one driver with setTrace, BLOB payloads elided to head and size', async () => {
    const { server, logs } = upstream({ verbosity: 0 })
    const cam = new RawDriver(['Cam'])
    const info = server.addDriver(cam, { name: 'cam' })
    await cam.ready
    expect(server.setTrace({ driver: 'cam' })).toBe(true)
    const c = addClient(server)
    c.send(`${GP}<enableBLOB device="Cam">Also</enableBLOB>`)
    await c.in.waitFor('<defSwitchVector device="Cam"')
    const payload = 'QUJD'.repeat(1000)
    cam.send(
      `<setBLOBVector device="Cam" name="CCD1" state="Ok"><oneBLOB name="CCD1" size="3000" format=".fits">${payload}</oneBLOB></setBLOBVector>`,
    )
    await c.in.waitFor('<setBLOBVector device="Cam"')
    const blobLine = logs.find((l) => l.scope === 'indi:server:trace' && l.text.includes('<setBLOBVector'))
    expect(blobLine?.text).toMatch(/… \(\d+ bytes\)$/)
    expect(blobLine!.text.length).toBeLessThan(700)
    expect(blobLine?.fields).toMatchObject({ tag: 'setBLOBVector', device: 'Cam', name: 'CCD1' })
    expect(server.setTrace({ driver: info }, false)).toBe(true)
  })
})
