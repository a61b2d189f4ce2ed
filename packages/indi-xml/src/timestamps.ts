/** INDI's UTC timestamp `YYYY-MM-DDTHH:MM:SS` (fractionDigits 0, default) or with a fraction. */
export function formatTimestamp(_date: Date = new Date(), _fractionDigits = 0): string {
  throw new Error('not implemented')
}

/** Parse INDI's UTC form, with or without a fraction and a trailing `Z`. Throws ERR_INDI_TIMESTAMP. */
export function parseTimestamp(_text: string): Date {
  throw new Error('not implemented')
}
