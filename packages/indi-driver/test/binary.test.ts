import { BinaryMessageStream, LINK_PREAMBLE } from '@indi-ts/indi-msgpack'
import type { IndiMessage, SetBlobVector } from '@indi-ts/indi-xml'
import { connectionPair } from '@indi-ts/transport'
import { describe, expect, it } from 'vitest'
import { makeDriver } from './harness.js'

/** Runs the standard test driver on a binary link; the test holds the server's end. */
function startBinary() {
  const driver = makeDriver()
  const [a, b] = connectionPair({ labels: ['driver', 'server'] })
  const run = driver.run({ connection: a, binary: true })
  const server = new BinaryMessageStream(b)
  const inbox: IndiMessage[] = []
  const waiters: Array<() => void> = []
  void (async () => {
    for await (const m of server) {
      inbox.push(m)
      for (const w of waiters.splice(0)) w()
    }
  })().catch(() => {})
  const next = async (tag: string): Promise<IndiMessage> => {
    for (;;) {
      const i = inbox.findIndex((m) => m.tag === tag)
      if (i >= 0) return inbox.splice(i, 1)[0]!
      await new Promise<void>((r) => waiters.push(r))
    }
  }
  return { driver, run, server, next, raw: b }
}

describe('Driver on the binary link', () => {
  it('answers getProperties with definitions as binary messages', async () => {
    const { server, next } = startBinary()
    await server.write({ tag: 'getProperties', version: '1.7' })
    const def = await next('defNumberVector')
    expect(def).toMatchObject({ device: 'Dev', name: 'NUM', perm: 'rw' })
    server.destroy()
  })

  it('sends a BLOB as raw bytes in one frame, then a pingRequest, and waits for the reply', async () => {
    const { driver, server, next } = startBinary()
    // As a server does: the handshake first (run() loads the binary codec before it serves).
    await server.write({ tag: 'getProperties', version: '1.7' })
    await next('defNumberVector')
    const frame = Buffer.alloc(300_000)
    for (let i = 0; i < frame.length; i++) frame[i] = (i * 13) & 0xff
    await driver.dev.blob('BLOB').set('B1', frame).sendSet({ state: 'Ok' })
    const blob = (await next('setBLOBVector')) as SetBlobVector
    expect(blob.members[0]?.size).toBe(frame.length)
    expect(Buffer.from(blob.members[0]?.data ?? []).equals(frame)).toBe(true)
    expect(await next('pingRequest')).toEqual({ tag: 'pingRequest', uid: 'SetBLOB/1' })
    let second = false
    const p = driver.dev
      .blob('BLOB')
      .set('B1', Buffer.from('two'))
      .sendSet({ state: 'Ok' })
      .then(() => {
        second = true
      })
    await server.write({ tag: 'pingReply', uid: 'SetBLOB/1' })
    await p
    expect(second).toBe(true)
    const two = (await next('setBLOBVector')) as SetBlobVector
    expect(Buffer.from(two.members[0]?.data ?? []).toString()).toBe('two')
    server.destroy()
  })

  it('routes a binary newSwitchVector to the vector', async () => {
    const { driver, server } = startBinary()
    const seen = new Promise<{ type: string; values: ReadonlyMap<string, unknown> }>((resolve) =>
      driver.on('newVector', resolve as never),
    )
    await server.write({
      tag: 'newSwitchVector',
      device: 'Dev',
      name: 'SW',
      members: [{ name: 'B', value: 'On' }],
    })
    const ev = await seen
    expect(ev.type).toBe('newSwitchVector')
    expect(ev.values.get('B')).toBe('On')
    server.destroy()
  })

  it('opens the link with the preamble', async () => {
    const driver = makeDriver()
    const [a, b] = connectionPair()
    void driver.run({ connection: a, binary: true })
    const it = b[Symbol.asyncIterator]()
    const first = (await it.next()).value as Uint8Array
    expect([...first.subarray(0, 8)]).toEqual([...LINK_PREAMBLE])
    b.destroy()
  })
})
