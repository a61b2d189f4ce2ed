import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Connection } from '@indi-ts/transport'
import { afterEach, describe, expect, it } from 'vitest'
import type { DriverInfo, IndiServer, LogEntry } from '../src/index.js'
import { addClient, once, RawDriver, testServer } from './helpers.js'

const FIXTURE = fileURLToPath(new URL('./fixtures/raw-driver.mjs', import.meta.url))
const GP = '<getProperties version="1.7"/>'

let server: IndiServer
let logs: LogEntry[]
const dirs: string[] = []
afterEach(async () => {
  await server?.close()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function start(options: Parameters<typeof testServer>[0] = {}): void {
  const t = testServer(options)
  server = t.server
  logs = t.logs
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('driver lifecycle', () => {
  it('restarts an in-process driver whose run() fails, with delProperty in between', async () => {
    start()
    let runs = 0
    const inner = new RawDriver(['Fragile'])
    const driver = {
      run: async (opts: { connection?: Connection; signal?: AbortSignal }) => {
        runs++
        if (runs === 1) {
          opts.connection!.send(
            Buffer.from(
              '<defSwitchVector device="Fragile" name="S" state="Idle" perm="rw" rule="OneOfMany"><defSwitch name="A">On</defSwitch></defSwitchVector>',
            ),
          )
          throw new Error('hardware fault')
        }
        return inner.run(opts)
      },
    }
    const c = addClient(server)
    c.send(GP)
    await c.sync()
    server.addDriver(driver, { name: 'fragile' })
    await c.in.until(() => /<delProperty device="Fragile"\s*\/>/.test(c.in.text))
    await c.in.waitFor('<defSwitchVector device="Fragile" name="CONNECTION"')
    expect(runs).toBe(2)
    expect(logs.some((l) => l.text === 'Driver fragile: restart #0')).toBe(true)
  })

  it('removeDriver closes an executable driver stdin so it exits by itself, with delProperty and no restart', async () => {
    start()
    server.addExecutable({ command: process.execPath, args: [FIXTURE, 'Leaving'], name: 'leaving' })
    const c = addClient(server)
    c.send(GP)
    await c.in.waitFor("<defSwitchVector device='Leaving'")
    const pid = server.driverStats()[0]!.pid!
    const exited = once<[DriverInfo, { code: number | null; signal: string | null }]>(server, 'driverExited')
    expect(await server.removeDriver('leaving')).toBe(true)
    const [, status] = await exited
    expect(status).toEqual({ code: 0, signal: null })
    expect(alive(pid)).toBe(false)
    expect(server.driverStats()).toEqual([])
    expect(c.in.text).toMatch(/<delProperty device="Leaving"\s*\/>/)
    expect(logs.some((l) => /restart #/.test(l.text))).toBe(false)
  })

  it('removeDriver resolves false for an unknown driver', async () => {
    start()
    expect(await server.removeDriver('nobody')).toBe(false)
  })

  it('close() stops every executable driver (no orphans) and ends every client', async () => {
    start()
    server.addExecutable({ command: process.execPath, args: [FIXTURE, 'One'], name: 'one' })
    server.addExecutable({ command: process.execPath, args: [FIXTURE, 'Two'], name: 'two' })
    const c = addClient(server)
    c.send(GP)
    await c.in.waitFor('<defSwitchVector', 2)
    const pids = server.driverStats().map((d) => d.pid!)
    await server.close()
    for (const pid of pids) expect(alive(pid)).toBe(false)
    await c.in.until(() => c.in.ended)
  })
})

describe('TCP clients', () => {
  it('refuses a TCP client outside --allow before it is served', async () => {
    start({ port: 0, allow: ['10.0.0.0/8'] })
    const refused = new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (logs.some((l) => /^refused 127\.0\.0\.1:\d+ \(not-allowed\)$/.test(l.text))) {
          clearInterval(t)
          resolve()
        }
      }, 5)
    })
    const { port } = await server.listen()
    const { connect } = await import('node:net')
    const sock = connect({ host: '127.0.0.1', port })
    sock.on('error', () => {})
    const closed = new Promise((r) => sock.once('close', r))
    await refused
    await closed
    expect(server.clientStats()).toEqual([])
  })

  it('serves TCP clients, with their address as label', async () => {
    start({ port: 0 })
    const { port } = await server.listen()
    const { connect } = await import('node:net')
    const arrived = once<[{ label: string }]>(server, 'client')
    const sock = connect({ host: '127.0.0.1', port })
    const [info] = await arrived
    expect(info.label).toMatch(/127\.0\.0\.1/)
    sock.destroy()
  })
})

describe('-l driver message log (§2.14)', () => {
  it('appends "<timestamp>: <device>: <message>" to <dir>/<date>.islog', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'indi-server-log-'))
    dirs.push(dir)
    start({ logDir: dir })
    const d = new RawDriver(['Logger'])
    const known = once(server, 'device')
    server.addDriver(d, { name: 'logger' })
    await known
    const c = addClient(server)
    c.send(GP)
    await c.sync()
    d.send(
      '<message device="Logger" timestamp="2026-11-24T01:26:33" message="[INFO] Telescope simulator is online."/>',
    )
    d.send(
      '<setSwitchVector device="Logger" name="S" state="Ok" timestamp="2026-11-24T01:26:34" message="switched"><oneSwitch name="A">On</oneSwitch></setSwitchVector>',
    )
    await c.in.waitFor('message="switched"')
    await server.close()
    expect(readFileSync(join(dir, '2026-11-24.islog'), 'utf8')).toBe(
      '2026-11-24T01:26:33: Logger: [INFO] Telescope simulator is online.\n2026-11-24T01:26:34: Logger: switched\n',
    )
  })
})

describe('keep-alive pings (optional)', () => {
  it('pings a silent client and keeps it while it answers', async () => {
    start({ pingIntervalMs: 40 })
    const c = addClient(server)
    await c.in.until(() => /<pingRequest uid="indi-server\/\d+"\s*\/>/.test(c.in.text))
    const uid = /<pingRequest uid="([^"]+)"/.exec(c.in.text)![1]!
    c.send(`<pingReply uid="${uid}"/>`)
    await c.in.until(() => c.in.count('<pingRequest') >= 2)
    expect(server.clientStats().map((s) => s.id)).toEqual([c.id])
  })

  it('closes a client that never answers with ERR_INDI_SLOW_PEER', async () => {
    start({ pingIntervalMs: 40 })
    const c = addClient(server)
    const [, reason] = await once<[unknown, Error | undefined]>(server, 'clientClosed')
    expect((reason as { code?: string }).code).toBe('ERR_INDI_SLOW_PEER')
    expect(c.in.has('<pingRequest')).toBe(true)
  })
})
