/**
 * Differential tests against libxmljs2 (libxml2), the reference XML parser: for each candidate
 * element, both agree on element names, attributes and text, or both reject it. libxmljs2 needs a
 * single root, so each candidate is parsed on its own.
 *
 * Compared after XML's own normalisations that lilxml (and therefore this package) does not do:
 * line ends (CR LF → LF) and attribute-value whitespace (tab/LF → space); text is compared
 * trimmed, as INDI reads it. Intentional divergences, kept out of the generated inputs:
 * an `<?xml?>` declaration is accepted anywhere between elements (libindi writes one before every
 * element), and invalid UTF-8 is replaced rather than rejected (inputs here are valid strings).
 */
import { Buffer } from 'node:buffer'
import fc from 'fast-check'
import libxmljs from 'libxmljs2'
import { describe, expect, it } from 'vitest'
import { XmlParseError } from '../src/errors.js'
import { buildMessage } from '../src/index.js'
import { parseElementBytes } from '../src/parser.js'
import { DEFAULT_LIMITS, Splitter } from '../src/splitter.js'
import { trimXml, type XmlNode } from '../src/tree.js'
import { anyMessage } from './arbitraries.js'

interface Tree {
  name: string
  attrs: [string, string][]
  text: string
  children: Tree[]
}

const lineEnds = (s: string) => s.replace(/\r\n?/g, '\n')
const attrNorm = (s: string) => lineEnds(s).replace(/[\t\n]/g, ' ')

function fromMine(n: XmlNode): Tree {
  const attrs: [string, string][] = []
  for (let i = 0; i < n.attrs.length; i += 2) attrs.push([n.attrs[i]!, attrNorm(n.attrs[i + 1]!)])
  attrs.sort()
  return { name: n.name, attrs, text: trimXml(lineEnds(n.text)), children: n.children.map(fromMine) }
}

type LxNode = {
  name(): string
  type(): string
  text(): string
  attrs(): { name(): string; value(): string }[]
  childNodes(): LxNode[]
}

function fromOracle(n: LxNode): Tree {
  const attrs = n.attrs().map((a) => [a.name(), attrNorm(a.value())] as [string, string])
  attrs.sort()
  const kids = n.childNodes()
  const text = kids
    .filter((k) => k.type() === 'text' || k.type() === 'cdata')
    .map((k) => k.text())
    .join('')
  return {
    name: n.name(),
    attrs,
    text: trimXml(lineEnds(text)),
    children: kids.filter((k) => k.type() === 'element').map(fromOracle),
  }
}

/** Our pipeline (the same splitter and element parser IndiParser uses), stopping before INDI checks. */
function mine(xml: string): Tree | 'reject' {
  const trees: XmlNode[] = []
  let errors = 0
  const s = new Splitter(DEFAULT_LIMITS, {
    element(b, start, end, _tag, _i, offset) {
      const t = parseElementBytes(b, start, end, offset, DEFAULT_LIMITS, false)
      if (t instanceof XmlParseError) errors++
      else trees.push(t)
      return false
    },
    error() {
      errors++
    },
  })
  s.push(Buffer.from(xml))
  s.end()
  return errors === 0 && trees.length === 1 ? fromMine(trees[0]!) : 'reject'
}

function oracle(xml: string): Tree | 'reject' {
  try {
    const doc = libxmljs.parseXml(xml)
    const root = doc.root() as unknown as LxNode | null
    if (root === null || (doc as unknown as { errors: unknown[] }).errors.length > 0) return 'reject'
    return fromOracle(root)
  } catch {
    return 'reject'
  }
}

const alphabet = fc.constantFrom(...'<>/="\'&;#ab !?-[] \n'.split(''))
const edit = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), ch: alphabet }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), ch: alphabet }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 12 }) }),
)
type Edit = typeof edit extends fc.Arbitrary<infer T> ? T : never

function mutate(s: string, edits: Edit[]): string {
  for (const e of edits) {
    const at = s.length === 0 ? 0 : e.at % s.length
    if (e.kind === 'insert') s = s.slice(0, at) + e.ch + s.slice(at)
    else if (e.kind === 'delete') s = s.slice(0, at) + s.slice(at + e.n)
    else if (e.kind === 'replace') s = s.slice(0, at) + e.ch + s.slice(at + 1)
    else if (e.kind === 'truncate') s = s.slice(0, at)
    else s = s.slice(0, at) + s.slice(at, at + e.n) + s.slice(at)
  }
  return s
}

function agree(xml: string): void {
  const a = mine(xml)
  const b = oracle(xml)
  if (a === 'reject' || b === 'reject')
    expect({ xml, mine: a === 'reject', oracle: b === 'reject' }).toEqual({ xml, mine: true, oracle: true })
  else expect(a).toEqual(b)
}

describe('differential: indi-xml vs libxmljs2', () => {
  it('agrees on every element the builder generates, with and without a prologue', () => {
    fc.assert(
      fc.property(anyMessage, fc.boolean(), (m, prologue) => {
        const xml = (prologue ? "<?xml version='1.0'?>\n" : '') + buildMessage(m)
        expect(mine(xml)).not.toBe('reject')
        agree(xml)
      }),
      { numRuns: 500 },
    )
  })

  it('agrees on mutated elements: same tree, or both reject', () => {
    let accepted = 0
    let rejected = 0
    fc.assert(
      fc.property(anyMessage, fc.array(edit, { minLength: 1, maxLength: 3 }), (m, edits) => {
        const xml = mutate(buildMessage(m).trimEnd(), edits)
        agree(xml)
        if (mine(xml) === 'reject') rejected++
        else accepted++
      }),
      { numRuns: 3000 },
    )
    // Not vacuous: mutations produce both well-formed and broken inputs.
    expect(accepted).toBeGreaterThan(100)
    expect(rejected).toBeGreaterThan(100)
  })

  it.each([
    `<a x='1' y="2">t</a>`,
    `<a><!-- c --><b/>x<![CDATA[<y>]]></a>`,
    `<a>&#38;&#x26;&amp;&lt;&gt;&quot;&apos;</a>`,
    `<a x="1" x="2"/>`,
    `<a x=1/>`,
    `<a x="1"y="2"/>`,
    `<a>&foo;</a>`,
    `<a>&#0;</a>`,
    `<a>x]]>y</a>`,
    `<a><b></a></b>`,
    `<a x="<"/>`,
    `<a><!-- x -- y --></a>`,
    `<a><?xml version="1.0"?></a>`,
    `<a><?pi data?></a>`,
    `<1a/>`,
    `<a></a >`,
    `<a/>x`,
    `<a>°✓😀</a>`,
    `<a\tx\n=\r'1'/>`,
  ])('agrees on %j', (xml) => {
    agree(xml)
  })
})
