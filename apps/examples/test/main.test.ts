/**
 * `npm start` (dist/main.js) as a real process: every example device and indilib's telescope
 * simulator behind one TCP port, and a clean stop on SIGINT / SIGTERM (exit 0, no orphans).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { findOnPath } from '../src/examples-server.js'
import { alive, childPids, examplesPath, type Spawned, spawnLogged, stop } from './processes.js'
import { isDef, tcpClient, type WireClient } from './wire.js'

const MAIN = examplesPath('dist/main.js')
const hasTelescope = findOnPath('indi_simulator_telescope') !== undefined
const DEVICES = [
  'Thermostat',
  'Relay Board',
  'Camera',
  'Fan Controller',
  'LED',
  ...(hasTelescope ? ['Telescope Simulator'] : []),
]

let proc: Spawned | undefined
let client: WireClient | undefined

afterEach(async () => {
  client?.close()
  await stop(proc)
  proc = undefined
})

/** Starts main.js, connects, sends getProperties and waits for a def from every device. */
async function startMain(args: string[], env: NodeJS.ProcessEnv, port: number): Promise<WireClient> {
  proc = spawnLogged(process.execPath, [MAIN, ...args], env)
  await proc.waitStderr(`listening on 127.0.0.1:${port}`)
  client = await tcpClient(port)
  client.send('<getProperties version="1.7"/>')
  for (const device of DEVICES)
    await client.waitFor((m) => isDef(m) && m.device === device, { what: `def of ${device}` })
  return client
}

describe('npm start (dist/main.js)', () => {
  it('serves every example device (and the telescope simulator when installed) on -p port', async () => {
    const c = await startMain(['-p', '18150'], {}, 18150)
    const devices = new Set(c.messages.filter(isDef).map((m) => m.device))
    expect([...devices].sort()).toEqual([...DEVICES].sort())
    // The fan controller is already snooping the thermostat inside the same server.
    await c.waitFor(
      (m) => m.tag === 'setNumberVector' && m.device === 'Fan Controller' && m.name === 'WATCHED',
    )
  })

  it('SIGINT: clients get delProperty, drivers and the simulator stop, exit status 0', async () => {
    const c = await startMain(['-p', '18151'], {}, 18151)
    const children = childPids(proc!.pid)
    if (hasTelescope) expect(children.length).toBeGreaterThan(0)
    const mark = c.mark()
    proc!.child.kill('SIGINT')
    expect(await proc!.exited).toEqual({ code: 0, signal: null })
    for (const device of DEVICES) {
      await c.waitFor((m) => m.tag === 'delProperty' && m.device === device, {
        after: mark,
        what: `delProperty ${device}`,
      })
    }
    expect(children.filter(alive)).toEqual([])
    expect(proc!.stderr()).toContain('SIGINT: stopping')
  })

  it('SIGTERM stops it the same way; INDI_PORT sets the port', async () => {
    await startMain([], { INDI_PORT: '18152' }, 18152)
    const children = childPids(proc!.pid)
    proc!.child.kill('SIGTERM')
    expect(await proc!.exited).toEqual({ code: 0, signal: null })
    expect(children.filter(alive)).toEqual([])
  })

  it('rejects an unknown argument with status 2', async () => {
    proc = spawnLogged(process.execPath, [MAIN, '--bogus'])
    expect((await proc.exited).code).toBe(2)
    expect(proc.stderr()).toContain('usage')
  })
})
