import { IndiError } from './errors.js'

/**
 * INDI's UTC timestamp `YYYY-MM-DDTHH:MM:SS` (fractionDigits 0, default) or with 1–3 fraction
 * digits (truncated, never rounded up into the next second). Throws IndiError ERR_INDI_TIMESTAMP
 * for an invalid date, a year outside 0000–9999, or fractionDigits outside 0–3.
 */
export function formatTimestamp(date: Date = new Date(), fractionDigits = 0): string {
  const t = date.getTime()
  if (!Number.isFinite(t)) throw new IndiError('ERR_INDI_TIMESTAMP', 'invalid Date')
  if (!Number.isInteger(fractionDigits) || fractionDigits < 0 || fractionDigits > 3) {
    throw new IndiError('ERR_INDI_TIMESTAMP', `fractionDigits must be 0 to 3, got ${fractionDigits}`)
  }
  const iso = date.toISOString() // YYYY-MM-DDTHH:MM:SS.sssZ, or ±YYYYYY-… outside 0000–9999
  if (iso.length !== 24) throw new IndiError('ERR_INDI_TIMESTAMP', `year out of range: ${iso}`)
  return fractionDigits === 0 ? iso.slice(0, 19) : iso.slice(0, 20 + fractionDigits)
}

const TS = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?Z?$/

/**
 * Parse INDI's UTC form, with or without a fraction and a trailing `Z` (surrounding whitespace
 * is ignored). Fractions beyond milliseconds are truncated. Throws IndiError ERR_INDI_TIMESTAMP.
 */
export function parseTimestamp(text: string): Date {
  const m = TS.exec(text.trim())
  if (m === null) throw new IndiError('ERR_INDI_TIMESTAMP', `not an INDI timestamp: ${JSON.stringify(text)}`)
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number]
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'))
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms))
  date.setUTCFullYear(y) // Date.UTC maps years 0–99 to 1900–1999
  if (
    date.getUTCFullYear() !== y ||
    date.getUTCMonth() !== mo - 1 ||
    date.getUTCDate() !== d ||
    date.getUTCHours() !== h ||
    date.getUTCMinutes() !== mi ||
    date.getUTCSeconds() !== s
  ) {
    throw new IndiError('ERR_INDI_TIMESTAMP', `no such date/time: ${JSON.stringify(text)}`)
  }
  return date
}
