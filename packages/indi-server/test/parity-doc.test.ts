import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

// docs/parity.md promises one line per capability of the parity checklist, each naming the test
// that proves it (or the reason it was not taken). This keeps the promise checkable: a renamed or
// deleted test, or a line without proof, fails here. (Whether the cited tests pass is each
// package's own suite.)
const root = fileURLToPath(new URL('../../../', import.meta.url))
const doc = readFileSync(`${root}docs/parity.md`, 'utf8')

interface Line {
  section: string
  text: string
  cites: { file: string; name: string }[]
}

function lines(): Line[] {
  const out: Line[] = []
  let section = ''
  for (const text of doc.split('\n')) {
    if (text.startsWith('## ')) section = text.slice(3)
    if (!text.startsWith('- **')) continue
    const cites: Line['cites'] = []
    let file = ''
    for (const m of text.matchAll(/`([^`]+\.ts)`|«([^»]+)»/g)) {
      if (m[1] !== undefined) file = m[1]
      else cites.push({ file, name: m[2]! })
    }
    out.push({ section, text, cites })
  }
  return out
}

describe('docs/parity.md', () => {
  it('has one line per capability of the checklist, grouped in its ten sections', () => {
    const count = new Map<string, number>()
    for (const l of lines()) count.set(l.section, (count.get(l.section) ?? 0) + 1)
    expect([...count.values()]).toEqual([13, 15, 13, 9, 9, 9, 9, 8, 19, 6])
  })

  it('gives every line a cited test or a reason', () => {
    const bare = lines().filter((l) => l.cites.length === 0 && !/not taken|reason/i.test(l.text))
    expect(bare.map((l) => l.text.slice(0, 60))).toEqual([])
  })

  it('cites only test names that exist in the cited files', () => {
    const missing: string[] = []
    for (const l of lines()) {
      for (const { file, name } of l.cites) {
        const path = `${root}${file}`
        const src = existsSync(path) ? readFileSync(path, 'utf8') : ''
        // Names are quoted in source with ', " or `; a quote inside may be escaped.
        const found = [name, name.replaceAll("'", "\\'"), name.replaceAll('"', '\\"')].some((n) =>
          src.includes(n),
        )
        if (!found) missing.push(`${file} «${name}»`)
      }
    }
    expect(missing).toEqual([])
  })
})
