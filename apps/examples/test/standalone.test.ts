/**
 * Each example driver as its own executable (bin/<name>, a shell wrapper that execs node on
 * dist/<name>.js) talking INDI over stdin/stdout, as a server starts it. Also the two driver styles
 * (thermostat: listeners; fan controller: indipydriver-style subclass) as executable drivers of
 * indi-ts's own `indi-server` command over TCP.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { spawnDriver } from '@indi-ts/transport-stdio'
import { afterEach, describe, expect, it } from 'vitest'
import { examplesPath, type Spawned, spawnLogged, stop } from './processes.js'
import { isDef, memberValue, tcpClient, WireClient } from './wire.js'

const EXPECTED: Record<string, { device: string; last: string }> = {
  thermostat: { device: 'Thermostat', last: 'ALARM' },
  relays: { device: 'Relay Board', last: 'OUTPUTS' },
  camera: { device: 'Camera', last: 'CCD1' },
  snooper: { device: 'Fan Controller', last: 'FAN_SPEED' },
  led: { device: 'LED', last: 'LED' },
}

describe('example drivers as executables over stdio', () => {
  for (const [name, { device, last }] of Object.entries(EXPECTED)) {
    it(`bin/${name} answers getProperties with its definitions and exits 0 at end of input`, async () => {
      const driver = spawnDriver(examplesPath(`bin/${name}`), [], { label: name })
      const client = new WireClient(driver.connection)
      client.send('<getProperties version="1.7"/>')
      await client.waitFor((m) => isDef(m) && m.device === device && m.name === last)
      await driver.connection.close()
      expect(await driver.exited).toEqual({ code: 0, signal: null })
    })
  }

  it('bin/thermostat takes its device name from INDIDEV (indiserver FIFO -n)', async () => {
    const driver = spawnDriver(examplesPath('bin/thermostat'), [], { env: { INDIDEV: 'Oven' } })
    const client = new WireClient(driver.connection)
    client.send('<getProperties version="1.7"/>')
    const def = await client.waitFor(isDef)
    expect(def.device).toBe('Oven')
    await driver.connection.close()
    expect((await driver.exited).code).toBe(0)
  })

  it('bin/snooper asks its server for the thermostat (getProperties with version 1.7)', async () => {
    const driver = spawnDriver(examplesPath('bin/snooper'), [])
    const client = new WireClient(driver.connection)
    const request = await client.waitFor((m) => m.tag === 'getProperties')
    expect(request).toMatchObject({ tag: 'getProperties', version: '1.7', device: 'Thermostat' })
    await driver.connection.close()
    expect((await driver.exited).code).toBe(0)
  })

  it('SIGTERM stops a standalone driver with status 0', async () => {
    const driver = spawnDriver(examplesPath('bin/relays'), [])
    const client = new WireClient(driver.connection)
    client.send('<getProperties version="1.7"/>')
    await client.waitFor(isDef)
    driver.kill('SIGTERM')
    expect(await driver.exited).toEqual({ code: 0, signal: null })
  })
})

/** indi-ts's `indi-server` command, found through the package's own bin map. */
function indiServerCli(): string {
  const require = createRequire(import.meta.url)
  const pkgJson = require.resolve('@indi-ts/indi-server/package.json')
  const bin = JSON.parse(readFileSync(pkgJson, 'utf8')).bin['indi-server'] as string
  return join(dirname(pkgJson), bin)
}

describe("both driver styles as executables under indi-ts's indi-server", () => {
  let server: Spawned | undefined
  afterEach(async () => {
    if (server !== undefined && server.child.exitCode === null) {
      server.child.kill('SIGTERM')
      await server.exited
    }
    await stop(server)
  })

  it('the fan controller (subclass style) reacts to the thermostat (listener style) across the server', async () => {
    const port = 18153
    server = spawnLogged(process.execPath, [
      indiServerCli(),
      '-v',
      '-p',
      String(port),
      examplesPath('bin/thermostat'),
      examplesPath('bin/snooper'),
    ])
    await server.waitStderr(`listening to port ${port}`)
    await server.waitStderr('serves device "Fan Controller"')
    await server.waitStderr('serves device "Thermostat"')
    const client = await tcpClient(port)
    try {
      client.send('<getProperties version="1.7"/>')
      await client.waitFor((m) => isDef(m) && m.name === 'FAN_SPEED')
      await client.waitFor((m) => isDef(m) && m.name === 'ALARM')
      // Fan threshold just above the room temperature, then ask the thermostat to heat a little.
      const mark = client.mark()
      client.send(
        '<newNumberVector device="Fan Controller" name="FAN_THRESHOLD"><oneNumber name="CELSIUS">15.2</oneNumber></newNumberVector>',
      )
      await client.waitSet('Fan Controller', 'FAN_THRESHOLD', (m) => m.state === 'Ok', mark)
      client.send(
        '<newNumberVector device="Thermostat" name="TARGET"><oneNumber name="CELSIUS">16</oneNumber></newNumberVector>',
      )
      await client.waitSet('Thermostat', 'TARGET', (m) => m.state === 'Busy', mark)
      const on = await client.waitSet(
        'Fan Controller',
        'FAN',
        (m) => memberValue(m, 'RUNNING') === 'Ok',
        mark,
      )
      expect(on.device).toBe('Fan Controller')
      // It switched on because it had seen a temperature above the threshold first.
      const hot = await client.waitSet(
        'Fan Controller',
        'WATCHED',
        (m) => Number(memberValue(m, 'CELSIUS')) > 15.2,
        mark,
      )
      expect(client.messages.indexOf(hot)).toBeLessThan(client.messages.indexOf(on))
    } finally {
      client.close()
    }
    server.child.kill('SIGTERM')
    expect((await server.exited).code).toBe(0)
  })
})
