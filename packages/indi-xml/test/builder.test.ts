import { Buffer } from 'node:buffer'
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import libxmljs from 'libxmljs2'
import { describe, expect, it } from 'vitest'
import {
  buildBlobChunks,
  buildMessage,
  buildMessageBytes,
  escapeXml,
  IndiError,
  type IndiMessage,
} from '../src/index.js'
import { anyMessage } from './arbitraries.js'

const dtd = readFileSync(new URL('../indi.dtd', import.meta.url), 'utf8')

/** libxmljs2 DTD validation errors of one built element (empty when valid). */
function dtdErrors(xml: string): string[] {
  const root = /^<([A-Za-z]+)/.exec(xml)![1]
  const doc = libxmljs.parseXml(`<!DOCTYPE ${root} [\n${dtd}\n]>\n${xml}`, { dtdvalid: true })
  return (doc as unknown as { errors: { message: string }[] }).errors.map((e) => e.message)
}

describe('builder', () => {
  it('escapes & < > " \' as named entities, never numeric', () => {
    expect(escapeXml(`a&b<c>d"e'f`)).toBe('a&amp;b&lt;c&gt;d&quot;e&apos;f')
  })

  it('replaces characters XML cannot carry with U+FFFD', () => {
    expect(escapeXml('a\u0001b\uD800c')).toBe('a\uFFFDb\uFFFDc')
  })

  it('writes double-quoted attributes and a newline after the element', () => {
    expect(buildMessage({ tag: 'getProperties', version: '1.7', device: "it's" })).toBe(
      `<getProperties version="1.7" device="it&apos;s"/>\n`,
    )
  })

  it('writes BLOBs with size, format, enclen and base64 wrapped at 72 columns', () => {
    const data = Buffer.alloc(100, 7)
    const xml = buildMessage({
      tag: 'setBLOBVector',
      device: 'D',
      name: 'B',
      members: [{ name: 'b', size: 100, format: '.fits', data }],
    })
    expect(xml).toContain('<oneBLOB name="b" size="100" format=".fits" enclen="136">\n')
    const lines = xml.split('\n').filter((l) => /^[A-Za-z0-9+/=]+$/.test(l))
    expect(lines.map((l) => l.length)).toEqual([72, 64])
  })

  it('writes base64 on one line with blobLineLength 0', () => {
    const xml = buildMessage(
      {
        tag: 'newBLOBVector',
        device: 'D',
        name: 'B',
        members: [{ name: 'b', size: 100, format: '.x', data: Buffer.alloc(100) }],
      },
      { blobLineLength: 0 },
    )
    expect(xml.split('\n').some((l) => l.length === 136)).toBe(true)
  })

  it('buildBlobChunks concatenates to buildMessageBytes for any chunk size and line length', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2000 }),
        fc.integer({ min: 1, max: 700 }),
        fc.integer({ min: 0, max: 100 }),
        (data, chunkBytes, line) => {
          const m: IndiMessage = {
            tag: 'setBLOBVector',
            device: 'D',
            name: 'B',
            members: [
              { name: 'a', size: data.length, format: '.x', data },
              { name: 'b', size: 3, format: '.y', data: data.subarray(0, 3) },
            ],
          }
          const chunks = [...buildBlobChunks(m, { chunkBytes, blobLineLength: line })]
          expect(
            Buffer.concat(chunks).equals(Buffer.from(buildMessageBytes(m, { blobLineLength: line }))),
          ).toBe(true)
        },
      ),
      { numRuns: 200 },
    )
  })

  it('throws ERR_INDI_INVALID_VALUE for a bad enum value', () => {
    const bad = {
      tag: 'setTextVector',
      device: 'D',
      name: 'T',
      state: 'Fine',
      members: [],
    } as unknown as IndiMessage
    expect(() => buildMessage(bad)).toThrow(IndiError)
    try {
      buildMessage(bad)
    } catch (e) {
      expect(IndiError.is(e, 'ERR_INDI_INVALID_VALUE')).toBe(true)
    }
  })

  it('everything it emits validates with libxmljs2 against indi.dtd', () => {
    fc.assert(
      fc.property(anyMessage, (m) => {
        expect(dtdErrors(buildMessage(m))).toEqual([])
      }),
      { numRuns: 500 },
    )
  })

  it('the DTD check is not vacuous: a missing required attribute is reported', () => {
    expect(dtdErrors('<setNumberVector device="D"/>').length).toBeGreaterThan(0)
  })
})
