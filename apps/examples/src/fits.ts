/**
 * A minimal, correct FITS writer for one 16-bit image (FITS Standard 4.0, §3–§5): 80-character
 * ASCII header cards in 2880-byte blocks ending with END, then big-endian pixel data padded with
 * zeros to a 2880-byte boundary. Enough for a camera driver to send frames every INDI client
 * (KStars, indi_getprop, cfitsio) reads; not a general FITS library.
 */

const BLOCK = 2880
const CARD = 80

/** A header value: logical (T/F), integer or real number, or a quoted string. */
export type FitsValue = boolean | number | string

/** One extra header card. */
export interface FitsCard {
  /** Up to 8 characters: A–Z, 0–9, `-`, `_` (FITS §4.1.2.1). */
  key: string
  value: FitsValue
  comment?: string
}

/** What `makeFits()` needs: an image of unsigned 16-bit pixels, row by row from the bottom. */
export interface FitsImage {
  width: number
  height: number
  /** width × height pixels, 0–65535. */
  pixels: Uint16Array
  /** Cards written after the mandatory ones (EXPTIME, DATE-OBS, INSTRUME …). */
  cards?: readonly FitsCard[]
}

/** Formats one value in the fixed format of FITS §4.2 (right-aligned in columns 11–30). */
function formatValue(v: FitsValue): string {
  if (typeof v === 'boolean') return (v ? 'T' : 'F').padStart(20)
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new RangeError(`FITS values must be finite, got ${v}`)
    // A real keeps a decimal point or exponent so readers do not take it for an integer.
    const text = Number.isInteger(v) ? String(v) : v.toPrecision(15).replace(/0+(e|$)/, '$1')
    return text.padStart(20)
  }
  // Strings: single quotes, an embedded quote doubled, at least 8 characters inside (§4.2.1.1).
  return `'${v.replace(/'/g, "''").padEnd(8)}'`
}

/** One 80-character card; throws RangeError for a bad key or an over-long card. */
export function fitsCard(key: string, value?: FitsValue, comment?: string): string {
  if (!/^[A-Z0-9_-]{1,8}$/.test(key)) throw new RangeError(`bad FITS keyword ${JSON.stringify(key)}`)
  let card = key.padEnd(8)
  if (value !== undefined) {
    card += `= ${formatValue(value)}`
    if (comment !== undefined) card += ` / ${comment}`
  }
  // Only printable ASCII is allowed in a header (§4.1.1).
  if (/[^\x20-\x7e]/.test(card)) throw new RangeError(`non-ASCII text in FITS card ${key}`)
  if (card.length > CARD) card = card.slice(0, CARD)
  return card.padEnd(CARD)
}

/**
 * Builds a complete single-HDU FITS file. Pixels are stored as BITPIX = 16 with BZERO = 32768,
 * the standard way to hold unsigned 16-bit data in FITS's signed integers (§5.2.5).
 */
export function makeFits(image: FitsImage): Uint8Array {
  const { width, height, pixels } = image
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`bad image size ${width}x${height}`)
  }
  if (pixels.length !== width * height) {
    throw new RangeError(`expected ${width * height} pixels, got ${pixels.length}`)
  }
  const cards = [
    fitsCard('SIMPLE', true, 'conforms to FITS standard'),
    fitsCard('BITPIX', 16, 'array data type'),
    fitsCard('NAXIS', 2, 'number of array dimensions'),
    fitsCard('NAXIS1', width),
    fitsCard('NAXIS2', height),
    fitsCard('BZERO', 32768, 'offset for unsigned 16-bit data'),
    fitsCard('BSCALE', 1),
    ...(image.cards ?? []).map((c) => fitsCard(c.key, c.value, c.comment)),
    fitsCard('END'),
  ]
  const header = cards.join('')
  const headerBytes = Math.ceil(header.length / BLOCK) * BLOCK
  const dataBytes = Math.ceil((pixels.length * 2) / BLOCK) * BLOCK
  // Zero-filled, so the data padding is already right; header padding must be spaces.
  const out = new Uint8Array(headerBytes + dataBytes)
  out.fill(0x20, 0, headerBytes)
  out.set(Buffer.from(header, 'latin1'), 0)
  const view = new DataView(out.buffer, headerBytes, pixels.length * 2)
  for (let i = 0; i < pixels.length; i++) view.setInt16(i * 2, pixels[i]! - 32768, false)
  return out
}
