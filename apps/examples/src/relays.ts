#!/usr/bin/env node
/**
 * A relay board with status LEDs: one SwitchVector for each switch rule, handled the TypeScript
 * way by iterating `driver.commands()` (an async iterable of typed client requests).
 *
 * - POWER (OneOfMany): exactly one of OFF / ECO / FULL is On. A client names the member it wants On
 *   and the framework turns the others Off (as libindi clients expect).
 * - LED (AtMostOne): RED / GREEN / BLUE, at most one lit, all may be off.
 * - RELAYS (AnyOfMany): four independent relays.
 * - OUTPUTS (light): mirrors the relays (Ok = energised, Idle = open), what a panel would show.
 *
 * The rules are enforced before your code sees the request: two On members for OneOfMany or
 * AtMostOne are refused with a message to the client.
 *
 * Run on its own: `node dist/relays.js` or `bin/relays` (e.g. `indiserver ./bin/relays`).
 */
import { Device, Driver, type DriverOptions, LightVector, SwitchVector } from '@indi-ts/indi-driver'
import { deviceName, isMain, runStandalone } from './standalone.js'

/** Options of `createRelays()`. */
export interface RelaysOptions {
  /** Device name. Default 'Relay Board'. */
  name?: string
  /** Number of relays (1–16). Default 4. */
  relays?: number
  driver?: Omit<DriverOptions, 'devices'>
}

/** Builds the relay-board driver; call `run()` or hand it to an `IndiServer`. */
export function createRelays(options: RelaysOptions = {}): Driver {
  const count = options.relays ?? 4
  const relayNames = Array.from({ length: count }, (_, i) => `RELAY${i + 1}`)

  const power = new SwitchVector({
    name: 'POWER',
    label: 'Power mode',
    group: 'Main',
    rule: 'OneOfMany',
    members: [
      { name: 'OFF', label: 'Off', value: 'On' },
      { name: 'ECO', label: 'Economy', value: 'Off' },
      { name: 'FULL', label: 'Full power', value: 'Off' },
    ],
  })
  const led = new SwitchVector({
    name: 'LED',
    label: 'Status LED',
    group: 'Main',
    rule: 'AtMostOne',
    members: ['RED', 'GREEN', 'BLUE'].map((name) => ({ name, value: 'Off' as const })),
  })
  const relays = new SwitchVector({
    name: 'RELAYS',
    label: 'Relays',
    group: 'Relays',
    rule: 'AnyOfMany',
    members: relayNames.map((name, i) => ({ name, label: `Relay ${i + 1}`, value: 'Off' as const })),
  })
  const outputs = new LightVector({
    name: 'OUTPUTS',
    label: 'Outputs',
    group: 'Relays',
    members: relayNames.map((name, i) => ({ name, label: `Output ${i + 1}`, value: 'Idle' as const })),
  })

  const driver = new Driver({
    ...options.driver,
    devices: [new Device({ name: options.name ?? 'Relay Board', vectors: [power, led, relays, outputs] })],
  })

  // One loop handles every client request, in arrival order. It ends when the driver shuts down.
  driver.spawn(async (signal) => {
    for await (const event of driver.commands({ signal })) {
      if (event.type !== 'newSwitchVector') continue
      // `values` is already the complete proposal after the rule, so applying it is enough.
      event.apply()
      const v = event.vector
      if (v === power && power.get('OFF') === 'On') {
        // Switching the board off opens every relay: state the consequence, as hardware would.
        for (const r of relayNames) relays.set(r, 'Off')
        await relays.sendSet({ state: 'Idle', onlyChanged: true })
      }
      if (v === relays && power.get('OFF') === 'On' && relays.on().length > 0) {
        // Relays cannot close without power: undo and tell the client why.
        for (const r of relayNames) relays.set(r, 'Off')
        await relays.sendSet({ state: 'Alert', message: 'power is off: relays stay open' })
        continue
      }
      await v.sendSet({ state: 'Ok' })
      if (v === relays || v === power) {
        for (const r of relayNames) outputs.set(r, relays.get(r) === 'On' ? 'Ok' : 'Idle')
        await outputs.sendSet({ onlyChanged: true })
      }
    }
  })
  return driver
}

if (isMain(import.meta.url)) await runStandalone(createRelays({ name: deviceName('Relay Board') }))
