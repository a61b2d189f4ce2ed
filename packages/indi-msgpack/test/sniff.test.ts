import { IndiParser } from '@indi-ts/indi-xml'
import { collect, connectionPair } from '@indi-ts/transport'
import { describe, expect, it } from 'vitest'
import { BinaryMessageStream, binaryReader, binaryWriter, sniffProtocol } from '../src/index.js'

describe('sniffProtocol', () => {
  it('recognises a binary peer and keeps its bytes for the reader', async () => {
    const [a, b] = connectionPair()
    const w = binaryWriter(a)
    w.send({ tag: 'pingRequest', uid: '1' })
    w.send({ tag: 'pingRequest', uid: '2' })
    const { protocol, connection } = await sniffProtocol(b)
    expect(protocol).toBe('binary')
    const got = []
    const reading = (async () => {
      for await (const m of binaryReader(connection)) got.push(m)
    })()
    await w.close()
    await reading
    expect(got).toEqual([
      { tag: 'pingRequest', uid: '1' },
      { tag: 'pingRequest', uid: '2' },
    ])
  })

  it('recognises an XML client and hands over its bytes intact', async () => {
    const [a, b] = connectionPair()
    const xml = new TextEncoder().encode("<getProperties version='1.7'/>")
    a.send(xml)
    const { protocol, connection } = await sniffProtocol(b)
    expect(protocol).toBe('xml')
    const bytes = collect(connection)
    await a.close()
    const events = new IndiParser().push(Buffer.concat(await bytes))
    expect(events).toMatchObject([{ kind: 'message', message: { tag: 'getProperties', version: '1.7' } }])
  })

  it('calls an empty stream XML and ends its iteration', async () => {
    const [a, b] = connectionPair()
    const sniffing = sniffProtocol(b)
    await a.close()
    const { protocol, connection } = await sniffing
    expect(protocol).toBe('xml')
    expect(await collect(connection)).toEqual([])
  })

  it('lets a BinaryMessageStream answer on the sniffed connection', async () => {
    const [a, b] = connectionPair()
    const client = new BinaryMessageStream(a)
    await client.write({ tag: 'pingRequest', uid: 'x' })
    const { connection } = await sniffProtocol(b)
    const server = new BinaryMessageStream(connection)
    for await (const m of server) {
      if (m.tag === 'pingRequest') await server.write({ tag: 'pingReply', uid: m.uid })
      break
    }
    const it = client[Symbol.asyncIterator]()
    expect((await it.next()).value).toEqual({ tag: 'pingReply', uid: 'x' })
    a.destroy()
  })

  it('rejects with the abort reason while the peer is silent', async () => {
    const [, b] = connectionPair()
    const controller = new AbortController()
    const reason = new Error('silent peer')
    const sniffing = sniffProtocol(b, { signal: controller.signal })
    controller.abort(reason)
    await expect(sniffing).rejects.toBe(reason)
    b.destroy()
  })

  it('rejects at once when the signal is already aborted', async () => {
    const [, b] = connectionPair()
    const reason = new Error('already')
    await expect(sniffProtocol(b, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
    b.destroy()
  })

  it('leaves no abort listener behind after 10 000 calls', async () => {
    const controller = new AbortController()
    let listeners = 0
    const add = controller.signal.addEventListener.bind(controller.signal)
    const remove = controller.signal.removeEventListener.bind(controller.signal)
    controller.signal.addEventListener = ((...args: Parameters<typeof add>) => {
      listeners++
      add(...args)
    }) as typeof add
    controller.signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
      listeners--
      remove(...args)
    }) as typeof remove
    const chunk = Uint8Array.of(0x3c)
    for (let i = 0; i < 10_000; i++) {
      const [a, b] = connectionPair()
      a.send(chunk)
      const { protocol } = await sniffProtocol(b, { signal: controller.signal })
      expect(protocol).toBe('xml')
      a.destroy()
    }
    expect(listeners).toBe(0)
  })
})
