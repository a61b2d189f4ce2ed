import { silentLogger } from '@indi-ts/indi-driver'
import { IndiServer } from '@indi-ts/indi-server'
import { afterEach, describe, expect, it } from 'vitest'
import { createThermostat } from '../src/thermostat.js'
import { devicesReady, isDef, logSink, memberValue, serverClient, type WireClient } from './wire.js'

let server: IndiServer | undefined

async function start(): Promise<WireClient> {
  server = new IndiServer({ logger: logSink().logger })
  // Our getProperties goes after the server's own one to the new driver, so defs arrive once.
  const ready = devicesReady(server, 'Thermostat')
  server.addDriver(
    createThermostat({
      tickMs: 5,
      ratePerTick: 1,
      initial: 15,
      target: 15,
      threshold: 40,
      driver: { logger: silentLogger },
    }),
    { name: 'thermostat' },
  )
  await ready
  const client = serverClient(server)
  client.send('<getProperties version="1.7"/>')
  await client.waitFor((m) => isDef(m) && m.name === 'ALARM')
  return client
}

afterEach(async () => {
  await server?.close()
  server = undefined
})

describe('thermostat example', () => {
  it('defines temperature (ro), target and threshold (rw) and the alarm light, in order', async () => {
    const client = await start()
    const defs = client.messages.filter(isDef)
    expect(defs.map((d) => `${d.tag} ${d.device}.${d.name} ${'perm' in d ? d.perm : '-'}`)).toEqual([
      'defNumberVector Thermostat.TEMPERATURE ro',
      'defNumberVector Thermostat.TARGET rw',
      'defNumberVector Thermostat.THRESHOLD rw',
      'defLightVector Thermostat.ALARM -',
    ])
    expect(memberValue(defs[0]!, 'CELSIUS')).toBe('15')
    expect(memberValue(defs[3]!, 'OVERHEAT')).toBe('Ok')
  })

  it('a new target is acknowledged Busy, the hardware loop walks the temperature there, then Ok', async () => {
    const client = await start()
    const mark = client.mark()
    client.send(
      '<newNumberVector device="Thermostat" name="TARGET"><oneNumber name="CELSIUS">18</oneNumber></newNumberVector>',
    )
    const busy = await client.waitSet('Thermostat', 'TARGET', (m) => m.state === 'Busy', mark)
    expect(memberValue(busy, 'CELSIUS')).toBe('18')
    await client.waitSet('Thermostat', 'TARGET', (m) => m.state === 'Ok', mark)
    const temps = client.messages
      .slice(mark)
      .filter((m) => m.tag === 'setNumberVector' && m.name === 'TEMPERATURE')
      .map((m) => memberValue(m as never, 'CELSIUS'))
    expect(temps).toEqual(['16', '17', '18'])
  })

  it('the alarm light turns Alert above the threshold and Ok again below it', async () => {
    const client = await start()
    let mark = client.mark()
    client.send(
      '<newNumberVector device="Thermostat" name="THRESHOLD"><oneNumber name="CELSIUS">10</oneNumber></newNumberVector>',
    )
    const alert = await client.waitSet('Thermostat', 'ALARM', (m) => m.state === 'Alert', mark)
    expect(memberValue(alert, 'OVERHEAT')).toBe('Alert')
    mark = client.mark()
    client.send(
      '<newNumberVector device="Thermostat" name="THRESHOLD"><oneNumber name="CELSIUS">30</oneNumber></newNumberVector>',
    )
    const ok = await client.waitSet('Thermostat', 'ALARM', (m) => m.state === 'Ok', mark)
    expect(memberValue(ok, 'OVERHEAT')).toBe('Ok')
  })

  it('heating past the threshold raises the alarm from the hardware loop', async () => {
    const client = await start()
    const mark = client.mark()
    client.send(
      '<newNumberVector device="Thermostat" name="THRESHOLD"><oneNumber name="CELSIUS">17.5</oneNumber></newNumberVector>',
    )
    await client.waitSet('Thermostat', 'THRESHOLD', (m) => m.state === 'Ok', mark)
    client.send(
      '<newNumberVector device="Thermostat" name="TARGET"><oneNumber name="CELSIUS">19</oneNumber></newNumberVector>',
    )
    await client.waitSet('Thermostat', 'ALARM', (m) => memberValue(m, 'OVERHEAT') === 'Alert', mark)
    // The alarm went off exactly when the temperature first exceeded 17.5, i.e. at 18.
    const sequence = client.messages
      .slice(mark)
      .filter((m) => m.tag === 'setNumberVector' || m.tag === 'setLightVector')
      .map((m) => `${m.name}=${memberValue(m as never, m.tag === 'setLightVector' ? 'OVERHEAT' : 'CELSIUS')}`)
    const alarmAt = sequence.indexOf('ALARM=Alert')
    expect(sequence.slice(0, alarmAt).filter((s) => s.startsWith('TEMPERATURE'))).toEqual([
      'TEMPERATURE=16',
      'TEMPERATURE=17',
      'TEMPERATURE=18',
    ])
  })

  it('refuses a target outside [min, max] with a message and keeps the old one', async () => {
    const client = await start()
    const mark = client.mark()
    client.send(
      '<newNumberVector device="Thermostat" name="TARGET"><oneNumber name="CELSIUS">500</oneNumber></newNumberVector>',
    )
    const refusal = await client.waitMessage('TARGET', mark)
    expect(refusal.tag === 'message' && refusal.device).toBe('Thermostat')
    await client.sync()
    expect(client.messages.slice(mark).some((m) => m.tag === 'setNumberVector' && m.name === 'TARGET')).toBe(
      false,
    )
  })
})
