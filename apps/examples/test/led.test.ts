import { IndiServer } from '@indi-ts/indi-server'
import { afterEach, describe, expect, it } from 'vitest'
import { Led, makeLedDriver } from '../src/led.js'
import { devicesReady, isDef, logSink, memberValue, serverClient, type WireClient } from './wire.js'

let server: IndiServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

async function start(led: Led): Promise<WireClient> {
  server = new IndiServer({ logger: logSink().logger })
  const ready = devicesReady(server, 'LED')
  server.addDriver(makeLedDriver('LED', led), { name: 'led' })
  await ready
  const client = serverClient(server)
  client.send('<getProperties version="1.7"/>')
  await client.waitFor(isDef)
  return client
}

const lit = (v: 'On' | 'Off'): string =>
  `<newSwitchVector device="LED" name="LED"><oneSwitch name="LIT">${v}</oneSwitch></newSwitchVector>`

describe('LED example (the migration guide driver)', () => {
  it('defines the switch from the hardware state', async () => {
    const led = new Led()
    led.on()
    const client = await start(led)
    const def = await client.waitFor(isDef)
    expect(def).toMatchObject({
      tag: 'defSwitchVector',
      device: 'LED',
      name: 'LED',
      rule: 'AtMostOne',
      state: 'Ok',
    })
    expect(memberValue(def, 'LIT')).toBe('On')
  })

  it('a client switching it On lights the LED and gets the new value back; Off turns it off', async () => {
    const led = new Led()
    const client = await start(led)
    let mark = client.mark()
    client.send(lit('On'))
    const on = await client.waitSet('LED', 'LED', () => true, mark)
    expect(memberValue(on, 'LIT')).toBe('On')
    expect(led.isLit).toBe(true)
    mark = client.mark()
    client.send(lit('Off'))
    const off = await client.waitSet('LED', 'LED', () => true, mark)
    expect(memberValue(off, 'LIT')).toBe('Off')
    expect(led.isLit).toBe(false)
  })

  it('a value other than On/Off never reaches the handler (refused with a message)', async () => {
    const led = new Led()
    const client = await start(led)
    const mark = client.mark()
    client.send(lit('Maybe' as 'On'))
    await client.waitMessage('LED', mark)
    expect(led.isLit).toBe(false)
  })
})
