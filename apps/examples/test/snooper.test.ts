import { silentLogger } from '@indi-ts/indi-driver'
import { IndiServer } from '@indi-ts/indi-server'
import { afterEach, describe, expect, it } from 'vitest'
import { FanController } from '../src/snooper.js'
import { createThermostat } from '../src/thermostat.js'
import { devicesReady, isDef, logSink, memberValue, serverClient, type WireClient } from './wire.js'

let server: IndiServer | undefined

/** Thermostat and fan controller behind one in-process server, and a client that saw every def. */
async function start(): Promise<WireClient> {
  server = new IndiServer({ logger: logSink().logger })
  const ready = devicesReady(server, 'Thermostat', 'Fan Controller')
  server.addDriver(
    createThermostat({
      tickMs: 5,
      ratePerTick: 1,
      initial: 15,
      target: 15,
      driver: { logger: silentLogger },
    }),
    {
      name: 'thermostat',
    },
  )
  server.addDriver(new FanController({ threshold: 17, tickMs: 5, logger: silentLogger }), { name: 'fan' })
  await ready
  const client = serverClient(server)
  client.send('<getProperties version="1.7"/>')
  await client.waitFor((m) => isDef(m) && m.name === 'FAN_SPEED')
  await client.waitFor((m) => isDef(m) && m.name === 'ALARM')
  return client
}

afterEach(async () => {
  await server?.close()
  server = undefined
})

const heatTo = (celsius: number): string =>
  `<newNumberVector device="Thermostat" name="TARGET"><oneNumber name="CELSIUS">${celsius}</oneNumber></newNumberVector>`

describe('fan controller example (snooping, indipydriver style)', () => {
  it("copies the thermostat's temperature as it changes", async () => {
    const client = await start()
    const mark = client.mark()
    client.send(heatTo(16))
    const seen = await client.waitSet(
      'Fan Controller',
      'WATCHED',
      (m) => memberValue(m, 'CELSIUS') === '16',
      mark,
    )
    expect(seen.state).toBe('Ok')
  })

  it('AUTO: the fan starts once the snooped temperature passes its threshold and spins up', async () => {
    const client = await start()
    const mark = client.mark()
    client.send(heatTo(19))
    const on = await client.waitSet('Fan Controller', 'FAN', (m) => memberValue(m, 'RUNNING') === 'Ok', mark)
    // It started at the first temperature above 17, not before.
    const watched = client.messages
      .slice(mark, client.messages.indexOf(on))
      .filter((m) => m.tag === 'setNumberVector' && m.device === 'Fan Controller' && m.name === 'WATCHED')
      .map((m) => memberValue(m as never, 'CELSIUS'))
    expect(watched.at(-1)).toBe('18')
    expect(watched).not.toContain('19')
    const full = await client.waitSet('Fan Controller', 'FAN_SPEED', (m) => m.state === 'Ok', mark)
    expect(memberValue(full, 'RPM')).toBe('1200')
  })

  it('OFF keeps the fan off however hot it gets; AUTO turns it back on', async () => {
    const client = await start()
    let mark = client.mark()
    client.send(
      '<newSwitchVector device="Fan Controller" name="FAN_MODE"><oneSwitch name="OFF">On</oneSwitch></newSwitchVector>',
    )
    await client.waitSet('Fan Controller', 'FAN_MODE', (m) => memberValue(m, 'OFF') === 'On', mark)
    client.send(heatTo(20))
    await client.waitSet('Fan Controller', 'WATCHED', (m) => memberValue(m, 'CELSIUS') === '20', mark)
    await client.sync()
    expect(client.messages.slice(mark).some((m) => m.tag === 'setLightVector' && m.name === 'FAN')).toBe(
      false,
    )
    mark = client.mark()
    client.send(
      '<newSwitchVector device="Fan Controller" name="FAN_MODE"><oneSwitch name="AUTO">On</oneSwitch></newSwitchVector>',
    )
    await client.waitSet('Fan Controller', 'FAN', (m) => memberValue(m, 'RUNNING') === 'Ok', mark)
  })

  it('when the thermostat goes away, WATCHED turns Alert and AUTO runs the fan (fail safe)', async () => {
    const client = await start()
    const mark = client.mark()
    await server!.removeDriver('thermostat')
    const lost = await client.waitSet('Fan Controller', 'WATCHED', (m) => m.state === 'Alert', mark)
    expect(lost.message).toBe('Thermostat is gone')
    await client.waitSet('Fan Controller', 'FAN', (m) => memberValue(m, 'RUNNING') === 'Ok', mark)
  })
})
