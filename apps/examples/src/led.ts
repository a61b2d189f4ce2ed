#!/usr/bin/env node
/**
 * The smallest useful driver, and the one docs/from-indipydriver.md puts next to its Python
 * twin: one device with one switch that lights an LED. Written the indipydriver way (a subclass
 * overriding `onNewVector`, the hardware object passed in as typed `context`, where indipydriver
 * has `driverdata`), so the two read line by line.
 *
 * Run on its own: `node dist/led.js` or `bin/led` (`indiserver ./bin/led`).
 */
import { Device, Driver, type NewVectorEvent, SwitchVector } from '@indi-ts/indi-driver'
import { deviceName, isMain, runStandalone } from './standalone.js'

/** Stands in for real hardware (gpiozero's LED on a Raspberry Pi, a relay, a serial command…). */
export class Led {
  isLit = false
  on(): void {
    this.isLit = true
  }
  off(): void {
    this.isLit = false
  }
}

/** The driver: `context` holds the hardware, typed (indipydriver's `driverdata` dict). */
export class LedDriver extends Driver<{ led: Led }> {
  /** indipydriver's `rxevent`: one client request. */
  protected override async onNewVector(event: NewVectorEvent): Promise<void> {
    if (event.type !== 'newSwitchVector' || event.vector.name !== 'LED') return
    const value = event.values.get('LIT') // already checked to be 'On' or 'Off'
    if (value === 'On') this.context.led.on()
    else if (value === 'Off') this.context.led.off()
    event.vector.set('LIT', this.context.led.isLit ? 'On' : 'Off')
    await event.vector.sendSet({ state: 'Ok' })
  }
}

/** indipydriver's `make_driver()`: members, vector, device, driver. */
export function makeLedDriver(name = 'LED', led = new Led()): LedDriver {
  const vector = new SwitchVector({
    name: 'LED',
    label: 'LED',
    group: 'Control',
    perm: 'rw',
    rule: 'AtMostOne',
    state: 'Ok',
    members: [{ name: 'LIT', label: 'LED lit', value: led.isLit ? 'On' : 'Off' }],
  })
  return new LedDriver({ devices: [new Device({ name, vectors: [vector] })], context: { led } })
}

if (isMain(import.meta.url)) await runStandalone(makeLedDriver(deviceName('LED')))
