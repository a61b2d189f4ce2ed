// Deterministic BLOB contents shared by the flood driver and the verifying clients: 4 bytes of
// index (big-endian) then an AES-128-CTR keystream keyed by a fixed seed, so every byte received
// can be checked without shipping the expected data (AES-CTR runs at GB/s, far above the links).
import { createCipheriv } from 'node:crypto'

const KEY = Buffer.from('indi-ts-bench-k!')

/** The `size` bytes of BLOB number `index`. */
export function blobPayload(index, size) {
  const iv = Buffer.alloc(16)
  iv.writeUInt32BE(index, 12)
  const out = Buffer.alloc(size)
  const body = createCipheriv('aes-128-ctr', KEY, iv).update(Buffer.alloc(Math.max(0, size - 4)))
  body.copy(out, 4)
  out.writeUInt32BE(index >>> 0, 0)
  return out.subarray(0, size)
}
