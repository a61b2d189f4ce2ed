/**
 * C printf for one double, matching glibc: `%d %i %u %o %x %X %e %E %f %F %g %G %s` with flags
 * `- + space 0 #`, width and precision. Floating conversions are computed from the exact
 * decimal expansion of the double (BigInt), rounded half-to-even as glibc does in the default
 * rounding mode, so `%.0f` of 2.5 is `2` and `%.2f` of 0.125 is `0.12`, exactly as in C.
 */

interface Spec {
  minus: boolean
  plus: boolean
  space: boolean
  zero: boolean
  hash: boolean
  width: number
  precision: number | undefined
  conv: string
}

const MAX_WIDTH = 4096 // a bound on padding: a hostile format must not allocate megabytes

/** Exact decimal digits of |x| (finite, non-zero): x = 0.d1d2… × 10^point. */
function exactDigits(x: number): { digits: string; point: number } {
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, Math.abs(x))
  const hi = view.getUint32(0)
  const lo = view.getUint32(4)
  const biased = (hi >>> 20) & 0x7ff
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo)
  let exp: number
  if (biased === 0) exp = -1074
  else {
    mant |= 1n << 52n
    exp = biased - 1075
  }
  let digits: string
  let point: number
  if (exp >= 0) {
    digits = (mant << BigInt(exp)).toString()
    point = digits.length
  } else {
    // m / 2^k = m * 5^k / 10^k
    digits = (mant * 5n ** BigInt(-exp)).toString()
    point = digits.length + exp
  }
  const stripped = digits.replace(/0+$/, '')
  return { digits: stripped === '' ? '0' : stripped, point }
}

/**
 * Round digits (value 0.D × 10^point) to keep `keep` digits after the start, half to even.
 * Returns the new digits (exactly `keep` long, or keep+1 after a carry) and point.
 */
function roundDigits(digits: string, point: number, keep: number): { digits: string; point: number } {
  if (keep < 0) return { digits: '', point }
  if (digits.length <= keep) return { digits: digits.padEnd(keep, '0'), point }
  const head = digits.slice(0, keep)
  const next = digits.charCodeAt(keep) - 48
  const rest = digits.length > keep + 1
  const lastOdd = keep > 0 ? (digits.charCodeAt(keep - 1) - 48) % 2 === 1 : false
  const up = next > 5 || (next === 5 && (rest || lastOdd))
  if (!up) return { digits: head, point }
  // Increment head as a decimal string.
  const arr = head.split('')
  let i = arr.length - 1
  while (i >= 0) {
    if (arr[i] === '9') {
      arr[i] = '0'
      i--
    } else {
      arr[i] = String.fromCharCode(arr[i]!.charCodeAt(0) + 1)
      break
    }
  }
  if (i < 0) return { digits: `1${arr.join('')}`.slice(0, Math.max(keep, 1)), point: point + 1 }
  return { digits: arr.join(''), point }
}

/** %f digits for |x|: integer part and `prec` decimals. */
function fixed(x: number, prec: number): string {
  if (x === 0) return prec > 0 ? `0.${'0'.repeat(prec)}` : '0'
  const { digits, point } = exactDigits(x)
  // Keep digits up to position point + prec.
  const keep = point + prec
  let r: { digits: string; point: number }
  if (keep < 0) r = { digits: '', point }
  else if (keep === 0) {
    // Only the rounding of the first digit matters: 0.5 exactly ties to even (0).
    const first = digits.charCodeAt(0) - 48
    const up = first > 5 || (first === 5 && digits.length > 1)
    r = up ? { digits: '1', point: point + 1 } : { digits: '', point }
  } else r = roundDigits(digits, point, keep)
  // Lay the digits out: r.digits represent 0.D × 10^r.point, with exactly r.point + prec digits.
  let d = r.digits
  const intLen = r.point
  if (intLen <= 0) d = '0'.repeat(-intLen + 1) + d
  const il = Math.max(intLen, 1)
  d = d.padEnd(il + prec, '0')
  const int = d.slice(0, il)
  const frac = d.slice(il, il + prec)
  return prec > 0 ? `${int}.${frac}` : int
}

/** %e digits for |x|: mantissa with `prec` decimals and exponent. */
function expo(x: number, prec: number, upper: boolean): { text: string; exp: number } {
  let mant: string
  let e: number
  if (x === 0) {
    mant = '0'.repeat(prec + 1)
    e = 0
  } else {
    const { digits, point } = exactDigits(x)
    const r = roundDigits(digits, point, prec + 1)
    mant = r.digits.slice(0, prec + 1)
    e = r.point - 1
  }
  const body = prec > 0 ? `${mant[0]}.${mant.slice(1)}` : mant
  const sign = e < 0 ? '-' : '+'
  const ae = Math.abs(e)
  return { text: `${body}${upper ? 'E' : 'e'}${sign}${ae < 10 ? `0${ae}` : ae}`, exp: e }
}

function pad(s: string, spec: Spec, sign: string, zeroOk: boolean): string {
  const width = spec.width
  const len = sign.length + s.length
  if (len >= width) return sign + s
  if (spec.minus) return sign + s + ' '.repeat(width - len)
  if (spec.zero && zeroOk) return sign + '0'.repeat(width - len) + s
  return ' '.repeat(width - len) + sign + s
}

function signOf(negative: boolean, spec: Spec): string {
  return negative ? '-' : spec.plus ? '+' : spec.space ? ' ' : ''
}

function formatFloat(value: number, spec: Spec): string {
  const conv = spec.conv
  const upper = conv === 'E' || conv === 'F' || conv === 'G'
  const negative = value < 0 || Object.is(value, -0)
  const sign = signOf(negative, spec)
  if (!Number.isFinite(value)) {
    const t = Number.isNaN(value) ? 'nan' : 'inf'
    return pad(upper ? t.toUpperCase() : t, spec, Number.isNaN(value) ? signOf(false, spec) : sign, false)
  }
  const x = Math.abs(value)
  let prec = spec.precision ?? 6
  let body: string
  switch (conv) {
    case 'f':
    case 'F':
      body = fixed(x, prec)
      if (spec.hash && prec === 0) body += '.'
      break
    case 'e':
    case 'E': {
      body = expo(x, prec, upper).text
      if (spec.hash && prec === 0) body = body.replace(/^(\d)/, '$1.')
      break
    }
    default: {
      // %g: P significant digits; style e if X < -4 or X >= P, where X is the exponent after rounding.
      if (prec === 0) prec = 1
      const X = x === 0 ? 0 : expo(x, prec - 1, false).exp
      if (prec > X && X >= -4) {
        body = fixed(x, prec - 1 - X)
        if (!spec.hash && body.includes('.')) body = body.replace(/\.?0+$/, '')
        else if (spec.hash && !body.includes('.')) body += '.'
      } else {
        body = expo(x, prec - 1, upper).text
        if (!spec.hash) body = body.replace(/\.?0+([eE])/, '$1')
        else if (!body.includes('.')) body = body.replace(/([eE])/, '.$1')
      }
    }
  }
  return pad(body, spec, sign, true)
}

function formatInt(value: number, spec: Spec): string {
  if (!Number.isFinite(value)) return formatFloat(value, { ...spec, conv: 'f', precision: 0 })
  // A double given to an integer conversion is undefined behaviour in C; we truncate toward zero.
  let n = BigInt(Math.trunc(value))
  const conv = spec.conv
  const signed = conv === 'd' || conv === 'i'
  let negative = false
  if (signed) {
    negative = n < 0n
    if (negative) n = -n
  } else if (n < 0n) {
    n = BigInt.asUintN(64, n)
  }
  const radix = conv === 'o' ? 8 : conv === 'x' || conv === 'X' ? 16 : 10
  let digits = n.toString(radix)
  if (conv === 'X') digits = digits.toUpperCase()
  if (spec.precision !== undefined) {
    digits = spec.precision === 0 && n === 0n ? '' : digits.padStart(spec.precision, '0')
  }
  let prefix = ''
  if (spec.hash && conv === 'o' && !digits.startsWith('0')) digits = `0${digits}`
  if (spec.hash && n !== 0n && (conv === 'x' || conv === 'X')) prefix = conv === 'x' ? '0x' : '0X'
  const sign = signed ? signOf(negative, spec) : ''
  return pad(digits, spec, sign + prefix, spec.precision === undefined)
}

function formatString(value: number, spec: Spec): string {
  // `%s` with a double is undefined behaviour in C; we print the shortest round-trip text.
  let s = Object.is(value, -0)
    ? '-0'
    : Number.isNaN(value)
      ? 'nan'
      : Number.isFinite(value)
        ? String(value)
        : value > 0
          ? 'inf'
          : '-inf'
  if (spec.precision !== undefined) s = s.slice(0, spec.precision)
  return pad(s, { ...spec, zero: false }, '', false)
}

const SPEC = /%([-+ 0#]*)(\d*)(?:\.(\d*))?(hh|h|ll|l|L|q|j|z|t)?([diouxXeEfFgGs%])/y

/**
 * Format with a printf format holding one conversion (plus literal text and `%%`).
 * Returns undefined when the format is not one this implementation supports exactly.
 */
export function printf(format: string, value: number): string | undefined {
  let out = ''
  let done = false
  let i = 0
  while (i < format.length) {
    const pct = format.indexOf('%', i)
    if (pct === -1) {
      out += format.slice(i)
      break
    }
    out += format.slice(i, pct)
    SPEC.lastIndex = pct
    const m = SPEC.exec(format)
    if (m === null) return undefined
    i = SPEC.lastIndex
    const conv = m[5]!
    if (conv === '%') {
      if (m[0] !== '%%') return undefined
      out += '%'
      continue
    }
    if (done) return undefined // a second conversion would read garbage in C
    done = true
    const flags = m[1]!
    const spec: Spec = {
      minus: flags.includes('-'),
      plus: flags.includes('+'),
      space: flags.includes(' '),
      zero: flags.includes('0'),
      hash: flags.includes('#'),
      width: Math.min(m[2] === '' ? 0 : Number(m[2]), MAX_WIDTH),
      precision: m[3] === undefined ? undefined : Math.min(m[3] === '' ? 0 : Number(m[3]), MAX_WIDTH),
      conv,
    }
    if ('diouxX'.includes(conv)) out += formatInt(value, spec)
    else if (conv === 's') out += formatString(value, spec)
    else out += formatFloat(value, spec)
  }
  return done ? out : undefined
}

/** `%g` of a value, the fallback for formats we do not support. */
export function formatG(value: number): string {
  return printf('%g', value)!
}
