/**
 * `npm start` (dist/main.js) read and driven by indilib's own command-line clients.
 */
import { execFile, spawnSync } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { examplesPath, type Spawned, spawnLogged } from '../processes.js'

const run = promisify(execFile)
const hasIndi = spawnSync('sh', ['-c', 'command -v indi_getprop && command -v indi_setprop']).status === 0
// May run in two vitest projects at once: the pool id keeps the ports apart (range 18150–18199).
const PORT = 18161 + 3 * (Number(process.env.VITEST_POOL_ID ?? 1) % 10)
const host = ['-h', '127.0.0.1', '-p', String(PORT)]

if (!hasIndi) it.skip('indilib (indi_getprop, indi_setprop) is not installed: skipped', () => {})

describe.skipIf(!hasIndi)('npm start, read with indi_getprop', () => {
  let server: Spawned
  beforeAll(async () => {
    server = spawnLogged(process.execPath, [examplesPath('dist/main.js'), '-p', String(PORT), '-vv'])
    await server.waitStderr(`listening on 127.0.0.1:${PORT}`)
  })
  afterAll(async () => {
    if (server.child.exitCode === null) {
      server.child.kill('SIGINT')
      expect((await server.exited).code).toBe(0)
    }
  })

  it('indi_getprop lists a property of every example device', async () => {
    const { stdout } = await run('indi_getprop', [...host, '-t', '2'])
    for (const line of [
      'Thermostat.TEMPERATURE.CELSIUS=15',
      'Relay Board.POWER.OFF=On',
      'Camera.CCD_INFO.CCD_MAX_X=320',
      'Fan Controller.FAN_MODE.AUTO=On',
      'LED.LED.LIT=Off',
    ]) {
      expect(stdout).toContain(`${line}\n`)
    }
  })

  // indi_setprop sends its new* right after it has seen the property's definition and closes at
  // once, while the server is still writing other devices' definitions to it. The write fails with
  // EPIPE; the transport must still read and route the new* that had already arrived (indilib #1669).
  it('indi_setprop changes a value of an in-process driver', async () => {
    await run('indi_setprop', [...host, 'Thermostat.THRESHOLD.CELSIUS=42'])
    const { stdout } = await run('indi_getprop', [...host, '-t', '1', 'Thermostat.THRESHOLD.CELSIUS'])
    expect(stdout).toBe('Thermostat.THRESHOLD.CELSIUS=42\n')
  })
})
