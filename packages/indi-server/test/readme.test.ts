import { once as onceEvent } from 'node:events'
import { connect } from 'node:net'
import { Device, Driver, NumberVector, silentLogger } from '@indi-ts/indi-driver'
import { expect, it } from 'vitest'
import { IndiServer } from '../src/index.js'
import { Reader } from './helpers.js'

// The README's library example, on port 0 and with the C++ simulator only when installed.
it('runs the README example: an in-process driver served over TCP', async () => {
  const temperature = new NumberVector({
    name: 'TEMPERATURE',
    perm: 'ro',
    members: [{ name: 'CELSIUS', format: '%.1f', min: -50, max: 50, step: 0, value: 12.5 }],
  })
  const driver = new Driver({
    devices: [new Device({ name: 'Weather', vectors: [temperature] })],
    logger: silentLogger,
  })
  const server = new IndiServer({ port: 0, logger: () => {} })
  server.addDriver(driver, { name: 'weather' })
  const { port } = await server.listen()

  const sock = connect({ host: '127.0.0.1', port })
  await onceEvent(sock, 'connect')
  const r = new Reader()
  sock.on('data', (d) => r.push(d))
  sock.write('<getProperties version="1.7"/>')
  await r.waitFor('name="TEMPERATURE"')
  expect(r.text).toContain('<defNumberVector device="Weather"')
  sock.destroy()
  await server.close()
})
