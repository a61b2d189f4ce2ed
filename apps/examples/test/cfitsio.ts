/** cfitsio (what indilib reads and writes FITS with) as an independent FITS reader in tests. */
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const CHECK = fileURLToPath(new URL('./fixtures/fitscheck.py', import.meta.url))
/** python3 with libcfitsio available. */
export const hasCfitsio =
  spawnSync('python3', [
    '-c',
    'import ctypes,ctypes.util,sys; sys.exit(0 if ctypes.util.find_library("cfitsio") else 1)',
  ]).status === 0

export function readWithCfitsio(bytes: Uint8Array, ...keys: string[]): Record<string, unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'indi-fits-'))
  try {
    const file = join(dir, 'image.fits')
    writeFileSync(file, bytes)
    return JSON.parse(execFileSync('python3', [CHECK, file, ...keys], { encoding: 'utf8' }))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
