import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

// `@indi-ts/indi-xml/errors` is imported by browser-safe packages (indi-queue): it must stay free
// of imports, Node-only or otherwise, so that it never pulls node:buffer into a bundle.
describe('./errors subpath', () => {
  it('errors.ts imports nothing', () => {
    const src = readFileSync(new URL('../src/errors.ts', import.meta.url), 'utf8')
    expect(src).not.toMatch(/^\s*import\s/m)
    expect(src).not.toMatch(/\brequire\(/)
  })

  it('is exported with types first, next to an unchanged root export', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
    expect(pkg.exports['./errors']).toEqual({ types: './dist/errors.d.ts', default: './dist/errors.js' })
    expect(Object.keys(pkg.exports['./errors'])[0]).toBe('types')
    expect(pkg.exports['.']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' })
  })
})
