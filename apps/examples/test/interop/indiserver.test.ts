/**
 * The example drivers as executables under indilib's own `indiserver` (stdin/stdout an AF_UNIX
 * socket there, protocol reference §B.1), driven by indilib's command-line clients and by a raw
 * TCP client where the wire matters: both driver styles (thermostat: listeners; fan controller:
 * indipydriver-style subclass, snooping the thermostat through indiserver), relays and camera.
 */
import { execFile, spawnSync } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hasCfitsio, readWithCfitsio } from '../cfitsio.js'
import { examplesPath, type Spawned, spawnLogged } from '../processes.js'
import { isDef, memberValue, tcpClient, type WireClient } from '../wire.js'

const run = promisify(execFile)
const hasIndi =
  spawnSync('sh', [
    '-c',
    'command -v indiserver && command -v indi_getprop && command -v indi_setprop && command -v indi_eval',
  ]).status === 0
// This file may run in two vitest projects at once (examples and interop): the pool id keeps
// their ports apart, inside this package's range 18150–18199.
const PORT = 18160 + 3 * (Number(process.env.VITEST_POOL_ID ?? 1) % 10)
const host = ['-h', '127.0.0.1', '-p', String(PORT)]

const getprop = async (...props: string[]): Promise<string> =>
  (await run('indi_getprop', [...host, '-t', '2', ...props])).stdout
const setprop = async (assignment: string): Promise<void> => {
  await run('indi_setprop', [...host, assignment])
}
/** indi_eval -w: waits (up to 20 s) until the expression holds; rejects if it never does. */
const until = async (expression: string): Promise<void> => {
  await run('indi_eval', [...host, '-t', '20', '-w', expression])
}

if (!hasIndi)
  it.skip('indilib (indiserver, indi_getprop, indi_setprop, indi_eval) is not installed: skipped', () => {})

describe.skipIf(!hasIndi)("example drivers under indilib's indiserver", () => {
  let server: Spawned

  beforeAll(async () => {
    server = spawnLogged('indiserver', [
      '-v',
      '-p',
      String(PORT),
      '-u',
      `/tmp/indi-examples-${PORT}-${process.pid}`,
      examplesPath('bin/thermostat'),
      examplesPath('bin/snooper'),
      examplesPath('bin/relays'),
      examplesPath('bin/camera'),
      examplesPath('bin/led'),
    ])
    await server.waitStderr(`listening to port ${PORT}`)
    // Every driver has answered the server's getProperties once indi_getprop lists its last vector.
    await until(
      '"Camera.CCD_INFO.CCD_MAX_X">0 && "Relay Board.OUTPUTS.RELAY4"==0 && "Fan Controller.FAN_SPEED.RPM"==0 && "LED.LED.LIT"==0',
    )
  })

  afterAll(async () => {
    if (server.child.exitCode === null) {
      server.child.kill('SIGTERM')
      await server.exited
    }
  })

  it('indi_getprop lists the thermostat and the fan controller with their values', async () => {
    const lines = (await getprop('Thermostat.*.*', 'Fan Controller.*.*')).trim().split('\n').sort()
    expect(lines).toEqual(
      expect.arrayContaining([
        'Thermostat.TEMPERATURE.CELSIUS=15',
        'Thermostat.TARGET.CELSIUS=15',
        'Thermostat.THRESHOLD.CELSIUS=40',
        'Thermostat.ALARM.OVERHEAT=Ok',
        'Fan Controller.FAN_MODE.AUTO=On',
        'Fan Controller.FAN_THRESHOLD.CELSIUS=30',
        'Fan Controller.FAN.RUNNING=Idle',
      ]),
    )
  })

  it('indi_setprop sets the target; the thermostat replies and its hardware loop follows', async () => {
    await setprop('Thermostat.TARGET.CELSIUS=16')
    await until('"Thermostat.TEMPERATURE.CELSIUS">15.9 && "Thermostat.TARGET._STATE"==1')
    expect(await getprop('Thermostat.TARGET.CELSIUS')).toBe('Thermostat.TARGET.CELSIUS=16\n')
  })

  it('the fan controller (indipydriver style) snoops the thermostat through indiserver and starts the fan', async () => {
    await setprop('Fan Controller.FAN_THRESHOLD.CELSIUS=15.2')
    // Lights read as numbers in indi_eval: Idle 0, Ok 1, Busy 2, Alert 3.
    await until('"Fan Controller.FAN.RUNNING"==1 && "Fan Controller.WATCHED.CELSIUS">15.2')
    await until('"Fan Controller.FAN_SPEED.RPM"==1200')
    expect(server.stderr()).toContain('snooping on Thermostat')
  })

  it('the LED driver (migration guide example) lights up on indi_setprop', async () => {
    await setprop('LED.LED.LIT=On')
    await until('"LED.LED.LIT"==1 && "LED.LED._STATE"==1')
  })

  it('relays: a OneOfMany switch set with indi_setprop turns the others Off', async () => {
    await setprop('Relay Board.POWER.FULL=On')
    await until('"Relay Board.POWER.FULL"==1')
    const lines = (await getprop('Relay Board.POWER.*')).trim().split('\n').sort()
    expect(lines).toEqual([
      'Relay Board.POWER.ECO=Off',
      'Relay Board.POWER.FULL=On',
      'Relay Board.POWER.OFF=Off',
    ])
  })

  describe('camera BLOBs through indiserver (raw TCP client)', () => {
    let client: WireClient
    beforeAll(async () => {
      client = await tcpClient(PORT)
      client.send('<getProperties version="1.7" device="Camera"/>')
      await client.waitFor((m) => isDef(m) && m.name === 'CCD1')
      client.send('<enableBLOB device="Camera">Also</enableBLOB>')
    })
    afterAll(() => client.close())

    it('two exposures in a row each deliver a FITS image (the driver waits on indiserver ping replies)', async () => {
      for (const n of [1, 2]) {
        const mark = client.mark()
        client.send(
          '<newNumberVector device="Camera" name="CCD_EXPOSURE"><oneNumber name="CCD_EXPOSURE_VALUE">0.1</oneNumber></newNumberVector>',
        )
        const blob = await client.waitSet('Camera', 'CCD1', () => true, mark)
        await client.waitSet('Camera', 'CCD_EXPOSURE', (m) => m.state === 'Ok', mark)
        if (blob.tag !== 'setBLOBVector') throw new Error('not a BLOB')
        const image = blob.members[0]!
        expect(image.format, `exposure ${n}`).toBe('.fits')
        expect(image.data.length).toBe(image.size)
        expect(Buffer.from(image.data.subarray(0, 9)).toString('latin1')).toBe('SIMPLE  =')
        if (hasCfitsio) {
          expect(readWithCfitsio(image.data, 'EXPTIME')).toMatchObject({
            naxes: [320, 240],
            keys: { EXPTIME: '0.1' },
          })
        }
      }
    })

    it('a client that did not enable BLOBs sees the exposure complete but no image', async () => {
      const other = await tcpClient(PORT)
      try {
        other.send('<getProperties version="1.7" device="Camera"/>')
        await other.waitFor((m) => isDef(m) && m.name === 'CCD1')
        const mark = other.mark()
        other.send(
          '<newNumberVector device="Camera" name="CCD_EXPOSURE"><oneNumber name="CCD_EXPOSURE_VALUE">0</oneNumber></newNumberVector>',
        )
        const done = await other.waitSet('Camera', 'CCD_EXPOSURE', (m) => m.state === 'Ok', mark)
        expect(memberValue(done, 'CCD_EXPOSURE_VALUE')).toBe('0')
        await other.sync()
        expect(other.messages.some((m) => m.tag === 'setBLOBVector')).toBe(false)
      } finally {
        other.close()
      }
    })
  })

  it('no driver was restarted (none crashed or exited)', () => {
    expect(server.stderr()).not.toMatch(/restart #/)
  })
})
