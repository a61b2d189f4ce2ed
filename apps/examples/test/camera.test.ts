import { silentLogger } from '@indi-ts/indi-driver'
import { IndiServer } from '@indi-ts/indi-server'
import { afterEach, describe, expect, it } from 'vitest'
import { createCamera } from '../src/camera.js'
import { hasCfitsio, readWithCfitsio } from './cfitsio.js'
import { devicesReady, isDef, logSink, serverClient, type WireClient } from './wire.js'

let server: IndiServer | undefined

async function start(): Promise<WireClient> {
  server = new IndiServer({ logger: logSink().logger })
  const ready = devicesReady(server, 'Camera')
  server.addDriver(
    createCamera({ width: 64, height: 48, countdownMs: 10, driver: { logger: silentLogger } }),
    {
      name: 'camera',
    },
  )
  await ready
  const client = serverClient(server)
  client.send('<getProperties version="1.7"/>')
  await client.waitFor((m) => isDef(m) && m.name === 'CCD1')
  return client
}

afterEach(async () => {
  await server?.close()
  server = undefined
})

const expose = (seconds: string): string =>
  `<newNumberVector device="Camera" name="CCD_EXPOSURE"><oneNumber name="CCD_EXPOSURE_VALUE">${seconds}</oneNumber></newNumberVector>`

describe('camera example', () => {
  it('an exposure goes Busy, then sends a FITS image as a BLOB, then Ok', async () => {
    const client = await start()
    client.send('<enableBLOB device="Camera">Also</enableBLOB>')
    const mark = client.mark()
    client.send(expose('0.05'))
    await client.waitSet('Camera', 'CCD_EXPOSURE', (m) => m.state === 'Busy', mark)
    const blob = await client.waitSet('Camera', 'CCD1', () => true, mark)
    const done = await client.waitSet('Camera', 'CCD_EXPOSURE', (m) => m.state === 'Ok', mark)
    expect(client.messages.indexOf(blob)).toBeLessThan(client.messages.indexOf(done))
    if (blob.tag !== 'setBLOBVector') throw new Error('not a BLOB')
    const one = blob.members[0]!
    expect(one.format).toBe('.fits')
    expect(one.size).toBe(one.data.length)
    expect(one.data.length % 2880).toBe(0)
    expect(Buffer.from(one.data.subarray(0, 30)).toString('latin1')).toBe('SIMPLE  =                    T')
  })

  it.skipIf(!hasCfitsio)('the image reads with cfitsio: size, exposure time and instrument', async () => {
    const client = await start()
    client.send('<enableBLOB device="Camera">Also</enableBLOB>')
    const mark = client.mark()
    client.send(expose('0.02'))
    const blob = await client.waitSet('Camera', 'CCD1', () => true, mark)
    if (blob.tag !== 'setBLOBVector') throw new Error('not a BLOB')
    const read = readWithCfitsio(blob.members[0]!.data, 'EXPTIME', 'INSTRUME')
    expect(read).toMatchObject({ bitpix: 16, naxis: 2, naxes: [64, 48] })
    expect(read.keys).toEqual({ EXPTIME: '0.02', INSTRUME: 'Camera' })
    // Stars on the background: the brightest pixel is far above the sky level (~1000).
    expect(read.max as number).toBeGreaterThan(30000)
  })

  it('sends no BLOB to a client that did not enable them (INDI default Never), but still Ok', async () => {
    const client = await start()
    const mark = client.mark()
    client.send(expose('0'))
    await client.waitSet('Camera', 'CCD_EXPOSURE', (m) => m.state === 'Ok', mark)
    await client.sync()
    expect(client.messages.slice(mark).some((m) => m.tag === 'setBLOBVector')).toBe(false)
  })

  it('ABORT stops a running exposure: Alert, and no image', async () => {
    const client = await start()
    client.send('<enableBLOB device="Camera">Also</enableBLOB>')
    const mark = client.mark()
    client.send(expose('600'))
    await client.waitSet('Camera', 'CCD_EXPOSURE', (m) => m.state === 'Busy', mark)
    client.send(
      '<newSwitchVector device="Camera" name="CCD_ABORT_EXPOSURE"><oneSwitch name="ABORT">On</oneSwitch></newSwitchVector>',
    )
    const aborted = await client.waitSet('Camera', 'CCD_EXPOSURE', (m) => m.state === 'Alert', mark)
    expect(aborted.message).toBe('exposure aborted')
    await client.sync()
    expect(client.messages.slice(mark).some((m) => m.tag === 'setBLOBVector')).toBe(false)
  })

  it('refuses a negative exposure', async () => {
    const client = await start()
    const mark = client.mark()
    client.send(expose('-1'))
    await client.waitMessage('CCD_EXPOSURE', mark)
  })
})
