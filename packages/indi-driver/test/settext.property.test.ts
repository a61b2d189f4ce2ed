import { buildMessage, PROPERTY_STATES } from '@indi-ts/indi-xml'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  Device,
  Driver,
  LightVector,
  NumberVector,
  type SendOptions,
  SwitchVector,
  silentLogger,
  TextVector,
} from '../src/index.js'

// The send path writes set* text directly (bench/emit.mjs); it must equal the generic builder's
// output for the same message, byte for byte.
const name = fc.stringMatching(/^[A-Za-z0-9_. +:°-]{1,20}$/).filter((s) => s.trim() === s)
const opts = fc.record(
  {
    message: fc.string({ unit: 'grapheme', maxLength: 20 }),
    timeout: fc.double({ min: 0, max: 1e6, noNaN: true }),
    timestamp: fc.constantFrom('2026-01-02T03:04:05', '1999-12-31T23:59:59.123'),
  },
  { requiredKeys: ['timestamp'] },
)

function host<V extends TextVector | NumberVector | SwitchVector | LightVector>(dev: string, v: V): V {
  new Driver({ devices: [new Device({ name: dev, vectors: [v] })], logger: silentLogger })
  return v
}

function same(v: TextVector | NumberVector | SwitchVector | LightVector, o: SendOptions): void {
  const ms = v.members()
  expect(v._setText(ms as never, o)).toBe(buildMessage(v.toSet(o)))
}

describe('direct set* text equals buildMessage(toSet())', () => {
  it('for number vectors', () => {
    fc.assert(
      fc.property(
        name,
        name,
        fc.array(fc.double({ noNaN: true }), { minLength: 1, maxLength: 4 }),
        opts,
        (d, n, vals, o) => {
          const v = host(
            d,
            new NumberVector({ name: n, members: vals.map((value, i) => ({ name: `m${i}`, value })) }),
          )
          same(v, o)
        },
      ),
    )
  })

  it('for text vectors', () => {
    fc.assert(
      fc.property(
        name,
        fc.array(fc.string({ unit: 'grapheme', maxLength: 30 }), { minLength: 1, maxLength: 4 }),
        opts,
        (d, vals, o) => {
          same(
            host(
              d,
              new TextVector({ name: 'T', members: vals.map((value, i) => ({ name: `t${i}`, value })) }),
            ),
            o,
          )
        },
      ),
    )
  })

  it('for switch vectors (Off before On)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('On' as const, 'Off' as const), { minLength: 1, maxLength: 5 }),
        opts,
        (vals, o) => {
          same(
            host(
              'D',
              new SwitchVector({ name: 'S', members: vals.map((value, i) => ({ name: `s${i}`, value })) }),
            ),
            o,
          )
        },
      ),
    )
  })

  it('for light vectors', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...PROPERTY_STATES), { minLength: 1, maxLength: 5 }),
        opts,
        (vals, o) => {
          const { timeout: _t, ...rest } = o
          same(
            host(
              'D',
              new LightVector({ name: 'L', members: vals.map((value, i) => ({ name: `l${i}`, value })) }),
            ),
            rest,
          )
        },
      ),
    )
  })
})
