/**
 * Entity decoding (input) and escaping (output).
 *
 * Input accepts the five named entities and numeric character references (`&#38;`, `&#x26;`),
 * as an XML reader must. Output uses only the five named entities: lilxml does not decode numeric
 * references (indi-protocol.md §0 rule 4), so we never write them.
 */

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }

/** Why an entity could not be decoded, and where (index in the input string). */
export interface EntityFailure {
  readonly index: number
  readonly reason: string
}

/**
 * Decode entities in `text`. Returns the decoded string, or an `EntityFailure` for a bare `&`, an
 * unknown entity or a reference to a character that XML forbids.
 */
export function decodeEntities(text: string): string | EntityFailure {
  let amp = text.indexOf('&')
  if (amp === -1) return text
  let out = ''
  let from = 0
  while (amp !== -1) {
    const semi = text.indexOf(';', amp + 1)
    // Entity names are short; a far-away ';' means a bare '&'.
    if (semi === -1 || semi - amp > 12) return { index: amp, reason: "bare '&' (write &amp;)" }
    const name = text.slice(amp + 1, semi)
    let ch: string | undefined
    if (name.charCodeAt(0) === 35 /* # */) {
      const hex = name.charCodeAt(1) === 120 /* x */
      const digits = name.slice(hex ? 2 : 1)
      if (digits.length > 0 && (hex ? /^[0-9a-fA-F]+$/ : /^[0-9]+$/).test(digits)) {
        const cp = Number.parseInt(digits, hex ? 16 : 10)
        if (isXmlChar(cp)) ch = String.fromCodePoint(cp)
      }
    } else {
      ch = NAMED[name]
    }
    if (ch === undefined) return { index: amp, reason: `unknown or invalid entity '&${name};'` }
    out += text.slice(from, amp) + ch
    from = semi + 1
    amp = text.indexOf('&', from)
  }
  return out + text.slice(from)
}

/** XML 1.0 `Char`: what a document may contain, directly or by reference. */
export function isXmlChar(cp: number): boolean {
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  )
}

const ESCAPE_TEST = /[&<>"'\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF\uD800-\uDFFF]/
const ESCAPE_ALL =
  /[&<>"'\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

function escapeChar(c: string): string {
  switch (c) {
    case '&':
      return '&amp;'
    case '<':
      return '&lt;'
    case '>':
      return '&gt;'
    case '"':
      return '&quot;'
    case "'":
      return '&apos;'
    default:
      // A character XML cannot carry at all (a control character or a lone surrogate): lilxml
      // would drop it silently; we make the loss visible instead.
      return '\uFFFD'
  }
}

/**
 * Escape text for an attribute value or element content: `& < > " '` become the five named
 * entities (never numeric references, never CDATA). Characters that XML 1.0 cannot carry at all
 * (C0 controls other than tab/LF/CR, U+FFFE/U+FFFF, lone surrogates) become U+FFFD.
 */
export function escapeXml(text: string): string {
  // The test is ~10x cheaper than replace() on the common clean string.
  if (!ESCAPE_TEST.test(text)) return text
  return text.replace(ESCAPE_ALL, escapeChar)
}
