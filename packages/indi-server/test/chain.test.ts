import { createServer, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import type { IndiServer } from '../src/index.js'
import { addClient, once, RawDriver, testServer } from './helpers.js'

const GP = '<getProperties version="1.7"/>'
const fastRetry = { remoteMinDelayMs: 20, remoteMaxDelayMs: 100 }
const servers: IndiServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

/** A downstream server with one in-process driver serving `device`, listening on `port`. */
async function downstream(
  port: number,
  device = 'Far Scope',
): Promise<{ server: IndiServer; far: RawDriver }> {
  const { server } = testServer({ port, ...fastRetry })
  servers.push(server)
  const far = new RawDriver([device])
  const known = once(server, 'device')
  server.addDriver(far, { name: 'far' })
  await known
  await server.listen()
  return { server, far }
}

/** The upstream server: a local driver plus a remote link. */
async function upstream(remote: {
  port: number
  device?: string
}): Promise<{ server: IndiServer; near: RawDriver }> {
  const { server } = testServer({ port: 0, ...fastRetry })
  servers.push(server)
  const near = new RawDriver(['Near'])
  const known = once(server, 'device')
  server.addDriver(near, { name: 'near' })
  await known
  server.addRemote({ host: '127.0.0.1', ...remote })
  return { server, near }
}

describe('chaining (our server behind our server, §2.4)', () => {
  it('serves a chained server devices next to local ones, both ways', async () => {
    const { far } = await downstream(17810)
    const { server } = await upstream({ port: 17810 })
    const c = addClient(server)
    c.send(GP)
    await c.in.waitFor('<defSwitchVector device="Far Scope"')
    await c.in.waitFor('<defSwitchVector device="Near"')
    c.send(
      '<newSwitchVector device="Far Scope" name="CONNECTION"><oneSwitch name="CONNECT">On</oneSwitch></newSwitchVector>',
    )
    await far.in.waitFor('<newSwitchVector device="Far Scope"')
    far.send(
      '<setSwitchVector device="Far Scope" name="CONNECTION" state="Ok"><oneSwitch name="CONNECT">On</oneSwitch></setSwitchVector>',
    )
    await c.in.waitFor('<setSwitchVector device="Far Scope"')
  })

  it('opens the link with getProperties device="*" (all devices) or the one device asked for', async () => {
    const all = await downstream(17811)
    await upstream({ port: 17811 })
    await all.far.in.waitFor('<getProperties', 2)
    const one = await downstream(17812, 'One')
    await upstream({ port: 17812, device: 'One' })
    await one.far.in.until(() =>
      /<getProperties (?=[^>]*version="1\.7")(?=[^>]*device="One")[^>]*\/>/.test(one.far.in.text),
    )
    // The "*" of an upstream server is not passed to local drivers as a device name.
    expect(all.far.in.has('device="*"')).toBe(false)
  })

  it('lets a local driver snoop a device across the chain', async () => {
    const { far } = await downstream(17813)
    const { server, near } = await upstream({ port: 17813 })
    await once(server, 'device')
    near.send('<getProperties version="1.7" device="Far Scope"/>')
    await near.in.waitFor('<defSwitchVector device="Far Scope"')
    far.send(
      '<setSwitchVector device="Far Scope" name="CONNECTION" state="Busy"><oneSwitch name="CONNECT">On</oneSwitch></setSwitchVector>',
    )
    await near.in.waitFor('<setSwitchVector device="Far Scope"')
  })

  it('sends delProperty for a lost remote devices, then reconnects and its defs come back', async () => {
    // A bare TCP peer as the remote, so the link can die without the remote saying anything.
    const sockets: Socket[] = []
    const fake = createServer((sock) => {
      sockets.push(sock)
      sock.on('data', (d) => {
        if (d.toString().includes('<getProperties'))
          sock.write(
            `<defSwitchVector device="Far Scope" name="CONNECTION" state="Idle" perm="rw" rule="OneOfMany"><defSwitch name="CONNECT">Off</defSwitch></defSwitchVector>`,
          )
      })
      sock.on('error', () => {})
    })
    await new Promise<void>((r) => fake.listen(17814, '127.0.0.1', r))
    try {
      const { server } = await upstream({ port: 17814 })
      const c = addClient(server)
      c.send(GP)
      await c.in.waitFor('<defSwitchVector device="Far Scope"')
      sockets[0]!.destroy()
      await c.in.until(() => /<delProperty device="Far Scope"\s*\/>/.test(c.in.text))
      await c.in.until(
        () => c.in.text.indexOf('<defSwitchVector device="Far Scope"', c.in.text.indexOf('<delProperty')) > 0,
      )
      expect(sockets.length).toBe(2)
    } finally {
      for (const s of sockets) s.destroy()
      await new Promise((r) => fake.close(r))
    }
  })

  it('forwards the delProperty of a remote server stopping its drivers', async () => {
    const first = await downstream(17818)
    const { server } = await upstream({ port: 17818 })
    const c = addClient(server)
    c.send(GP)
    await c.in.waitFor('<defSwitchVector device="Far Scope"')
    await first.server.close()
    await c.in.until(() => /<delProperty device="Far Scope"\s*\/>/.test(c.in.text))
  })

  it('keeps serving while a remote is unreachable', async () => {
    const { server } = await upstream({ port: 17815 })
    const c = addClient(server)
    c.send(GP)
    await c.in.waitFor('<defSwitchVector device="Near"')
    server.message('alive')
    await c.in.waitFor('alive')
  })

  it('refuses a chaining loop (ERR_INDI_DEVICE_LOOP) instead of echoing forever', async () => {
    const a = await downstream(17816, 'A-dev')
    const b = await downstream(17817, 'B-dev')
    const loop = new Promise<string>((resolve) => {
      for (const s of [a.server, b.server])
        s.on('warning', (e) => e.code === 'ERR_INDI_DEVICE_LOOP' && resolve(e.message))
    })
    a.server.addRemote({ host: '127.0.0.1', port: 17817 })
    b.server.addRemote({ host: '127.0.0.1', port: 17816 })
    expect(await loop).toMatch(/already served/)
  })
})
