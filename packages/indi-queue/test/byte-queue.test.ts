import { describe, expect, it } from 'vitest'
import { ByteBoundedQueue } from '../src/index.js'

const bytes = (n: number) => new Uint8Array(n)
const make = (maxBytes: number, maxItems?: number) =>
  new ByteBoundedQueue<Uint8Array>({ maxBytes, sizeOf: (b) => b.byteLength, maxItems })

describe('ByteBoundedQueue', () => {
  it('accepts items while their summed size fits', () => {
    const q = make(10)
    expect(q.tryPut(bytes(4))).toBe(true)
    expect(q.tryPut(bytes(6))).toBe(true)
    expect(q.bytes).toBe(10)
    expect(q.tryPut(bytes(1))).toBe(false)
    expect(q.capacity).toBe(10)
  })

  it('accepts an item larger than the whole bound when empty', async () => {
    const q = make(10)
    await q.put(bytes(1000))
    expect(q.size).toBe(1)
    expect(q.bytes).toBe(1000)
    expect(q.tryPut(bytes(1))).toBe(false)
  })

  it('lets a large item in once the queue empties, so a big BLOB never deadlocks', async () => {
    const q = make(10)
    await q.put(bytes(5))
    const big = q.put(bytes(50))
    expect(q.waitingProducers).toBe(1)
    expect((await q.get()).byteLength).toBe(5)
    await big
    expect(q.bytes).toBe(50)
    expect((await q.get()).byteLength).toBe(50)
  })

  it('frees bytes as items are taken', async () => {
    const q = make(10)
    await q.put(bytes(3))
    await q.put(bytes(7))
    await q.get()
    expect(q.bytes).toBe(7)
    await q.get()
    expect(q.bytes).toBe(0)
  })

  it('keeps producers in FIFO order: a small item does not overtake a waiting large one', async () => {
    const q = make(10)
    await q.put(bytes(8))
    const order: number[] = []
    const big = q.put(bytes(9)).then(() => order.push(9))
    const small = q.put(bytes(1)).then(() => order.push(1))
    expect(q.tryPut(bytes(1))).toBe(false)
    await q.get()
    await Promise.all([big, small])
    expect(order).toEqual([9, 1])
    expect((await q.get()).byteLength).toBe(9)
    expect((await q.get()).byteLength).toBe(1)
  })

  it('lets the next producer in when the blocked head producer is aborted', async () => {
    const q = make(10)
    await q.put(bytes(8))
    const ac = new AbortController()
    const big = q.put(bytes(9), { signal: ac.signal })
    const small = q.put(bytes(2))
    ac.abort()
    await expect(big).rejects.toMatchObject({ name: 'AbortError' })
    await small
    expect(q.bytes).toBe(10)
    expect(q.waitingProducers).toBe(0)
  })

  it('also bounds the item count when maxItems is given', () => {
    const q = make(100, 2)
    expect(q.tryPut(bytes(1))).toBe(true)
    expect(q.tryPut(bytes(1))).toBe(true)
    expect(q.tryPut(bytes(1))).toBe(false)
  })

  it('rejects put() when sizeOf returns a negative or non-finite size', async () => {
    const q = new ByteBoundedQueue<number>({ maxBytes: 10, sizeOf: (n) => n })
    await expect(q.put(-1)).rejects.toBeInstanceOf(RangeError)
    await expect(q.put(Number.NaN)).rejects.toBeInstanceOf(RangeError)
    expect(() => q.tryPut(Number.POSITIVE_INFINITY)).toThrow(RangeError)
    expect(q.size).toBe(0)
  })

  it('rejects a negative maxBytes', () => {
    expect(() => make(-1)).toThrow(RangeError)
  })

  it('drains in order through async iteration after close()', async () => {
    const q = make(64)
    for (let i = 1; i <= 5; i++) await q.put(bytes(i))
    q.close()
    const sizes: number[] = []
    for await (const b of q) sizes.push(b.byteLength)
    expect(sizes).toEqual([1, 2, 3, 4, 5])
    expect(q.bytes).toBe(0)
  })

  it('resets bytes to 0 on destroy()', async () => {
    const q = make(64)
    await q.put(bytes(30))
    q.destroy()
    expect(q.bytes).toBe(0)
    expect(q.size).toBe(0)
  })
})
