/**
 * The interop peers themselves. Without indilib the whole suite is skipped, and this file is
 * the one place that says so (one line), so a local run without indi-bin stays quiet and clear.
 */
import { describe, expect, it } from 'vitest'
import { hasIndi, runTool } from './harness.js'

if (!hasIndi) {
  console.log('[interop] indilib (indi-bin) not installed: interop suite skipped; apt-get install indi-bin')
}

describe.skipIf(!hasIndi)('interop environment', () => {
  it('indilib is 1.9.7 or newer, whose drivers ping after each BLOB', async () => {
    // indi_getprop prints its library version on the third line of its usage text.
    const usage = await runTool('indi_getprop', ['-x'])
    const version = /(\d+)\.(\d+)\.(\d+)/.exec(usage.stderr + usage.stdout)
    expect(version, 'version in indi_getprop usage').not.toBeNull()
    const [major, minor, patch] = version!.slice(1).map(Number) as [number, number, number]
    expect(major * 10_000 + minor * 100 + patch).toBeGreaterThanOrEqual(10_907)
  })
})
