#!/usr/bin/env node
/**
 * Thermostat, written the TypeScript way: the driver is assembled from plain objects and
 * behaviour is attached with typed listeners (`vector.onNew`) and a background task
 * (`driver.spawn`), no subclass.
 *
 * - TEMPERATURE (ro): the measured temperature, updated by the "hardware" loop;
 * - TARGET (rw): the set point a client chooses; the heater drives the temperature towards it;
 * - THRESHOLD (rw): above this temperature the alarm goes off;
 * - ALARM (light): OVERHEAT is Ok below the threshold and Alert above it.
 *
 * Run on its own over stdin/stdout: `node dist/thermostat.js` (or `bin/thermostat`, which
 * indilib's `indiserver` can start: `indiserver ./bin/thermostat`).
 */
import { Device, Driver, type DriverOptions, LightVector, NumberVector } from '@indi-ts/indi-driver'
import { deviceName, isMain, runStandalone } from './standalone.js'

/** Options of `createThermostat()`. */
export interface ThermostatOptions {
  /** Device name. Default 'Thermostat'. */
  name?: string
  /** Simulated hardware period (ms). Default 1000; tests use a few ms. */
  tickMs?: number
  /** Degrees the heater or cooling changes the temperature per tick. Default 0.5. */
  ratePerTick?: number
  /** Starting temperature (°C). Default 15. */
  initial?: number
  /** Starting target (°C). Default 15. */
  target?: number
  /** Alarm threshold (°C). Default 40. */
  threshold?: number
  /** Passed on to `new Driver()` (logger, …). */
  driver?: Omit<DriverOptions, 'devices'>
}

/** Builds the thermostat driver; call `run()` or hand it to an `IndiServer`. */
export function createThermostat(options: ThermostatOptions = {}): Driver {
  const tickMs = options.tickMs ?? 1000
  const rate = options.ratePerTick ?? 0.5

  const temperature = new NumberVector({
    name: 'TEMPERATURE',
    label: 'Temperature',
    group: 'Status',
    perm: 'ro',
    members: [
      {
        name: 'CELSIUS',
        label: 'Measured (°C)',
        format: '%6.2f',
        min: -50,
        max: 100,
        step: 0,
        value: options.initial ?? 15,
      },
    ],
  })
  const target = new NumberVector({
    name: 'TARGET',
    label: 'Target',
    group: 'Control',
    perm: 'rw',
    // 'reject': a set point outside [min, max] is refused with a message instead of applied.
    range: 'reject',
    members: [
      {
        name: 'CELSIUS',
        label: 'Target (°C)',
        format: '%6.2f',
        min: -20,
        max: 90,
        step: 0.5,
        value: options.target ?? 15,
      },
    ],
  })
  const threshold = new NumberVector({
    name: 'THRESHOLD',
    label: 'Alarm threshold',
    group: 'Control',
    perm: 'rw',
    members: [
      {
        name: 'CELSIUS',
        label: 'Alarm above (°C)',
        format: '%6.2f',
        min: 0,
        max: 100,
        step: 1,
        value: options.threshold ?? 40,
      },
    ],
  })
  const alarm = new LightVector({
    name: 'ALARM',
    label: 'Alarm',
    group: 'Status',
    members: [{ name: 'OVERHEAT', label: 'Over temperature', value: 'Ok' }],
  })

  // Client requests: typed listeners. `event.values` holds parsed numbers (sexagesimal too), and
  // the framework has already refused malformed or out-of-range input with a message.
  target.onNew(async (event) => {
    event.apply()
    // Busy until the temperature reaches it: the hardware loop turns it Ok.
    await target.sendSet({ state: 'Busy', message: `heading for ${target.formatted('CELSIUS').trim()} °C` })
  })
  threshold.onNew(async (event) => {
    event.apply()
    await threshold.sendSet({ state: 'Ok' })
    await updateAlarm()
  })

  async function updateAlarm(): Promise<void> {
    const hot = temperature.get('CELSIUS') > threshold.get('CELSIUS')
    alarm.set('OVERHEAT', hot ? 'Alert' : 'Ok')
    // onlyChanged: nothing goes out while the light stays as it was.
    await alarm.sendSet({ state: hot ? 'Alert' : 'Ok', onlyChanged: true })
  }

  const device = new Device({
    name: options.name ?? 'Thermostat',
    vectors: [temperature, target, threshold, alarm],
  })
  const driver = new Driver({ ...options.driver, devices: [device] })

  // The "hardware": a background task that ends when the driver shuts down (signal aborted).
  driver.spawn(async (signal) => {
    while (!signal.aborted) {
      await sleep(tickMs, signal)
      const now = temperature.get('CELSIUS')
      const goal = target.get('CELSIUS')
      const step = Math.sign(goal - now) * Math.min(rate, Math.abs(goal - now))
      if (step !== 0) {
        temperature.set('CELSIUS', Math.round((now + step) * 100) / 100)
        await temperature.sendSet({ state: 'Ok' })
        if (temperature.get('CELSIUS') === goal)
          await target.sendSet({ state: 'Ok', message: 'target reached' })
      }
      await updateAlarm()
    }
  })
  return driver
}

/** setTimeout as a promise that settles early (quietly) when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const done = (): void => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}

if (isMain(import.meta.url)) await runStandalone(createThermostat({ name: deviceName('Thermostat') }))
