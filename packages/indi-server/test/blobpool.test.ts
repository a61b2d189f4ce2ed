import { describe, expect, it } from 'vitest'
import { BlobBufferPool } from '../src/index.js'

const MiB = 1024 * 1024

describe('BlobBufferPool', () => {
  it('hands a buffer out again once its last holder gave it back', () => {
    const pool = new BlobBufferPool()
    const a = pool.take(2 * MiB)
    const view = a.subarray(100, 1000)
    expect(pool.hold(view)).toBe(true)
    expect(pool.hold(a)).toBe(true)
    pool.release(view)
    // One holder left: a new BLOB must get another buffer.
    const b = pool.take(2 * MiB)
    expect(b.buffer).not.toBe(a.buffer)
    pool.release(a)
    expect(pool.freeCount).toBe(1)
    expect(pool.take(2 * MiB).buffer).toBe(a.buffer)
    expect([pool.reused, pool.allocated]).toEqual([1, 2])
  })

  it('does not track what it did not hand out, nor small buffers', () => {
    const pool = new BlobBufferPool()
    expect(pool.hold(Buffer.alloc(4 * MiB))).toBe(false)
    const small = pool.take(64 * 1024)
    expect(pool.hold(small)).toBe(false)
    pool.release(small)
    expect(pool.freeCount).toBe(0)
    expect(pool.outstanding).toBe(0)
  })

  it('reuses a buffer only from 1× to 1.5× the size asked, the announced size first', () => {
    const pool = new BlobBufferPool()
    const big = pool.take(3 * MiB)
    pool.give(big)
    expect(pool.take(1.5 * MiB).buffer).not.toBe(big.buffer)
    // The framer may take ahead up to what the BLOB announced (3 MiB) while 1.5 MiB has arrived.
    expect(pool.take(1.5 * MiB, 3 * MiB).buffer).toBe(big.buffer)
  })

  it('give() takes back a buffer nobody held, and ignores one that is held', () => {
    const pool = new BlobBufferPool()
    const a = pool.take(2 * MiB)
    pool.hold(a)
    pool.give(a)
    expect(pool.freeCount).toBe(0)
    pool.release(a)
    expect(pool.freeCount).toBe(1)
    const b = pool.take(2 * MiB)
    pool.give(b)
    expect(pool.freeCount).toBe(1)
    expect(pool.outstanding).toBe(0)
  })

  it('keeps at most maxFree buffers and maxFreeBytes, the larger ones', () => {
    const pool = new BlobBufferPool(MiB, 10 * MiB, 2)
    const bufs = [2, 3, 4].map((n) => pool.take(n * MiB))
    for (const b of bufs) pool.give(b)
    expect(pool.freeCount).toBe(2)
    // 3 + 4 MiB kept; the 2 MiB one went to the garbage collector.
    expect(pool.take(2 * MiB).length).toBe(3 * MiB)
    const huge = pool.take(20 * MiB)
    pool.give(huge)
    expect(pool.freeCount).toBe(1)
  })
})
