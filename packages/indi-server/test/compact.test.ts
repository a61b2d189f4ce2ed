import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compactBlob, isStreamBlob } from '../src/compact.js'

/**
 * What compactBlob means, written the slow and obvious way: in every oneBLOB whose content has a
 * line break, `enclen` goes from the start tag and each line is trimmed and joined; the rest of
 * the element is left as it is.
 */
function reference(text: string): string {
  return text.replace(
    /(<oneBLOB\b[^>]*?)(\/?)>([^<]*)/g,
    (whole, tag: string, slash: string, body: string) => {
      if (slash !== '' || !body.includes('\n')) return whole
      const start = tag.replace(/ enclen=("[^"]*"|'[^']*')/, '')
      const lines = body.split('\n').map((line) => line.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, ''))
      return `${start}>${lines.join('')}`
    },
  )
}

function compacted(text: string, inPlace: boolean): string {
  const bytes = Buffer.from(text, 'latin1')
  const frame = { tag: 'setBLOBVector', device: 'D', name: 'N', bytes }
  const out = compactBlob(frame, inPlace)
  return Buffer.from(out.bytes).toString('latin1')
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

/** Base64-like content laid out as a driver would: fixed-width lines, indentation, CRLF or not. */
const content = fc
  .record({
    length: fc.integer({ min: 0, max: 2000 }),
    width: fc.constantFrom(64, 72, 76, 5, 8, 9, 1),
    indent: fc.constantFrom('', '  ', '\t'),
    eol: fc.constantFrom('\n', '\r\n', ' \n'),
    seed: fc.integer({ min: 0, max: 2 ** 30 }),
    // Bytes a base64 encoder never writes, some of which make a float64 NaN when read eight at a time.
    odd: fc.array(fc.constantFrom('\x7f', '\xff', '\xf8', '\x01', '\x80'), { maxLength: 6 }),
  })
  .map(({ length, width, indent, eol, seed, odd }) => {
    let x = seed
    let chars = ''
    for (let i = 0; i < length; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31
      chars += B64[x % 64]
    }
    for (const [k, c] of odd.entries()) {
      const at = (seed + k * 977) % (chars.length + 1)
      chars = chars.slice(0, at) + c.repeat(8) + chars.slice(at)
    }
    const lines: string[] = []
    for (let i = 0; i < chars.length; i += width) lines.push(indent + chars.slice(i, i + width))
    return `${eol}${lines.join(eol)}${eol}`
  })

const element = fc
  .array(
    fc.record({
      content,
      enclen: fc.constantFrom(undefined, '"123"', "'9'"),
      selfClosing: fc.boolean(),
    }),
    { minLength: 1, maxLength: 3 },
  )
  .map(
    (blobs) =>
      `<setBLOBVector device="D" name="N" state="Ok">\n` +
      blobs
        .map((b, k) => {
          const attrs = `name="F${k}" size="10"${b.enclen === undefined ? '' : ` enclen=${b.enclen}`} format=".fits"`
          return b.selfClosing ? `  <oneBLOB ${attrs}/>\n` : `  <oneBLOB ${attrs}>${b.content}</oneBLOB>\n`
        })
        .join('') +
      '</setBLOBVector>\n',
  )

describe('compactBlob', () => {
  it('gives what the reference gives, in place or into a copy, for any layout and bytes', () => {
    fc.assert(
      fc.property(element, fc.boolean(), (text, inPlace) => {
        expect(compacted(text, inPlace)).toBe(reference(text))
      }),
      { numRuns: 400 },
    )
  })

  it("strips libindi's 72-column lines and enclen from an 8 MiB frame, byte for byte", () => {
    const image = Buffer.alloc(8 * 1024 * 1024)
    for (let i = 0; i < image.length; i++) image[i] = (i * 131 + (i >> 9)) & 255
    const b64 = image.toString('base64')
    const lines = b64.match(/.{1,72}/g)!.join('\n')
    const text = `<setBLOBVector device="D" name="N"><oneBLOB name="F" size="${image.length}" enclen="${b64.length}" format=".fits">\n${lines}\n</oneBLOB></setBLOBVector>`
    const out = compacted(text, true)
    expect(out).toBe(
      `<setBLOBVector device="D" name="N"><oneBLOB name="F" size="${image.length}" format=".fits">${b64}</oneBLOB></setBLOBVector>`,
    )
  })

  it('moves a line of bytes that read as NaN without changing one of them', () => {
    // 0x7f 0xf8…: a NaN in every eight-byte block, which V8 is free to canonicalise.
    const line = '\xf8\xff'.repeat(4).repeat(9)
    const text = `<setBLOBVector><oneBLOB name="F">\n${line}\n${line}\n${line}\n</oneBLOB></setBLOBVector>`
    expect(compacted(text, true)).toBe(reference(text))
    expect(compacted(text, true)).toContain(line.repeat(3))
  })

  it('returns the same frame when no content has a line break', () => {
    const bytes = Buffer.from('<setBLOBVector><oneBLOB name="F" enclen="4">QUJD</oneBLOB></setBLOBVector>')
    const frame = { tag: 'setBLOBVector', device: 'D', name: 'N', bytes }
    expect(compactBlob(frame, true)).toBe(frame)
  })
})

describe('isStreamBlob', () => {
  it('finds "stream" in a format attribute, in either quotes, and nowhere else', () => {
    const is = (s: string): boolean => isStreamBlob(Buffer.from(s))
    expect(is(`<setBLOBVector><oneBLOB name="F" format=".stream_jpg">QQ==</oneBLOB></setBLOBVector>`)).toBe(
      true,
    )
    expect(is(`<setBLOBVector><oneBLOB name='F' format='.stream'>QQ==</oneBLOB></setBLOBVector>`)).toBe(true)
    expect(is(`<setBLOBVector><oneBLOB name="stream" format=".fits">stream</oneBLOB></setBLOBVector>`)).toBe(
      false,
    )
    expect(
      is(
        `<setBLOBVector><oneBLOB name="A" format=".fits">QQ==</oneBLOB><oneBLOB name="B" format=".stream">QQ==</oneBLOB></setBLOBVector>`,
      ),
    ).toBe(true)
  })
})
