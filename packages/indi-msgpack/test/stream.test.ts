import { buildMessageBytes, type IndiMessage, IndiParser } from '@indi-ts/indi-xml'
import { type Connection, collect, connectionPair } from '@indi-ts/transport'
import { describe, expect, it } from 'vitest'
import {
  BinaryMessageStream,
  type MessageStream,
  openMessageStream,
  sniffProtocol,
  XmlMessageStream,
} from '../src/index.js'

const ping = (uid: string): IndiMessage => ({ tag: 'pingRequest', uid })
const text = (s: string) => new TextEncoder().encode(s)

async function drain(s: AsyncIterable<IndiMessage>): Promise<IndiMessage[]> {
  const out: IndiMessage[] = []
  for await (const m of s) out.push(m)
  return out
}

describe('XmlMessageStream', () => {
  it('reads XML messages and reports bad and unknown elements without stopping', async () => {
    const [a, b] = connectionPair()
    const errors: string[] = []
    const unknown: string[] = []
    const s = new XmlMessageStream(b, {
      onError: (e) => errors.push(e.code),
      onUnknown: (tag) => unknown.push(tag),
    })
    const got = drain(s)
    a.send(text("<pingRequest uid='1'/><bogus a='1'/><getProperties version='1.7'/><pingRequest uid='2' <"))
    a.send(text("<pingRequest uid='3'/>"))
    await a.close()
    expect((await got).map((m) => m.tag)).toEqual(['pingRequest', 'getProperties', 'pingRequest'])
    expect(unknown).toEqual(['bogus'])
    expect(errors.length).toBeGreaterThan(0)
  })

  it('writes messages as indi-xml builds them', async () => {
    const [a, b] = connectionPair()
    const s = new XmlMessageStream(a)
    const bytes = collect(b)
    await s.write(ping('x'))
    s.send({ tag: 'pingReply', uid: 'y' })
    await s.close()
    const all = Buffer.concat(await bytes)
    expect(
      all.equals(
        Buffer.concat([buildMessageBytes(ping('x')), buildMessageBytes({ tag: 'pingReply', uid: 'y' })]),
      ),
    ).toBe(true)
  })

  it('fails write() with ERR_INDI_SLOW_PEER when the peer never reads', async () => {
    const [a] = connectionPair({ highWaterMark: 16 })
    const s = new XmlMessageStream(a, { drainTimeoutMs: 20 })
    await expect(s.write(ping('stuck'))).rejects.toMatchObject({ code: 'ERR_INDI_SLOW_PEER' })
    a.destroy()
  })

  it('refuses a second iteration', () => {
    const [, b] = connectionPair()
    const s = new XmlMessageStream(b)
    s[Symbol.asyncIterator]()
    expect(() => s[Symbol.asyncIterator]()).toThrow(expect.objectContaining({ code: 'ERR_INDI_CLOSED' }))
    b.destroy()
  })
})

describe('one server loop for XML and binary peers', () => {
  /** A server that answers pings, whatever its peer speaks. */
  async function serve(conn: Connection): Promise<void> {
    const { protocol, connection } = await sniffProtocol(conn)
    const s: MessageStream = openMessageStream(connection, protocol)
    for await (const m of s)
      if (m.tag === 'pingRequest') await s.write({ tag: 'pingReply', uid: `${protocol}:${m.uid}` })
  }

  it('answers an XML client in XML', async () => {
    const [client, server] = connectionPair()
    const serving = serve(server)
    client.send(text("<pingRequest uid='p'/>"))
    const it = client[Symbol.asyncIterator]()
    const parser = new IndiParser()
    const events = []
    while (events.length === 0) {
      const { value } = await it.next()
      events.push(...parser.push(value as Uint8Array))
    }
    expect(events).toMatchObject([{ kind: 'message', message: { tag: 'pingReply', uid: 'xml:p' } }])
    await client.close()
    await serving
  })

  it('answers a binary client in binary', async () => {
    const [client, server] = connectionPair()
    const serving = serve(server)
    const s = new BinaryMessageStream(client)
    await s.write(ping('p'))
    const it = s[Symbol.asyncIterator]()
    expect((await it.next()).value).toEqual({ tag: 'pingReply', uid: 'binary:p' })
    await s.close()
    await serving
  })
})
