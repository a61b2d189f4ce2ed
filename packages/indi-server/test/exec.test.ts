import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Device, Driver, NumberVector, type SnoopEvent, silentLogger } from '@indi-ts/indi-driver'
import { afterEach, describe, expect, it } from 'vitest'
import {
  applyFifoCommand,
  type DriverInfo,
  type FifoWatcher,
  type IndiServer,
  type LogEntry,
  parseFifoLine,
  watchFifo,
} from '../src/index.js'
import { addClient, once, testServer } from './helpers.js'

const FIXTURE = fileURLToPath(new URL('./fixtures/raw-driver.mjs', import.meta.url))
const GP = '<getProperties version="1.7"/>'

let server: IndiServer
let logs: LogEntry[]
const cleanups: (() => void)[] = []
afterEach(async () => {
  await server?.close()
  for (const c of cleanups.splice(0)) c()
})

function start(options: Parameters<typeof testServer>[0] = {}): void {
  const t = testServer(options)
  server = t.server
  logs = t.logs
}

/** Resolves when a log line matches. */
function logged(re: RegExp): Promise<void> {
  return new Promise((resolve) => {
    const check = (): boolean => logs.some((l) => re.test(l.text))
    if (check()) return resolve()
    const t = setInterval(() => {
      if (check()) {
        clearInterval(t)
        resolve()
      }
    }, 5)
  })
}

/** Resolves once `dels` delProperty for `dev` arrived and the driver's defs came back after the last. */
function redefined(c: ReturnType<typeof addClient>, dev: string, dels: number): Promise<void> {
  return c.in.until(() => {
    const t = c.in.text
    const del = `<delProperty device="${dev}"`
    if (c.in.count(del) < dels) return false
    return t.indexOf(`<defSwitchVector device='${dev}'`, t.lastIndexOf(del)) >= 0
  })
}

function pidOf(name: string): number | undefined {
  return server.driverStats().find((d) => d.name === name)?.pid
}

describe('executable drivers', () => {
  it('runs a driver over pipes and forwards its libindi-style output unchanged', async () => {
    start()
    server.addExecutable({ command: process.execPath, args: [FIXTURE, 'Raw1'], name: 'raw1' })
    const c = addClient(server)
    await once(server, 'device')
    c.send(GP)
    await c.in.waitFor("<defSwitchVector device='Raw1' name='CONNECTION'")
    c.send(
      '<newSwitchVector device="Raw1" name="CONNECTION"><oneSwitch name="CONNECT">On</oneSwitch></newSwitchVector>',
    )
    await c.in.waitFor("<setSwitchVector device='Raw1' name='CONNECTION' state='Ok'>")
    expect(c.in.has('<?xml')).toBe(false)
  })

  it('logs each stderr line prefixed with the driver name', async () => {
    start({ verbosity: 0 })
    server.addExecutable({
      command: process.execPath,
      args: [FIXTURE],
      name: 'raw-env',
      env: { INDIDEV: 'Envy' },
    })
    await logged(/^Driver raw-env: env INDIDEV=Envy /)
  })

  it('restarts a SIGKILLed driver: clients get delProperty, then its defs again', async () => {
    start()
    server.addExecutable({ command: process.execPath, args: [FIXTURE, 'Raw2'], name: 'raw2' })
    const c = addClient(server)
    c.send(GP)
    await c.in.waitFor("<defSwitchVector device='Raw2'")
    process.kill(pidOf('raw2')!, 'SIGKILL')
    await redefined(c, 'Raw2', 1)
    expect(logs.some((l) => l.text === 'Driver raw2: restart #0')).toBe(true)
    expect(logs.some((l) => /^Driver raw2: process \d+ killed with signal SIGKILL$/.test(l.text))).toBe(true)
    expect(server.driverStats()[0]).toMatchObject({ name: 'raw2', restarts: 1, running: true })
  })

  it('drops a driver once its -r restarts are used up, and keeps serving', async () => {
    start({ restarts: 1 })
    server.addExecutable({ command: process.execPath, args: [FIXTURE, 'Raw3'], name: 'raw3' })
    const c = addClient(server)
    c.send(GP)
    await c.in.waitFor("<defSwitchVector device='Raw3'")
    process.kill(pidOf('raw3')!, 'SIGKILL')
    await redefined(c, 'Raw3', 1)
    const removed = once<[DriverInfo]>(server, 'driverRemoved')
    const idle = once(server, 'idle')
    process.kill(pidOf('raw3')!, 'SIGKILL')
    const [info] = await removed
    await idle
    expect(info).toMatchObject({ name: 'raw3', restarts: 1, running: false })
    expect(logs.some((l) => l.text === 'Driver raw3: Terminated after #1 restarts.')).toBe(true)
    expect(c.in.count('<delProperty device="Raw3"')).toBe(2)
    server.message('still here')
    await c.in.waitFor('still here')
  })

  it('counts an executable that cannot start as a death and gives up after -r', async () => {
    start({ restarts: 2, verbosity: 0 })
    const removed = once<[DriverInfo]>(server, 'driverRemoved')
    server.addExecutable({ command: '/nonexistent/indi_nothing', name: 'nothing' })
    const [info] = await removed
    expect(info.restarts).toBe(2)
  })
})

describe('snooping between executable and in-process drivers (§2.8)', () => {
  function scopeDriver(): { driver: Driver; coord: NumberVector } {
    const coord = new NumberVector({
      name: 'COORD',
      perm: 'ro',
      members: [{ name: 'RA', format: '%9.6m', min: 0, max: 24, step: 0, value: 1 }],
    })
    const driver = new Driver({
      devices: [new Device({ name: 'Scope', vectors: [coord] })],
      logger: silentLogger,
    })
    return { driver, coord }
  }

  it('an executable driver snooping an in-process Driver gets its defs, then its sets', async () => {
    start({ verbosity: 1 })
    const { driver, coord } = scopeDriver()
    const scope = once(server, 'device')
    server.addDriver(driver, { name: 'scope' })
    await scope
    server.addExecutable({
      command: process.execPath,
      args: [FIXTURE, 'Cam'],
      name: 'cam',
      env: { SNOOP: 'Scope' },
    })
    await logged(/^Driver cam: snooped defNumberVector Scope COORD$/)
    expect(logs.some((l) => l.text === 'Driver cam: snooping on Scope.')).toBe(true)
    coord.set('RA', 5)
    await coord.sendSet()
    await logged(/^Driver cam: snooped setNumberVector Scope COORD$/)
  })

  it('an in-process Driver snooping an executable driver gets its defs', async () => {
    start()
    server.addExecutable({ command: process.execPath, args: [FIXTURE, 'Raw4'], name: 'raw4' })
    await once(server, 'device')
    const { driver } = scopeDriver()
    const sub = driver.snoop({ device: 'Raw4' })
    server.addDriver(driver, { name: 'scope' })
    const events: SnoopEvent[] = []
    for await (const ev of sub) {
      events.push(ev)
      if (ev.type === 'def') break
    }
    expect(events.at(-1)).toMatchObject({ type: 'def', device: 'Raw4', name: 'CONNECTION' })
  })
})

describe('FIFO control (§2.11)', () => {
  function fifo(): string {
    const dir = mkdtempSync(join(tmpdir(), 'indi-server-fifo-'))
    const path = join(dir, 'fifo')
    execFileSync('mkfifo', [path])
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    return path
  }

  function watch(path: string): FifoWatcher {
    const w = watchFifo(path, (line) => {
      const cmd = parseFifoLine(line)
      if (cmd) void applyFifoCommand(server, cmd)
    })
    cleanups.push(() => w.close())
    return w
  }

  it('starts a driver with -n/-c/-s/-p as INDIDEV/INDICONFIG/INDISKEL/INDIPREFIX, and stops it for good', async () => {
    start()
    const path = fifo()
    watch(path)
    const c = addClient(server)
    c.send(GP)
    await c.sync()
    writeFileSync(path, `start ${FIXTURE} -n "My Raw" -c "/tmp/my.xml" -s "/tmp/skel.xml"\n`)
    await c.in.waitFor("<defSwitchVector device='My Raw'")
    await logged(/: env INDIDEV=My Raw INDICONFIG=\/tmp\/my\.xml INDISKEL=\/tmp\/skel\.xml INDIPREFIX=$/)
    const removed = once<[DriverInfo]>(server, 'driverRemoved')
    writeFileSync(path, `stop ${FIXTURE} -n "My Raw"\n`)
    const [info] = await removed
    expect(info.restarts).toBe(0)
    await c.in.until(() => /<delProperty device="My Raw"\s*\/>/.test(c.in.text))
    expect(logs.some((l) => /restart #/.test(l.text))).toBe(false)
  })

  it('runs <prefix>/bin/<driver> for -p', async () => {
    start({ verbosity: 0 })
    const path = fifo()
    watch(path)
    const prefix = mkdtempSync(join(tmpdir(), 'indi-server-prefix-'))
    cleanups.push(() => rmSync(prefix, { recursive: true, force: true }))
    execFileSync('mkdir', ['-p', join(prefix, 'bin')])
    execFileSync('cp', [FIXTURE, join(prefix, 'bin', 'raw-driver')])
    writeFileSync(path, `start raw-driver -n "Prefixed" -p "${prefix}"\n`)
    await logged(new RegExp(`^Driver raw-driver: env INDIDEV=Prefixed .*INDIPREFIX=${prefix}$`))
  })

  it('refuses a path that is not a FIFO', () => {
    start()
    expect(() => watchFifo(FIXTURE, () => {})).toThrow(/not a FIFO/)
  })
})
