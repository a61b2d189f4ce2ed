import { Buffer } from 'node:buffer'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { buildMessage, type FrameEvent, type ParseEvent } from '../src/index.js'
import { testing } from '../src/splitter.js'
import { anyMessage, normal } from './arbitraries.js'
import { frame, parse } from './helpers.js'

// The framer and parser take a fast path when a whole element sits in one pushed chunk, and fall
// back to the resumable byte machine otherwise. Pushing a stream whole exercises the fast path;
// pushing it one byte at a time never does. Both must give the same events for any input,
// well-formed or not: same frames and bytes, same messages, same error codes at the same offsets.

const alphabet = fc.constantFrom(...'<>/="\'&;#ab !?-[] \nox'.split(''))
const edit = fc.record({
  kind: fc.constantFrom('insert', 'delete', 'replace', 'duplicate'),
  at: fc.nat(),
  ch: alphabet,
  n: fc.integer({ min: 1, max: 12 }),
})

/** A stream of messages in both layouts (our double quotes; libindi's single quotes and prologue). */
const stream = fc
  .array(fc.tuple(anyMessage, fc.boolean(), fc.boolean()), { minLength: 1, maxLength: 5 })
  .map((ms) =>
    ms
      .map(([m, single, prologue]) => {
        const xml = buildMessage(m)
        // The builder escapes both quote characters in values, so swapping delimiters is safe.
        return (prologue ? "<?xml version='1.0'?>\n" : '') + (single ? xml.replaceAll('"', "'") : xml)
      })
      .join(''),
  )

function mutate(s: string, edits: { kind: string; at: number; ch: string; n: number }[]): string {
  for (const e of edits) {
    const at = s.length === 0 ? 0 : e.at % s.length
    if (e.kind === 'insert') s = s.slice(0, at) + e.ch + s.slice(at)
    else if (e.kind === 'delete') s = s.slice(0, at) + s.slice(at + e.n)
    else if (e.kind === 'replace') s = s.slice(0, at) + e.ch + s.slice(at + 1)
    else s = s.slice(0, at) + s.slice(at, at + e.n) + s.slice(at)
  }
  return s
}

const frameView = (ev: FrameEvent[]) =>
  ev.map((e) =>
    e.kind === 'frame'
      ? {
          tag: e.frame.tag,
          bytes: Buffer.from(e.frame.bytes).toString('latin1'),
          device: e.frame.device,
          name: e.frame.name,
          text: e.frame.text(),
          uid: e.frame.attr('uid'),
          state: e.frame.attr('state'),
        }
      : { code: e.error.code, offset: e.error.offset },
  )

const parseView = (ev: ParseEvent[]) =>
  ev.map((e) =>
    e.kind === 'message'
      ? normal(e.message)
      : e.kind === 'unknown'
        ? { unknown: e.tag, bytes: Buffer.from(e.bytes).toString('latin1') }
        : { code: e.error.code, offset: e.error.offset, message: e.error.message },
  )

function withoutFastPath<T>(fn: () => T): T {
  testing.fastPath = false
  try {
    return fn()
  } finally {
    testing.fastPath = true
  }
}

const oneByOne = (b: Buffer) => Array(b.length).fill(1)

describe('fast path = resumable path', () => {
  it('framer: same events for a stream pushed whole and byte by byte (mutated input)', () => {
    fc.assert(
      fc.property(stream, fc.array(edit, { maxLength: 3 }), (xml, edits) => {
        const b = Buffer.from(mutate(xml, edits))
        expect(frameView(frame(b))).toEqual(frameView(frame(b, undefined, oneByOne(b))))
      }),
      { numRuns: 1500 },
    )
  })

  it('parser: same events for a stream pushed whole and byte by byte (mutated input)', () => {
    fc.assert(
      fc.property(stream, fc.array(edit, { maxLength: 3 }), (xml, edits) => {
        const b = Buffer.from(mutate(xml, edits))
        expect(parseView(parse(b))).toEqual(parseView(parse(b, undefined, oneByOne(b))))
      }),
      { numRuns: 1500 },
    )
  })

  it('framer and parser: same events with the fast path off, whole and split (small limits)', () => {
    const limits = { maxElementBytes: 120, maxAttributes: 3, maxDepth: 2 }
    fc.assert(
      fc.property(
        stream,
        fc.array(edit, { maxLength: 2 }),
        fc.array(fc.integer({ min: 1, max: 400 }), { maxLength: 6 }),
        (xml, edits, split) => {
          const b = Buffer.from(mutate(xml, edits))
          for (const lim of [limits, undefined]) {
            const fast = [frameView(frame(b, lim, split)), parseView(parse(b, lim, split))]
            const slow = withoutFastPath(() => [
              frameView(frame(b, lim, split)),
              parseView(parse(b, lim, split)),
            ])
            expect(fast).toEqual(slow)
          }
        },
      ),
      { numRuns: 1000 },
    )
  })

  it.each([
    ['clean base64, libindi layout', 'AAEC\nAwQF'],
    ['a non-ASCII byte in the payload', 'AAEC\u00e9AwQF'],
    ['an entity in the payload', 'AAEC&amp;AwQF'],
    ['spaces, tabs and CR', ' \tAAEC\r\nAwQF \t'],
    ['an empty payload', ''],
  ])('BLOB payload read from bytes equals the general parser: %s', (_what, payload) => {
    const xml =
      `<setBLOBVector device='CCD' name='CCD1' state='Ok'>\n<oneBLOB name='CCD1' size='6' format='.fits' enclen='8'>` +
      `${payload}</oneBLOB>\n</setBLOBVector><newBLOBVector device="D" name="B"><oneBLOB name="b" size="6" format=".x">${payload}</oneBLOB></newBLOBVector>`
    const b = Buffer.from(xml)
    const fast = parseView(parse(b))
    expect(fast.map((e) => (e as { tag?: string }).tag)).toEqual(['setBLOBVector', 'newBLOBVector'])
    expect(fast).toEqual(withoutFastPath(() => parseView(parse(b))))
  })
})
