#!/usr/bin/env node
/**
 * A camera: a client asks for an exposure through CCD_EXPOSURE (as libindi cameras do); the
 * driver counts the exposure down, then sends a FITS image as a BLOB in CCD1. ABORT cancels it.
 *
 * - CCD_EXPOSURE (rw number, seconds): writing it starts an exposure; while it runs the vector is
 *   Busy and its value counts down; Ok once the image has been sent, Alert if aborted.
 * - CCD_ABORT_EXPOSURE (switch): ABORT stops a running exposure.
 * - CCD_INFO (ro number): sensor size.
 * - CCD1 (ro BLOB): the image, a valid FITS file (see fits.ts).
 *
 * Clients only receive CCD1 after `<enableBLOB device='Camera'>Also</enableBLOB>` (INDI's
 * default is Never). Run on its own: `node dist/camera.js` or `bin/camera`.
 */
import {
  BlobVector,
  Device,
  Driver,
  type DriverOptions,
  NumberVector,
  SwitchVector,
} from '@indi-ts/indi-driver'
import { formatTimestamp } from '@indi-ts/indi-xml'
import { makeFits } from './fits.js'
import { deviceName, isMain, runStandalone } from './standalone.js'
import { sleep } from './thermostat.js'

/** Options of `createCamera()`. */
export interface CameraOptions {
  /** Device name. Default 'Camera'. */
  name?: string
  /** Sensor size in pixels. Default 320 × 240. */
  width?: number
  height?: number
  /** How often the remaining time is published during an exposure (ms). Default 250. */
  countdownMs?: number
  driver?: Omit<DriverOptions, 'devices'>
}

/** Builds the camera driver; call `run()` or hand it to an `IndiServer`. */
export function createCamera(options: CameraOptions = {}): Driver {
  const width = options.width ?? 320
  const height = options.height ?? 240
  const countdownMs = options.countdownMs ?? 250
  const name = options.name ?? 'Camera'

  const exposure = new NumberVector({
    name: 'CCD_EXPOSURE',
    label: 'Expose',
    group: 'Main Control',
    range: 'reject',
    members: [
      {
        name: 'CCD_EXPOSURE_VALUE',
        label: 'Duration (s)',
        format: '%5.2f',
        min: 0,
        max: 3600,
        step: 1,
        value: 1,
      },
    ],
  })
  const abort = new SwitchVector({
    name: 'CCD_ABORT_EXPOSURE',
    label: 'Abort',
    group: 'Main Control',
    rule: 'AtMostOne',
    members: [{ name: 'ABORT', label: 'Abort', value: 'Off' }],
  })
  const info = new NumberVector({
    name: 'CCD_INFO',
    label: 'CCD information',
    group: 'Image Info',
    perm: 'ro',
    members: [
      { name: 'CCD_MAX_X', label: 'Max. width', format: '%4.0f', min: 1, max: 16000, step: 0, value: width },
      {
        name: 'CCD_MAX_Y',
        label: 'Max. height',
        format: '%4.0f',
        min: 1,
        max: 16000,
        step: 0,
        value: height,
      },
    ],
  })
  const image = new BlobVector({
    name: 'CCD1',
    label: 'Image',
    group: 'Image',
    perm: 'ro',
    members: [{ name: 'CCD1', label: 'Image', format: '.fits' }],
  })

  const driver = new Driver({
    ...options.driver,
    devices: [new Device({ name, vectors: [exposure, abort, info, image] })],
  })
  let current: AbortController | undefined
  let frames = 0

  exposure.onNew(async (event) => {
    const seconds = event.values.get('CCD_EXPOSURE_VALUE') ?? 0
    current?.abort()
    const ctl = new AbortController()
    current = ctl
    event.apply()
    await exposure.sendSet({ state: 'Busy' })
    // The exposure runs in its own task, so this handler returns at once and the abort switch
    // (another vector) is handled while the shutter is open.
    driver.spawn(async (stop) => {
      const signal = AbortSignal.any([stop, ctl.signal])
      const end = Date.now() + seconds * 1000
      while (!signal.aborted && Date.now() < end) {
        await sleep(Math.min(countdownMs, end - Date.now()), signal)
        exposure.set('CCD_EXPOSURE_VALUE', Math.max(0, (end - Date.now()) / 1000))
        await exposure.sendSet({ state: 'Busy' })
      }
      if (signal.aborted) return
      current = undefined
      frames++
      const fits = makeFits({
        width,
        height,
        pixels: synthesize(width, height, frames),
        cards: [
          { key: 'EXPTIME', value: seconds, comment: 'exposure time (s)' },
          { key: 'DATE-OBS', value: formatTimestamp(new Date(end - seconds * 1000)), comment: 'UTC start' },
          { key: 'INSTRUME', value: name, comment: 'indi-ts example camera' },
          { key: 'FRAME', value: 'Light' },
        ],
      })
      image.set('CCD1', { data: fits, format: '.fits' })
      // Image first, then Ok: a client that waits for Ok has the frame by then (libindi's order).
      await image.sendSet({ state: 'Ok' })
      exposure.set('CCD_EXPOSURE_VALUE', 0)
      await exposure.sendSet({ state: 'Ok' })
    })
  })

  abort.onNew(async () => {
    const running = current !== undefined
    current?.abort()
    current = undefined
    await abort.sendSet({ state: 'Ok' }) // ABORT is a momentary button: it stays Off
    if (running) await exposure.sendSet({ state: 'Alert', message: 'exposure aborted' })
  })

  return driver
}

/** A dim sky background with a few gaussian stars whose positions move with `frame`. */
function synthesize(width: number, height: number, frame: number): Uint16Array {
  const px = new Uint16Array(width * height)
  const stars = [
    [0.3, 0.4, 20000],
    [0.7, 0.6, 45000],
    [0.5, 0.2, 8000],
  ] as const
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let v = 1000 + ((x * 7 + y * 13 + frame * 31) % 50)
      for (const [sx, sy, peak] of stars) {
        const dx = x - sx * width - frame
        const dy = y - sy * height
        v += peak * Math.exp(-(dx * dx + dy * dy) / 8)
      }
      px[y * width + x] = Math.min(65535, Math.round(v))
    }
  }
  return px
}

if (isMain(import.meta.url)) await runStandalone(createCamera({ name: deviceName('Camera') }))
