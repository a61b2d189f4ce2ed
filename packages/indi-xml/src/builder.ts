import type { IndiMessage, NewBlobVector, SetBlobVector } from './model.js'

export interface BuildOptions {
  /** Wrap BLOB base64 every N characters as libindi does (72); 0 writes one line. Default 72. */
  blobLineLength?: number
}

/** One message to XML text that indilib's lilxml reads. */
export function buildMessage(_message: IndiMessage, _options?: BuildOptions): string {
  throw new Error('not implemented')
}

/** One message to UTF-8 bytes. */
export function buildMessageBytes(_message: IndiMessage, _options?: BuildOptions): Uint8Array {
  throw new Error('not implemented')
}

/**
 * A BLOB vector as a sequence of byte chunks, base64 encoded piece by piece, so a large BLOB is
 * never held as one huge string. Concatenated, the chunks equal `buildMessageBytes(message)`.
 */
export function* buildBlobChunks(
  _message: SetBlobVector | NewBlobVector,
  _options?: BuildOptions & { chunkBytes?: number },
): Generator<Uint8Array> {
  throw new Error('not implemented')
}

/** Escape text for an attribute value or element content: `& < > " '`. */
export function escapeXml(_text: string): string {
  throw new Error('not implemented')
}
