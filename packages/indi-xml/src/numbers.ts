/**
 * Parse an INDI number as libindi's f_scansexa does: spaces removed, a leading `-` negates,
 * up to three numbers separated by any run of non-digits: A + B/60 + C/3600. Decimal and
 * exponent forms (`1e-06`) work. Throws IndiError ERR_INDI_NUMBER when there is no number.
 */
export function parseIndiNumber(_text: string): number {
  throw new Error('not implemented')
}

/**
 * Format a value for display with an INDI format: printf-style (`%f %e %g %d %i %s` with flags,
 * width, precision) or sexagesimal `%<w>.<f>m` with indilib's exact rules. Never throws: an empty
 * or unsupported format falls back to `%g`.
 */
export function formatNumber(_value: number, _format: string): string {
  throw new Error('not implemented')
}

/** A number as wire text: shortest text that round-trips, in the C locale, readable by libindi. */
export function formatWireNumber(_value: number): string {
  throw new Error('not implemented')
}
