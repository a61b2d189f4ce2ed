import { readFile, rm, writeFile } from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import ts from 'typescript'
import { afterEach, expect, it, vi } from 'vitest'

const readme = fileURLToPath(new URL('../README.md', import.meta.url))
// Written next to the package so that `@indi-ts/indi-msgpack` resolves as it would for a user.
const script = fileURLToPath(new URL('./.readme-example.tmp.mjs', import.meta.url))

afterEach(async () => {
  vi.restoreAllMocks()
  await rm(script, { force: true })
})

it('runs the README example and prints what the README says', async () => {
  const text = await readFile(readme, 'utf8')
  const code = /## Example\n\n```ts\n([\s\S]*?)```/.exec(text)?.[1] ?? ''
  expect(code).not.toBe('')
  const js = ts.transpileModule(code, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText
  await writeFile(script, js)
  const lines: string[] = []
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    lines.push(args.join(' '))
  })
  await import(pathToFileURL(script).href)
  const promised = [...code.matchAll(/^\/\/ ((?:pingRequest|setBLOBVector|in ).*)$/gm)].map((m) => m[1])
  expect(promised).toHaveLength(4)
  expect(lines).toEqual(promised)
})
