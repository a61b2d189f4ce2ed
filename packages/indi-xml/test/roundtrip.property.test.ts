import { Buffer } from 'node:buffer'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { buildMessageBytes } from '../src/index.js'
import { anyMessage, normal } from './arbitraries.js'
import { frame, parse } from './helpers.js'

/** Random cut points for a byte length. */
const cuts = (n: number) => fc.array(fc.integer({ min: 1, max: Math.max(1, n) }), { maxLength: 20 })

describe('properties', () => {
  it('build → parse returns the original message, for every kind', () => {
    fc.assert(
      fc.property(anyMessage, (m) => {
        const ev = parse(buildMessageBytes(m))
        expect(ev.map((e) => e.kind)).toEqual(['message'])
        expect(normal((ev[0] as { message: typeof m }).message)).toEqual(normal(m))
      }),
      { numRuns: 1000 },
    )
  })

  it('any split of a byte stream gives the same messages (parser)', () => {
    fc.assert(
      fc.property(
        fc.array(anyMessage, { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 64 }),
        (ms, seed) => {
          const stream = Buffer.concat(
            ms.map((m, i) =>
              Buffer.concat([Buffer.from(i % 2 ? "<?xml version='1.0'?>\n" : ''), buildMessageBytes(m)]),
            ),
          )
          const whole = parse(stream).map((e) => (e.kind === 'message' ? normal(e.message) : e.kind))
          const split = fc.sample(cuts(stream.length), { numRuns: 1, seed })[0]!
          const parts = parse(stream, undefined, split).map((e) =>
            e.kind === 'message' ? normal(e.message) : e.kind,
          )
          expect(parts).toEqual(whole)
          expect(whole).toHaveLength(ms.length)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('any split of a byte stream gives the same frames with the same bytes (framer)', () => {
    fc.assert(
      fc.property(
        fc.array(anyMessage, { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 64 }),
        (ms, seed) => {
          const built = ms.map((m) => Buffer.from(buildMessageBytes(m)))
          const stream = Buffer.concat(
            built.flatMap((b) => [Buffer.from("<?xml version='1.0'?>\n<!-- c -->\n"), b]),
          )
          const split = fc.sample(cuts(stream.length), { numRuns: 1, seed })[0]!
          for (const ev of [
            frame(stream),
            frame(stream, undefined, split),
            frame(stream, undefined, Array(stream.length).fill(1)),
          ]) {
            expect(ev.map((e) => e.kind)).toEqual(ms.map(() => 'frame'))
            ev.forEach((e, i) => {
              if (e.kind !== 'frame') return
              expect(e.frame.tag).toBe(ms[i]!.tag)
              expect(Buffer.from(e.frame.bytes).equals(built[i]!.subarray(0, built[i]!.length - 1))).toBe(
                true,
              )
              expect(e.frame.device).toBe((ms[i] as { device?: string }).device)
              expect(e.frame.name).toBe((ms[i] as { name?: string }).name)
            })
          }
        },
      ),
      { numRuns: 200 },
    )
  })
})
