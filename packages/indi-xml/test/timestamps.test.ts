import { describe, expect, it } from 'vitest'
import { formatTimestamp, IndiError, parseTimestamp } from '../src/index.js'

const at = new Date(Date.UTC(2026, 10, 24, 1, 9, 21, 456))

function code(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (e) {
    return IndiError.is(e) ? e.code : 'not an IndiError'
  }
  return undefined
}

describe('timestamps', () => {
  it('formats whole seconds in UTC as libindi does', () => {
    expect(formatTimestamp(at)).toBe('2026-11-24T01:09:21')
  })

  it('formats fraction digits by truncation', () => {
    expect(formatTimestamp(at, 1)).toBe('2026-11-24T01:09:21.4')
    expect(formatTimestamp(at, 3)).toBe('2026-11-24T01:09:21.456')
  })

  it('parses with and without a fraction and a Z', () => {
    expect(parseTimestamp('2026-11-24T01:09:21').getTime()).toBe(Date.UTC(2026, 10, 24, 1, 9, 21))
    expect(parseTimestamp('2026-11-24T01:09:21Z').getTime()).toBe(Date.UTC(2026, 10, 24, 1, 9, 21))
    expect(parseTimestamp('2026-11-24T01:09:21.456789').getTime()).toBe(at.getTime())
    expect(parseTimestamp('2026-11-24T01:09:21.5Z').getTime()).toBe(Date.UTC(2026, 10, 24, 1, 9, 21, 500))
  })

  it('round-trips format → parse', () => {
    expect(parseTimestamp(formatTimestamp(at, 3)).getTime()).toBe(at.getTime())
  })

  it.each([
    '',
    '2026-11-24',
    '2026-11-24 01:09:21',
    '2026-13-01T00:00:00',
    '2026-02-30T00:00:00',
    '2026-11-24T24:00:00',
    '2026-11-24T01:09:21+01:00',
  ])('rejects %j with ERR_INDI_TIMESTAMP', (text) => {
    expect(code(() => parseTimestamp(text))).toBe('ERR_INDI_TIMESTAMP')
  })

  it('rejects an invalid Date and bad fraction digits with ERR_INDI_TIMESTAMP', () => {
    expect(code(() => formatTimestamp(new Date(Number.NaN)))).toBe('ERR_INDI_TIMESTAMP')
    expect(code(() => formatTimestamp(at, 4))).toBe('ERR_INDI_TIMESTAMP')
  })
})
