import { readdir, readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'

const src = fileURLToPath(new URL('../src/', import.meta.url))

it('uses no Node-only API in src, so it runs in a browser', async () => {
  const files = (await readdir(src)).filter((f) => f.endsWith('.ts'))
  expect(files.length).toBeGreaterThan(0)
  for (const f of files) {
    const text = await readFile(src + f, 'utf8')
    const imports = [...text.matchAll(/from '([^']+)'/g)].map((m) => m[1])
    // indi-xml's root entry imports node:buffer; its ./errors subpath is browser-safe.
    for (const spec of imports)
      expect(spec === '@indi-ts/indi-xml/errors' || spec!.startsWith('./'), `${f}: ${spec}`).toBe(true)
    expect(text, f).not.toMatch(/\b(Buffer|process|require|setImmediate|global)\b/)
  }
})
