import { describe, expect, it } from 'vitest'
import { youngGenerationGc } from '../src/gc.js'

describe('youngGenerationGc (the CLI’s reclaimMemory)', () => {
  it('gives a working young-generation collection without node --expose-gc', () => {
    const gc = youngGenerationGc()
    expect(gc).toBeTypeOf('function')
    // Garbage in external memory: a scavenge frees young ArrayBuffers at once.
    const before = process.memoryUsage().arrayBuffers
    for (let i = 0; i < 64; i++) Buffer.allocUnsafe(256 * 1024).fill(i)
    const grown = process.memoryUsage().arrayBuffers
    gc!()
    expect(grown - before).toBeGreaterThan(8 * 1024 * 1024)
    expect(process.memoryUsage().arrayBuffers).toBeLessThan(grown - 8 * 1024 * 1024)
    // The main context is left as it was.
    expect('gc' in globalThis).toBe(false)
  })
})
