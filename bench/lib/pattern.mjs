// The BLOB content the flood driver sends (drivers/flood.c), so the client can check every byte.

/** Byte j of pattern k, as patternByte() in drivers/flood.c. */
export function patternByte(j, k) {
  const x = (Math.imul(j, 0x9e3779b1) + Math.imul(k, 0x85ebca77)) >>> 0
  return ((x >>> 24) ^ (j & 0xff)) & 0xff
}

const base = new Map()

/**
 * BLOB k of `size` bytes: pattern 0 with its first 6 bytes from pattern k (the driver re-encodes only
 * those per BLOB). Pattern 0 is computed once per size and shared, so do not modify the result.
 */
export function patternBuffer(k, size) {
  let p0 = base.get(size)
  if (!p0) {
    p0 = Buffer.allocUnsafe(size)
    for (let j = 0; j < size; j++) p0[j] = patternByte(j, 0)
    base.set(size, p0)
  }
  if (size < 6) {
    const b = Buffer.allocUnsafe(size)
    for (let j = 0; j < size; j++) b[j] = patternByte(j, k)
    return b
  }
  const b = Buffer.from(p0)
  for (let j = 0; j < 6; j++) b[j] = patternByte(j, k)
  return b
}
