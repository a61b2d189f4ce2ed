import { Buffer } from 'node:buffer'

/** A Buffer view of any Uint8Array, without copying (Buffer methods: indexOf, utf8Slice …). */
export function asBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
}

/** Up to 64 bytes from `start`, decoded as UTF-8 (invalid bytes replaced) for an error excerpt. */
export function excerptOf(buf: Uint8Array, start: number, end: number): string {
  const b = asBuffer(buf)
  const s = Math.max(0, Math.min(start, end))
  return b.toString('utf8', s, Math.min(end, s + 64))
}

/** XML name start character, byte level: ASCII letters, `_`, `:`, or any non-ASCII byte. */
export function isNameStartByte(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 58 || c >= 0x80
}

/** XML name character, byte level. */
export function isNameByte(c: number): boolean {
  return (
    (c >= 97 && c <= 122) ||
    (c >= 65 && c <= 90) ||
    (c >= 48 && c <= 57) ||
    c === 95 ||
    c === 58 ||
    c === 45 ||
    c === 46 ||
    c >= 0x80
  )
}

/** XML whitespace: space, tab, LF, CR. */
export function isSpaceByte(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9
}

interface FastSlices {
  utf8Slice(start: number, end: number): string
  latin1Slice(start: number, end: number): string
}

/**
 * UTF-8 decode of b[start, end), invalid bytes replaced by U+FFFD. Calls Buffer's internal
 * `utf8Slice` directly: `toString('utf8', …)` adds argument checks on every call.
 */
export function utf8(b: Buffer, start: number, end: number): string {
  return (b as unknown as FastSlices).utf8Slice(start, end)
}

/** Latin-1 decode of b[start, end): one byte per character, a plain copy (BLOB base64 text). */
export function latin1(b: Buffer, start: number, end: number): string {
  return (b as unknown as FastSlices).latin1Slice(start, end)
}
