import { buildMessageBytes, type IndiMessage, IndiParser } from '@indi-ts/indi-xml'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeMessage, encodeMessage } from '../src/index.js'
import { messageArb, xmlName, xmlText } from './arbitraries.js'

/** parse(build(m)) with indi-xml: the message model as an XML link delivers it. */
function viaXml(m: IndiMessage): IndiMessage {
  const events = new IndiParser().push(buildMessageBytes(m))
  const [ev] = events
  if (events.length !== 1 || ev?.kind !== 'message') {
    throw new Error(`indi-xml did not round-trip ${m.tag}: ${JSON.stringify(events.map((e) => e.kind))}`)
  }
  return ev.message
}

const viaBinary = (m: IndiMessage): IndiMessage => decodeMessage(encodeMessage(m))

/** BLOB data as Buffers: indi-xml gives a plain Uint8Array for empty data and a Buffer otherwise. */
function norm(m: IndiMessage): IndiMessage {
  if (m.tag !== 'setBLOBVector' && m.tag !== 'newBLOBVector') return m
  return { ...m, members: m.members.map((e) => ({ ...e, data: Buffer.from(e.data) })) }
}

// toEqual, not toStrictEqual: indi-xml leaves absent attributes as keys set to undefined, which
// the model treats as absent, as the binary codec leaves them.
describe('binary codec against the XML codec (indi-xml)', () => {
  it('carries what the XML parser produces unchanged', () => {
    fc.assert(
      fc.property(messageArb(xmlText, xmlName), (m) => {
        const x = viaXml(m)
        expect(norm(viaBinary(x))).toEqual(norm(x))
      }),
      { numRuns: 1000 },
    )
  })

  it('is transparent to XML: build(binary(m)) parses like build(m)', () => {
    fc.assert(
      fc.property(messageArb(xmlText, xmlName), (m) => {
        expect(norm(viaXml(viaBinary(m)))).toEqual(norm(viaXml(m)))
      }),
      { numRuns: 1000 },
    )
  })

  it('comes back equal to the original for messages the XML codec keeps as they are', () => {
    const m: IndiMessage = {
      tag: 'defSwitchVector',
      device: 'Telescope Simulator',
      name: 'CONNECTION',
      label: 'Connection',
      group: 'Main Control',
      state: 'Idle',
      perm: 'rw',
      rule: 'OneOfMany',
      timeout: '60',
      members: [
        { name: 'CONNECT', label: 'Connect', value: 'Off' },
        { name: 'DISCONNECT', label: 'Disconnect', value: 'On' },
      ],
    }
    expect(viaBinary(m)).toEqual(m)
    expect(viaXml(m)).toEqual(m)
  })

  it('is smaller than XML for a BLOB by the base64 third', () => {
    const data = new Uint8Array(300_000).map((_, i) => (i * 31) & 0xff)
    const m: IndiMessage = {
      tag: 'setBLOBVector',
      device: 'CCD Simulator',
      name: 'CCD1',
      state: 'Ok',
      members: [{ name: 'CCD1', size: data.length, format: '.fits', data }],
    }
    const xml = buildMessageBytes(m).length
    const bin = encodeMessage(m).length
    expect(bin).toBeLessThan(data.length + 100)
    expect(xml).toBeGreaterThan(data.length * 1.33)
  })
})
