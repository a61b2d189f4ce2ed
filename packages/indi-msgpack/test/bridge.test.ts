import { type IndiMessage, IndiParser, type SetBlobVector } from '@indi-ts/indi-xml'
import { collect, connectionPair } from '@indi-ts/transport'
import { describe, expect, it } from 'vitest'
import { BinaryMessageStream, binaryAsXml } from '../src/index.js'

function blob(bytes: number): SetBlobVector {
  const data = Buffer.alloc(bytes)
  for (let i = 0; i < bytes; i++) data[i] = (i * 31) & 0xff
  return {
    tag: 'setBLOBVector',
    device: 'CCD',
    name: 'CCD1',
    state: 'Ok',
    members: [{ name: 'CCD1', size: bytes, format: '.fits', data }],
  }
}

function parseAll(bytes: Uint8Array): IndiMessage[] {
  return new IndiParser().push(bytes).flatMap((e) => (e.kind === 'message' ? [e.message] : []))
}

describe('binaryAsXml', () => {
  it('turns a binary BLOB frame into standard one-line base64 XML with the same bytes', async () => {
    const [a, b] = connectionPair()
    const peer = new BinaryMessageStream(a)
    const xml = binaryAsXml(b)
    const read = collect(xml)
    const m = blob(100_000)
    await peer.write(m)
    await peer.close()
    const text = Buffer.concat(await read)
    const [back] = parseAll(text) as SetBlobVector[]
    expect(Buffer.from(back?.members[0]?.data ?? []).equals(m.members[0]!.data)).toBe(true)
    // One base64 line: nothing between the payload's first and last character is a line break.
    const body = text.toString('latin1')
    const payload = body.slice(body.indexOf('>', body.indexOf('<oneBLOB')) + 2, body.indexOf('</oneBLOB>'))
    expect(payload.trim()).not.toMatch(/\n/)
  })

  it('sends XML written in any pieces as binary messages, in order', async () => {
    const [a, b] = connectionPair()
    const peer = new BinaryMessageStream(a)
    const xml = binaryAsXml(b)
    const got: IndiMessage[] = []
    const reading = (async () => {
      for await (const m of peer) got.push(m)
    })()
    const text = Buffer.from(
      '<getProperties version="1.7"/>\n<newSwitchVector device="D" name="S"><oneSwitch name="On">On</oneSwitch></newSwitchVector>',
    )
    for (let i = 0; i < text.length; i += 7) xml.send(text.subarray(i, i + 7))
    await xml.close()
    await reading
    expect(got.map((m) => m.tag)).toEqual(['getProperties', 'newSwitchVector'])
    expect(got[1]).toMatchObject({ device: 'D', name: 'S', members: [{ name: 'On', value: 'On' }] })
  })

  it('drops, and reports, XML that is not an INDI message', async () => {
    const [, b] = connectionPair()
    const dropped: string[] = []
    const xml = binaryAsXml(b, { onDropped: (r) => dropped.push(r) })
    xml.send(Buffer.from('<bogus a="1"/>'))
    expect(dropped).toEqual(['unknown element <bogus>'])
    xml.destroy()
  })

  it('ends reading with ERR_INDI_BINARY_HANDSHAKE when the peer speaks XML', async () => {
    const [a, b] = connectionPair()
    const xml = binaryAsXml(b)
    a.send(Buffer.from('<getProperties version="1.7"/>'))
    await expect(collect(xml)).rejects.toMatchObject({ code: 'ERR_INDI_BINARY_HANDSHAKE' })
  })
})
