import { Buffer } from 'node:buffer'
import { describe, expect, it } from 'vitest'
import { IndiFramer, type RawFrame } from '../src/index.js'
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

describe('IndiFramer allocateBlob', () => {
  const body = Buffer.alloc(30_000, 7).toString('base64')
  const blob = (n: number) =>
    `<setBLOBVector device="D" name="B${n}"><oneBLOB name="b" size="30000" enclen="${body.length}" format=".x">\n${body}\n</oneBLOB></setBLOBVector>`
  const after = `<setNumberVector device="D" name="N"><oneNumber name="x">1</oneNumber></setNumberVector>`

  /** A framer whose BLOB buffers are recorded: `taken` in order, `given` back in order. */
  function recording(limits = {}, fill?: number) {
    const taken: Buffer[] = []
    const given: Buffer[] = []
    const framer = new IndiFramer(limits, {
      blobBuffers: {
        take: (n, wanted) => {
          expect(wanted).toBeGreaterThanOrEqual(n)
          const b = fill === undefined ? Buffer.allocUnsafe(n) : Buffer.alloc(n + 100, fill)
          taken.push(b)
          return b
        },
        give: (b) => given.push(b),
      },
    })
    return { framer, taken, given }
  }

  function run(chunk: number) {
    const { framer: f, taken, given } = recording({}, 0x21)
    const input = Buffer.from(`${blob(1)}${after}${blob(2)}${after}`)
    const out: RawFrame[] = []
    for (let pos = 0; pos < input.length; pos += chunk) {
      for (const e of f.push(input.subarray(pos, pos + chunk))) {
        if (e.kind !== 'frame') throw new Error(e.error.message)
        out.push(e.frame)
      }
    }
    return { taken, given, out }
  }

  it('assembles a BLOB spanning chunks in the buffer it gives, and never writes to it afterwards', () => {
    const { taken, out } = run(4096)
    expect(out.map(text)).toEqual([blob(1), after, blob(2), after])
    // One buffer per BLOB element, and each BLOB frame is a view into its own.
    expect(taken).toHaveLength(2)
    expect(out[0]!.bytes.buffer).toBe(taken[0]!.buffer)
    expect(out[2]!.bytes.buffer).toBe(taken[1]!.buffer)
    expect(taken[0]!.length).toBeGreaterThanOrEqual(blob(1).length)
    // The first BLOB's bytes are unchanged after the framer went on to the second.
    expect(text(out[0]!)).toBe(blob(1))
  })

  it('gives back a buffer it outgrew before any frame came out of it', () => {
    // No size or enclen: the framer cannot know the size and grows by doubling.
    const bare = `<setBLOBVector device="D" name="B"><oneBLOB name="b" format=".x">${body}</oneBLOB></setBLOBVector>`
    const { framer: f, taken, given } = recording()
    const input = Buffer.from(bare + after)
    const out: RawFrame[] = []
    for (let pos = 0; pos < input.length; pos += 1000)
      for (const e of f.push(input.subarray(pos, pos + 1000))) if (e.kind === 'frame') out.push(e.frame)
    expect(out.map(text)).toEqual([bare, after])
    expect(taken.length).toBeGreaterThan(1)
    // Every buffer but the last was outgrown and given back; the last holds the frame.
    expect(given).toEqual(taken.slice(0, -1))
    expect(out[0]!.bytes.buffer).toBe(taken.at(-1)!.buffer)
  })

  it('gives back the buffer of a BLOB element cut off by the size limit', () => {
    const { framer: f, taken, given } = recording({ maxBlobElementBytes: 20_000 })
    const input = Buffer.from(blob(1) + after)
    const kinds: string[] = []
    for (let pos = 0; pos < input.length; pos += 4096)
      for (const e of f.push(input.subarray(pos, pos + 4096))) kinds.push(e.kind)
    expect(kinds).toEqual(['error', 'frame'])
    expect(taken.length).toBeGreaterThan(0)
    expect(given).toEqual(taken)
  })

  it('is not used for elements that are not BLOBs, nor for a BLOB inside one chunk', () => {
    const { taken, out } = run(1 << 20)
    expect(out.map(text)).toEqual([blob(1), after, blob(2), after])
    expect(taken).toHaveLength(0)
  })
})
