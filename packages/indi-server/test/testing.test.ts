import { connectionPair } from '@indi-ts/transport'
import { afterEach, describe, expect, it } from 'vitest'
import { IndiServer } from '../src/index.js'
import { addTestClient, RawDriver, ReceivedText, readInto } from '../src/testing.js'

let server: IndiServer | undefined
afterEach(async () => {
  await server?.close()
})

describe('@indi-ts/indi-server/testing', () => {
  it('ReceivedText keeps a character split across chunks whole and counts bytes', () => {
    const r = new ReceivedText()
    const bytes = Buffer.from('<message message="10°C"/>')
    const cut = bytes.indexOf(0xb0) // inside the two bytes of "°"
    r.push(bytes.subarray(0, cut))
    r.push(bytes.subarray(cut))
    expect([r.text, r.bytes]).toEqual(['<message message="10°C"/>', bytes.length])
  })

  it('a wait still pending when the input ends rejects, naming what it waited for', async () => {
    const [a, b] = connectionPair()
    const r = readInto(b)
    a.send(Buffer.from('<one/>'))
    await r.waitFor('<one/>')
    const pending = r.waitFor('<two/>')
    await a.end()
    await expect(pending).rejects.toThrow(/ended while waiting for 1 x <two\/>[\s\S]*<one\/>/)
  })

  // The README's "Testing with the server in-process" example.
  it('RawDriver and addTestClient: defs on getProperties, set* routed, sync() as a barrier', async () => {
    server = new IndiServer({ logger: () => {} })
    const driver = new RawDriver(['Dev'])
    server.addDriver(driver, { name: 'raw' })
    await driver.ready
    const c = addTestClient(server, { label: 'me' })
    c.send('<getProperties version="1.7"/>')
    await c.in.waitFor('<defSwitchVector device="Dev"')
    expect(driver.runs).toBe(1)
    driver.send('<message device="Dev" message="hi"/>')
    await c.sync()
    expect(c.in.has('message="hi"')).toBe(true)
    expect(server.clientStats().map((s) => s.id)).toEqual([c.id])
  })
})
