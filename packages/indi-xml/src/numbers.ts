import { IndiError } from './errors.js'
import { formatG, printf } from './printf.js'

/**
 * Parse an INDI number as libindi's f_scansexa does: spaces removed, a leading `-` negates,
 * up to three numbers separated by any run of non-digits: A + B/60 + C/3600. Decimal and
 * exponent forms (`1e-06`) work. Throws IndiError ERR_INDI_NUMBER when there is no number.
 *
 * Because spaces are removed first (indicom.c), `'10 30 00'` reads as 103000, exactly as libindi
 * reads it; use `:` or `;` as separators.
 */
export function parseIndiNumber(text: string): number {
  // f_scansexa copies into a 128-byte buffer; longer input is cut.
  let s = text.slice(0, 127).replace(/ /g, '')
  let negative = false
  if (s.startsWith('-')) {
    negative = true
    s = s.slice(1)
  }
  // sscanf's %lf skips leading whitespace (tabs, newlines) before each number.
  const a = scanDouble(s, 0)
  if (a === undefined) throw new IndiError('ERR_INDI_NUMBER', `not a number: ${JSON.stringify(text)}`)
  let value = a.value
  let pos = a.end
  const parts = [0, 0]
  for (let k = 0; k < 2; k++) {
    // %*[^0-9]: at least one non-digit, then another %lf.
    let p = pos
    while (p < s.length && !isDigit(s.charCodeAt(p))) p++
    if (p === pos) break
    const n = scanDouble(s, p)
    if (n === undefined) break
    parts[k] = n.value
    pos = n.end
  }
  value = value + parts[0]! / 60 + parts[1]! / 3600
  return negative ? -value : value
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57
}

const DEC = /[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/y
const HEX = /[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?/y
const SPECIAL = /([+-]?)(inf(?:inity)?|nan(?:\([0-9A-Za-z_]*\))?)/iy

/** strtod on s at pos (after whitespace), C locale; undefined when no number starts there. */
function scanDouble(s: string, pos: number): { value: number; end: number } | undefined {
  while (pos < s.length && /\s/.test(s[pos]!)) pos++
  HEX.lastIndex = pos
  let m = HEX.exec(s)
  if (m !== null) return { value: parseHexFloat(m[0]), end: HEX.lastIndex }
  DEC.lastIndex = pos
  m = DEC.exec(s)
  if (m !== null) return { value: Number(m[0]), end: DEC.lastIndex }
  SPECIAL.lastIndex = pos
  m = SPECIAL.exec(s)
  if (m !== null) {
    const v = m[2]!.toLowerCase().startsWith('inf') ? Number.POSITIVE_INFINITY : Number.NaN
    return { value: m[1] === '-' ? -v : v, end: SPECIAL.lastIndex }
  }
  return undefined
}

function parseHexFloat(t: string): number {
  const m = /^([+-]?)0[xX]([0-9a-fA-F]*)\.?([0-9a-fA-F]*)(?:[pP]([+-]?\d+))?$/.exec(t)!
  const int = m[2] || '0'
  const frac = m[3] ?? ''
  const mant = Number.parseInt(int + frac || '0', 16)
  const v = mant * 2 ** (Number(m[4] ?? 0) - 4 * frac.length)
  return m[1] === '-' ? -v : v
}

/**
 * INDI's sexagesimal format `%<w>.<f>m`, as indicom.c's numberFormat/fs_sexa: recognised only
 * as `%`, integer w, `.`, integer f, `m` (flags such as `%010.6m` are read as part of w, and
 * ignored); the fraction base comes from f (9, 8, 6, 5, other); the whole part is w−f wide.
 */
function sexagesimal(format: string, value: number): string | undefined {
  // sscanf(format, "%%%d.%d%c", &w, &f, &m) == 3 && m == 'm'
  const m = /^%\s*([+-]?\d+)\.\s*([+-]?\d+)m/.exec(format)
  if (m === null) return undefined
  const w = Number(m[1])
  const f = Number(m[2])
  const base = f === 9 ? 360000 : f === 8 ? 36000 : f === 6 ? 3600 : f === 5 ? 600 : 60
  return fsSexa(value, clampWidth(w - f), base)
}

function clampWidth(w: number): number {
  return Math.max(-4096, Math.min(4096, w))
}

/** `%*d` / `%*s`: a negative width left-justifies, as in C. */
function field(s: string, w: number): string {
  return w < 0 ? s.padEnd(-w) : s.padStart(w)
}

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n)
}

function fsSexa(a: number, w: number, fracbase: number): string {
  const isneg = a < 0
  if (isneg) a = -a
  // n = (unsigned long)(a * fracbase + 0.5); d = n / fracbase as a C int. Out of range (and NaN)
  // the x86-64 conversion gives 0, and d wraps to 32 bits: reproduced so output matches libindi.
  const x = a * fracbase + 0.5
  const n = x < 2 ** 64 ? BigInt(Math.floor(x)) : 0n
  const big = BigInt(fracbase)
  const d = Number(BigInt.asIntN(32, n / big))
  const f = Number(n % big)
  let out = isneg && d === 0 ? `${field('', w - 2)}-0` : field(String(isneg ? -d : d), w)
  switch (fracbase) {
    case 60:
      out += `:${two(f)}`
      break
    case 600:
      out += `:${two(Math.floor(f / 10))}.${f % 10}`
      break
    case 3600:
      out += `:${two(Math.floor(f / 60))}:${two(f % 60)}`
      break
    case 36000: {
      const s = f % 600
      out += `:${two(Math.floor(f / 600))}:${two(Math.floor(s / 10))}.${s % 10}`
      break
    }
    default: {
      const s = f % 6000
      out += `:${two(Math.floor(f / 6000))}:${two(Math.floor(s / 100))}.${two(s % 100)}`
    }
  }
  return out
}

/**
 * Format a value for display with an INDI format: printf-style (`%f %e %g %d %i %s`, also
 * `%E %G %F %u %o %x %X`, with flags `- + space 0 #`, width, precision, as glibc prints them) or
 * sexagesimal `%<w>.<f>m` with indilib's exact rules. Never throws: an empty or unsupported
 * format (including a width-less `%.6m`, which glibc would print as strerror) falls back to `%g`.
 */
export function formatNumber(value: number, format: string): string {
  return sexagesimal(format, value) ?? printf(format, value) ?? formatG(value)
}

/**
 * A number as wire text: the shortest text that reads back to the same double (C locale, no
 * grouping), which libindi's strtod/f_scansexa read. `-0`, `nan`, `inf`, `-inf` for the specials.
 */
export function formatWireNumber(value: number): string {
  if (Number.isNaN(value)) return 'nan'
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf'
  if (Object.is(value, -0)) return '-0'
  return String(value)
}
