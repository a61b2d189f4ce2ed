import { silentLogger } from '@indi-ts/indi-driver'
import { IndiServer } from '@indi-ts/indi-server'
import { afterEach, describe, expect, it } from 'vitest'
import { createRelays } from '../src/relays.js'
import {
  devicesReady,
  isDef,
  logSink,
  memberValue,
  type SetMsg,
  serverClient,
  type WireClient,
} from './wire.js'

let server: IndiServer | undefined

async function start(): Promise<WireClient> {
  server = new IndiServer({ logger: logSink().logger })
  const ready = devicesReady(server, 'Relay Board')
  server.addDriver(createRelays({ driver: { logger: silentLogger } }), { name: 'relays' })
  await ready
  const client = serverClient(server)
  client.send('<getProperties version="1.7"/>')
  await client.waitFor((m) => isDef(m) && m.name === 'OUTPUTS')
  return client
}

afterEach(async () => {
  await server?.close()
  server = undefined
})

const sw = (name: string, members: Record<string, 'On' | 'Off'>): string =>
  `<newSwitchVector device="Relay Board" name="${name}">${Object.entries(members)
    .map(([m, v]) => `<oneSwitch name="${m}">${v}</oneSwitch>`)
    .join('')}</newSwitchVector>`

const states = (m: SetMsg): string =>
  (m.members as { name: string; value: string }[]).map((x) => `${x.name}=${x.value}`).join(' ')

describe('relay board example', () => {
  it('defines one switch vector per rule', async () => {
    const client = await start()
    const rules = client.messages
      .filter((m) => m.tag === 'defSwitchVector')
      .map((m) => (m.tag === 'defSwitchVector' ? `${m.name}:${m.rule}` : ''))
    expect(rules).toEqual(['POWER:OneOfMany', 'LED:AtMostOne', 'RELAYS:AnyOfMany'])
  })

  it('OneOfMany: naming the member to turn On turns the others Off', async () => {
    const client = await start()
    const mark = client.mark()
    client.send(sw('POWER', { ECO: 'On' }))
    const reply = await client.waitSet('Relay Board', 'POWER', () => true, mark)
    expect(reply.state).toBe('Ok')
    // The framework writes Off members before On members, as libindi does.
    expect(states(reply)).toBe('OFF=Off FULL=Off ECO=On')
  })

  it('OneOfMany: two members On at once are refused with a message', async () => {
    const client = await start()
    const mark = client.mark()
    client.send(sw('POWER', { ECO: 'On', FULL: 'On' }))
    await client.waitMessage('POWER', mark)
    await client.sync()
    expect(client.messages.slice(mark).some((m) => m.tag === 'setSwitchVector')).toBe(false)
  })

  it('AtMostOne: one LED at a time, and all of them off is allowed', async () => {
    const client = await start()
    let mark = client.mark()
    client.send(sw('LED', { GREEN: 'On' }))
    expect(states(await client.waitSet('Relay Board', 'LED', () => true, mark))).toBe(
      'RED=Off BLUE=Off GREEN=On',
    )
    mark = client.mark()
    client.send(sw('LED', { RED: 'On' }))
    expect(states(await client.waitSet('Relay Board', 'LED', () => true, mark))).toBe(
      'GREEN=Off BLUE=Off RED=On',
    )
    mark = client.mark()
    client.send(sw('LED', { RED: 'Off' }))
    expect(states(await client.waitSet('Relay Board', 'LED', () => true, mark))).toBe(
      'RED=Off GREEN=Off BLUE=Off',
    )
  })

  it('AnyOfMany: relays switch independently once powered, and the output lights follow', async () => {
    const client = await start()
    let mark = client.mark()
    client.send(sw('POWER', { FULL: 'On' }))
    await client.waitSet('Relay Board', 'POWER', () => true, mark)
    mark = client.mark()
    client.send(sw('RELAYS', { RELAY1: 'On', RELAY3: 'On' }))
    const relays = await client.waitSet('Relay Board', 'RELAYS', () => true, mark)
    expect(relays.state).toBe('Ok')
    expect(states(relays)).toBe('RELAY2=Off RELAY4=Off RELAY1=On RELAY3=On')
    const lights = await client.waitSet('Relay Board', 'OUTPUTS', () => true, mark)
    // onlyChanged: just the two outputs that changed.
    expect(states(lights)).toBe('RELAY1=Ok RELAY3=Ok')
    mark = client.mark()
    client.send(sw('RELAYS', { RELAY1: 'Off' }))
    const after = await client.waitSet('Relay Board', 'RELAYS', () => true, mark)
    expect(memberValue(after, 'RELAY1')).toBe('Off')
    expect(memberValue(after, 'RELAY3')).toBe('On')
  })

  it('relays refuse to close while the power is off (Alert and a message)', async () => {
    const client = await start()
    const mark = client.mark()
    client.send(sw('RELAYS', { RELAY2: 'On' }))
    const reply = await client.waitSet('Relay Board', 'RELAYS', () => true, mark)
    expect(reply.state).toBe('Alert')
    expect(reply.message).toContain('power is off')
    expect(memberValue(reply, 'RELAY2')).toBe('Off')
  })

  it('switching the power off opens every relay', async () => {
    const client = await start()
    let mark = client.mark()
    client.send(sw('POWER', { ECO: 'On' }))
    await client.waitSet('Relay Board', 'POWER', () => true, mark)
    client.send(sw('RELAYS', { RELAY4: 'On' }))
    await client.waitSet('Relay Board', 'OUTPUTS', (m) => memberValue(m, 'RELAY4') === 'Ok', mark)
    mark = client.mark()
    client.send(sw('POWER', { OFF: 'On' }))
    const opened = await client.waitSet('Relay Board', 'RELAYS', () => true, mark)
    expect(memberValue(opened, 'RELAY4')).toBe('Off')
    expect(opened.state).toBe('Idle')
    const lights = await client.waitSet('Relay Board', 'OUTPUTS', () => true, mark)
    expect(states(lights)).toBe('RELAY4=Idle')
  })
})
