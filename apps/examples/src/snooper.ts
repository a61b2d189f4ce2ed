#!/usr/bin/env node
/**
 * A fan controller that snoops the thermostat's TEMPERATURE and switches a fan on when it gets
 * hot, written the indipydriver way: a Driver subclass whose constructor builds the device and
 * its vectors, overriding the three handlers indipydriver users know:
 *
 * | indipydriver          | here                         |
 * | --------------------- | ---------------------------- |
 * | `rxevent(event)`      | `onNewVector(event)`         |
 * | `hardware()`          | `hardware(signal)`           |
 * | `snoopevent(event)`   | `onSnoop(event)`             |
 *
 * Vectors: FAN_MODE (OneOfMany AUTO / ON / OFF), FAN_THRESHOLD (°C, rw), WATCHED (ro copy of the
 * snooped temperature; Alert when the thermostat disappears), FAN (light: RUNNING), FAN_SPEED (ro,
 * rpm, ramped by the hardware loop).
 *
 * Run it next to the thermostat: `indiserver ./bin/thermostat ./bin/snooper`, or in-process in
 * main.ts. On its own: `node dist/snooper.js`.
 */
import {
  Device,
  Driver,
  type DriverOptions,
  LightVector,
  type NewVectorEvent,
  NumberVector,
  type SnoopEvent,
  SwitchVector,
} from '@indi-ts/indi-driver'
import { deviceName, isMain, runStandalone } from './standalone.js'
import { sleep } from './thermostat.js'

/** Options of `new FanController()`. */
export interface FanControllerOptions extends Omit<DriverOptions, 'devices'> {
  /** Device name. Default 'Fan Controller'. */
  name?: string
  /** The device whose TEMPERATURE.CELSIUS is snooped. Default 'Thermostat'. */
  watch?: string
  /** Fan switch-on temperature (°C). Default 30. */
  threshold?: number
  /** Hardware loop period (ms). Default 500. */
  tickMs?: number
}

const MAX_RPM = 1200

/** The fan controller driver (indipydriver style: subclass plus overridden handlers). */
export class FanController extends Driver {
  readonly watch: string
  readonly tickMs: number
  readonly fanMode: SwitchVector
  readonly fanThreshold: NumberVector
  readonly watched: NumberVector
  readonly fan: LightVector
  readonly fanSpeed: NumberVector

  constructor(options: FanControllerOptions = {}) {
    const {
      name = 'Fan Controller',
      watch = 'Thermostat',
      threshold = 30,
      tickMs = 500,
      ...driverOptions
    } = options
    // As in indipydriver, the vectors and the device are built first and passed to the driver.
    const fanMode = new SwitchVector({
      name: 'FAN_MODE',
      label: 'Fan mode',
      group: 'Fan',
      rule: 'OneOfMany',
      members: [
        { name: 'AUTO', label: 'Automatic', value: 'On' },
        { name: 'ON', label: 'Always on', value: 'Off' },
        { name: 'OFF', label: 'Off', value: 'Off' },
      ],
    })
    const fanThreshold = new NumberVector({
      name: 'FAN_THRESHOLD',
      label: 'Switch on above',
      group: 'Fan',
      members: [
        { name: 'CELSIUS', label: '°C', format: '%5.1f', min: -20, max: 90, step: 0.5, value: threshold },
      ],
    })
    const watched = new NumberVector({
      name: 'WATCHED',
      label: `${watch} temperature`,
      group: 'Fan',
      perm: 'ro',
      members: [{ name: 'CELSIUS', label: '°C', format: '%6.2f', min: -50, max: 100, step: 0, value: 0 }],
    })
    const fan = new LightVector({
      name: 'FAN',
      label: 'Fan',
      group: 'Fan',
      members: [{ name: 'RUNNING', value: 'Idle' }],
    })
    const fanSpeed = new NumberVector({
      name: 'FAN_SPEED',
      label: 'Fan speed',
      group: 'Fan',
      perm: 'ro',
      members: [{ name: 'RPM', label: 'rpm', format: '%4.0f', min: 0, max: MAX_RPM, step: 0, value: 0 }],
    })
    super({
      ...driverOptions,
      devices: [new Device({ name, vectors: [fanMode, fanThreshold, watched, fan, fanSpeed] })],
    })
    this.watch = watch
    this.tickMs = tickMs
    this.fanMode = fanMode
    this.fanThreshold = fanThreshold
    this.watched = watched
    this.fan = fan
    this.fanSpeed = fanSpeed
    // indipydriver: send_getProperties / snoop in hardware(); here the request is recorded now and
    // sent as soon as the driver runs (and again after each reconnection). The whole device, not
    // just TEMPERATURE: when a driver dies, servers send `<delProperty device=…/>` without a name,
    // and indiserver (findSDevice) gives that only to drivers snooping the whole device.
    this.snoop({ device: watch })
  }

  /** indipydriver's `rxevent`: one client request; the vectors tell which. */
  protected override async onNewVector(event: NewVectorEvent): Promise<void> {
    if (event.vector === this.fanMode || event.vector === this.fanThreshold) {
      event.apply()
      await event.vector.sendSet({ state: 'Ok' })
      await this.decide()
    }
  }

  /** indipydriver's `snoopevent`: something the watched device published. */
  protected override async onSnoop(event: SnoopEvent): Promise<void> {
    if ((event.type === 'def' || event.type === 'set') && event.name === 'TEMPERATURE') {
      const celsius = event.values.get('CELSIUS')
      if (typeof celsius !== 'number') return
      this.watched.set('CELSIUS', celsius)
      await this.watched.sendSet({ state: 'Ok' })
      await this.decide()
    } else if (event.type === 'delete') {
      // The thermostat went away (its driver stopped or crashed): say so, and fail safe.
      await this.watched.sendSet({ state: 'Alert', message: `${this.watch} is gone` })
      await this.decide()
    }
  }

  /** indipydriver's `hardware`: runs while the driver runs; spins the fan up or down. */
  protected override async hardware(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await sleep(this.tickMs, signal)
      const goal = this.fan.get('RUNNING') === 'Ok' ? MAX_RPM : 0
      const rpm = this.fanSpeed.get('RPM')
      if (rpm === goal) continue
      this.fanSpeed.set('RPM', rpm < goal ? Math.min(goal, rpm + 400) : Math.max(goal, rpm - 400))
      await this.fanSpeed.sendSet({ state: this.fanSpeed.get('RPM') === goal ? 'Ok' : 'Busy' })
    }
  }

  /** Whether the fan should run, from the mode, the threshold and the last snooped temperature. */
  private async decide(): Promise<void> {
    const mode = this.fanMode.on()[0]
    const hot = this.watched.state === 'Ok' && this.watched.get('CELSIUS') > this.fanThreshold.get('CELSIUS')
    // Fail safe: with the thermostat gone, AUTO runs the fan.
    const lost = this.watched.state === 'Alert'
    const run = mode === 'ON' || (mode === 'AUTO' && (hot || lost))
    this.fan.set('RUNNING', run ? 'Ok' : 'Idle')
    await this.fan.sendSet({ onlyChanged: true })
  }
}

if (isMain(import.meta.url)) await runStandalone(new FanController({ name: deviceName('Fan Controller') }))
