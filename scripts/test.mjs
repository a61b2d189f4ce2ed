#!/usr/bin/env node
// Runs vitest (all projects, or the arguments given, e.g. `--project interop`) and ends with one
// plain line `tests: N passed, N failed, N skipped`, which CI systems that do not know vitest's
// summary can read. The exit code is vitest's.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const dir = mkdtempSync(join(tmpdir(), 'indi-ts-vitest-'))
const out = join(dir, 'results.json')
const run = spawnSync(
  'npx',
  [
    'vitest',
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${out}`,
    ...process.argv.slice(2),
  ],
  { stdio: 'inherit' },
)
let code = run.status ?? 1
try {
  const r = JSON.parse(readFileSync(out, 'utf8'))
  const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0)
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`)
  if (r.numTotalTests === 0) code = code || 1
} catch (err) {
  console.log(`tests: no results (${err.message})`)
  code = code || 1
} finally {
  rmSync(dir, { recursive: true, force: true })
}
process.exit(code)
