import { Buffer } from 'node:buffer'
import { describe, expect, it } from 'vitest'
import type { RawFrame } from '../src/index.js'
import { frame, summary } from './helpers.js'

const frames = (xml: string | Uint8Array) =>
  frame(xml).map((e) => {
    if (e.kind !== 'frame') throw new Error(`unexpected error: ${e.error.message}`)
    return e.frame
  })
const text = (f: RawFrame) => Buffer.from(f.bytes).toString()

describe('IndiFramer', () => {
  it('yields each top-level element as its original bytes, without the prologue', () => {
    const a = `<setNumberVector device='Telescope Simulator' name="EQ"><oneNumber name="RA">1</oneNumber></setNumberVector>`
    const f = frames(`<?xml version='1.0'?>\n${a}\n<pingRequest uid='SetBLOB/1' />`)
    expect(f.map(text)).toEqual([a, `<pingRequest uid='SetBLOB/1' />`])
    expect(f.map((x) => [x.tag, x.device, x.name])).toEqual([
      ['setNumberVector', 'Telescope Simulator', 'EQ'],
      ['pingRequest', undefined, undefined],
    ])
  })

  it('decodes entities in attributes, lazily, and reads any attribute', () => {
    const [f] = frames(`<getProperties version="1.7" device="A &amp; B" name='it&apos;s'/>`)
    expect([f!.device, f!.name, f!.attr('version'), f!.attr('nope')]).toEqual([
      'A & B',
      "it's",
      '1.7',
      undefined,
    ])
  })

  it('gives the trimmed, decoded text of enableBLOB', () => {
    const [f] = frames(`<enableBLOB device="CCD">\n  Also \n</enableBLOB>`)
    expect(f!.text()).toBe('Also')
  })

  it('does not decode BLOB base64: the bytes pass through untouched', () => {
    const xml = `<setBLOBVector device="D" name="B"><oneBLOB name="b" size="3" format=".x">\nAAEC\n</oneBLOB></setBLOBVector>`
    expect(frames(xml).map(text)).toEqual([xml])
  })

  it('skips a comment containing the end tag inside an element', () => {
    const xml = `<message device="D"><!-- </message> --></message>`
    expect(frames(xml).map(text)).toEqual([xml])
  })

  it('frames unknown elements too', () => {
    expect(frames(`<switchProtocol version="2.0"/>`).map((f) => f.tag)).toEqual(['switchProtocol'])
  })

  it('resyncs after a truncated element, like the parser', () => {
    expect(
      summary(frame(`<setTextVector device="D" name="T"><oneText name="a">x<getProperties version="1.7"/>`)),
    ).toEqual(['error:ERR_INDI_XML_MALFORMED', 'frame:getProperties'])
  })

  it('bounds an oversize element and resyncs', () => {
    const big = `<setTextVector device="D" name="T"><oneText name="a">${'x'.repeat(5000)}</oneText></setTextVector><pingReply uid="1"/>`
    expect(summary(frame(big, { maxElementBytes: 1000 }, Array(60).fill(100)))).toEqual([
      'error:ERR_INDI_XML_TOO_LARGE',
      'frame:pingReply',
    ])
  })

  it('reports a malformed start tag and garbage, then the next element', () => {
    expect(summary(frame(`garbage<bad attr=x/><pingReply uid="1"/>`))).toEqual([
      'error:ERR_INDI_XML_MALFORMED',
      'frame:pingReply',
    ])
  })

  it('never writes into frames it handed out (views stay valid across pushes)', () => {
    const a = Buffer.from('<pingRequest uid="aaaa"/><pingRequest uid="bb')
    const b = Buffer.from('bb"/><pingRequest uid="cccc"/><pingRequest uid="d')
    const c = Buffer.from('d"/>')
    const out = [...frame(Buffer.concat([a, b, c]), undefined, [a.length, b.length])]
    expect(out.map((e) => (e.kind === 'frame' ? e.frame.attr('uid') : e.kind))).toEqual([
      'aaaa',
      'bbbb',
      'cccc',
      'dd',
    ])
  })
})
