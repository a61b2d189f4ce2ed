/**
 * A driver built on @indi-ts/indi-driver under indilib's real indiserver: the server spawns
 * test/fixtures/thermo-driver.mjs (stdin/stdout an AF_UNIX socketpair there, protocol §2.3);
 * indi_getprop reads its properties and indi_setprop changes them.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process'
import { createConnection } from 'node:net'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const run = promisify(execFile)
const FIXTURE = fileURLToPath(new URL('../fixtures/thermo-driver.mjs', import.meta.url))
const hasIndi = spawnSync('sh', ['-c', 'command -v indiserver && command -v indi_getprop']).status === 0
const PORT = 17760

async function waitForPort(port: number): Promise<void> {
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port }, () => {
        s.destroy()
        resolve(true)
      })
      s.on('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((r) => setTimeout(r, 50))
  }
}

const getprop = async (...args: string[]) =>
  (await run('indi_getprop', ['-h', '127.0.0.1', '-p', String(PORT), '-t', '1', ...args])).stdout

describe.skipIf(!hasIndi)('under indilib indiserver', () => {
  let server: ChildProcess
  let log = ''

  beforeAll(async () => {
    server = spawn('indiserver', ['-v', '-p', String(PORT), '-u', `/tmp/indi-drv-${process.pid}`, FIXTURE], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    server.stderr!.on('data', (b: Buffer) => {
      log += b.toString()
    })
    await waitForPort(PORT)
    // Wait until the driver answered the server's getProperties.
    for (let i = 0; i < 20; i++) {
      const out = await getprop('Thermo.*.*').catch(() => '')
      if (out.includes('Thermo.NOTE.TEXT')) return
    }
    throw new Error(`the driver never defined its properties; server log:\n${log}`)
  })

  afterAll(async () => {
    if (server.exitCode === null) {
      const gone = new Promise((r) => server.on('exit', r))
      server.kill('SIGTERM')
      await gone
    }
  })

  it('indi_getprop lists every member with its value', async () => {
    const out = await getprop('Thermo.*.*')
    const lines = out.trim().split('\n').sort()
    expect(lines).toEqual(
      [
        'Thermo.MODE.COOL=Off',
        'Thermo.MODE.HEAT=On',
        'Thermo.NOTE.TEXT=hello',
        // indi_getprop prints the wire value (%.20g), not the display format
        'Thermo.TARGET.HA=0',
        'Thermo.TARGET.TEMP=20',
      ].sort(),
    )
  })

  it('indi_setprop sets numbers (sexagesimal too) and the driver replies with the new values', async () => {
    await run('indi_setprop', ['-h', '127.0.0.1', '-p', String(PORT), 'Thermo.TARGET.TEMP;HA=12.5;-1:30'])
    let out = ''
    for (let i = 0; i < 20 && !out.includes('TEMP=12.5'); i++) out = await getprop('Thermo.TARGET.*')
    expect(out).toContain('Thermo.TARGET.TEMP=12.5\n')
    expect(out).toContain('Thermo.TARGET.HA=-1.5\n')
  })

  it('indi_setprop switching one OneOfMany member On turns the other Off', async () => {
    await run('indi_setprop', ['-h', '127.0.0.1', '-p', String(PORT), 'Thermo.MODE.COOL=On'])
    let out = ''
    for (let i = 0; i < 20 && !out.includes('COOL=On'); i++) out = await getprop('Thermo.MODE.*')
    expect(out).toContain('Thermo.MODE.COOL=On')
    expect(out).toContain('Thermo.MODE.HEAT=Off')
    expect(log).not.toContain('restart')
  })
})

describe.skipIf(!hasIndi)('snooping under indilib indiserver', () => {
  const port = 17761
  let server: ChildProcess

  beforeAll(async () => {
    const snooper = fileURLToPath(new URL('../fixtures/snooper-driver.mjs', import.meta.url))
    server = spawn(
      'indiserver',
      ['-p', String(port), '-u', `/tmp/indi-drv-snoop-${process.pid}`, 'indi_simulator_telescope', snooper],
      {
        stdio: ['ignore', 'ignore', 'ignore'],
      },
    )
    await waitForPort(port)
  })

  afterAll(async () => {
    if (server.exitCode === null) {
      const gone = new Promise((r) => server.on('exit', r))
      server.kill('SIGTERM')
      await gone
    }
  })

  it("receives the telescope's coordinates through its snoop subscription", async () => {
    const get = async (what: string) =>
      (
        await run('indi_getprop', ['-h', '127.0.0.1', '-p', String(port), '-t', '1', what]).catch(() => ({
          stdout: '',
        }))
      ).stdout
    // The simulator defines its coordinates only once connected (protocol §1.5, dynamic properties).
    await run('indi_setprop', [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      'Telescope Simulator.CONNECTION.CONNECT=On',
    ])
    let snooped = ''
    for (let i = 0; i < 20 && !/Snooper\.SEEN\.EVENTS=[1-9]/.test(snooped); i++)
      snooped = await get('Snooper.SEEN.*')
    expect(snooped).toMatch(/Snooper\.SEEN\.EVENTS=[1-9]/)
    const ra = Number(/Snooper\.SEEN\.RA=(\S+)/.exec(snooped)?.[1])
    const tele = await get('Telescope Simulator.EQUATORIAL_EOD_COORD.RA')
    const teleRa = Number(/RA=(\S+)/.exec(tele)?.[1])
    expect(ra).toBeGreaterThanOrEqual(0)
    expect(Math.abs(ra - teleRa)).toBeLessThan(0.1)
  })
})
