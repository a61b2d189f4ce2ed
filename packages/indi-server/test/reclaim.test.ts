import { afterEach, describe, expect, it } from 'vitest'
import type { IndiServer } from '../src/index.js'
import { addClient, once, RawDriver, testServer } from './helpers.js'

let server: IndiServer
afterEach(async () => {
  await server?.close()
})

const set = (i: number, pad: number) =>
  `<setNumberVector device="D" name="N" state="Ok"><oneNumber name="V">${i}${' '.repeat(pad)}</oneNumber></setNumberVector>`

describe('reclaimMemory', () => {
  it('is called once per reclaimEveryBytes read from drivers, after that read is routed', async () => {
    const calls: number[] = []
    let c: ReturnType<typeof addClient> | undefined
    server = testServer({
      reclaimEveryBytes: 10_000,
      // What the client has been sent by the time of the call: the read was routed first.
      reclaimMemory: () => calls.push(c?.in.count('<setNumberVector') ?? -1),
    }).server
    const driver = new RawDriver(['D'])
    const known = once(server, 'device')
    server.addDriver(driver, { name: 'd' })
    await known
    c = addClient(server, 'C')
    c.send('<getProperties version="1.7"/>')
    await c.in.waitFor('<defSwitchVector')
    // Client traffic never counts.
    for (let i = 0; i < 5; i++)
      c.send(
        `<newNumberVector device="D" name="N"><oneNumber name="V">${'1'.repeat(4000)}</oneNumber></newNumberVector>`,
      )
    await driver.in.waitFor('<newNumberVector', 5)
    expect(calls).toEqual([])
    for (let i = 1; i <= 5; i++) {
      driver.send(set(i, 4000))
      await c.in.waitFor('<setNumberVector', i)
    }
    // Reads of ~4.1 kB each: over 10,000 bytes after the 3rd and again after the 6th (not yet).
    await c.sync()
    expect(calls.length).toBe(1)
    expect(calls[0]).toBeGreaterThanOrEqual(2)
  })
})
