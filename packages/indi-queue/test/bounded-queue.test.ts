import { IndiError } from '@indi-ts/indi-xml'
import { describe, expect, it } from 'vitest'
import { BoundedQueue, QueueClosedError } from '../src/index.js'

/** Records the order in which promises settle, without any timer. */
function track<T>(p: Promise<T>, log: string[], name: string): Promise<T> {
  return p.then(
    (v) => {
      log.push(name)
      return v
    },
    (e) => {
      log.push(`${name}!`)
      throw e
    },
  )
}

/** Lets every already-queued promise reaction run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

describe('BoundedQueue: ordering and bounds', () => {
  it('delivers items in FIFO order', async () => {
    const q = new BoundedQueue<number>(8)
    for (let i = 0; i < 8; i++) await q.put(i)
    const out: number[] = []
    for (let i = 0; i < 8; i++) out.push(await q.get())
    expect(out).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
  })

  it('keeps order across many wrap-arounds of its ring', async () => {
    const q = new BoundedQueue<number>(5)
    const out: number[] = []
    const consumer = (async () => {
      for await (const v of q) out.push(v)
    })()
    for (let i = 0; i < 10_000; i++) await q.put(i)
    q.close()
    await consumer
    expect(out).toEqual(Array.from({ length: 10_000 }, (_, i) => i))
  })

  it('reports size and capacity', async () => {
    const q = new BoundedQueue<string>(3)
    await q.put('a')
    await q.put('b')
    expect(q.size).toBe(2)
    expect(q.capacity).toBe(3)
    expect(q.closed).toBe(false)
  })

  it('tryPut refuses once full and tryGet returns undefined once empty', () => {
    const q = new BoundedQueue<number>(2)
    expect(q.tryPut(1)).toBe(true)
    expect(q.tryPut(2)).toBe(true)
    expect(q.tryPut(3)).toBe(false)
    expect(q.tryGet()).toBe(1)
    expect(q.tryGet()).toBe(2)
    expect(q.tryGet()).toBeUndefined()
  })

  it('returns one shared resolved promise from put() while there is room (no allocation)', () => {
    const q = new BoundedQueue<number>(4)
    const a = q.put(1)
    const b = q.put(2)
    expect(a).toBe(b)
  })

  it('rejects a capacity that is negative or fractional', () => {
    expect(() => new BoundedQueue(-1)).toThrow(RangeError)
    expect(() => new BoundedQueue(1.5)).toThrow(RangeError)
  })

  it('never blocks put() with capacity Infinity', async () => {
    const q = new BoundedQueue<number>(Number.POSITIVE_INFINITY)
    for (let i = 0; i < 5000; i++) expect(q.tryPut(i)).toBe(true)
    expect(q.size).toBe(5000)
  })
})

describe('BoundedQueue: blocking and release', () => {
  it('blocks put() while full and releases it when an item is taken', async () => {
    const q = new BoundedQueue<number>(1)
    await q.put(1)
    const log: string[] = []
    const p = track(q.put(2), log, 'put2')
    await settle()
    expect(log).toEqual([])
    expect(q.waitingProducers).toBe(1)
    expect(await q.get()).toBe(1)
    await p
    expect(log).toEqual(['put2'])
    expect(q.size).toBe(1)
    expect(await q.get()).toBe(2)
  })

  it('blocks get() while empty and releases it on put()', async () => {
    const q = new BoundedQueue<string>(1)
    const g = q.get()
    expect(q.waitingConsumers).toBe(1)
    await q.put('x')
    expect(await g).toBe('x')
    expect(q.size).toBe(0)
  })

  it('serves blocked producers in arrival order', async () => {
    const q = new BoundedQueue<number>(1)
    await q.put(0)
    const log: string[] = []
    const puts = [1, 2, 3].map((i) => track(q.put(i), log, `put${i}`))
    const got: number[] = []
    for (let i = 0; i < 4; i++) got.push(await q.get())
    await Promise.all(puts)
    expect(got).toEqual([0, 1, 2, 3])
    expect(log).toEqual(['put1', 'put2', 'put3'])
  })

  it('serves blocked consumers in arrival order', async () => {
    const q = new BoundedQueue<number>(4)
    const gets = [q.get(), q.get(), q.get()]
    await q.put(10)
    await q.put(20)
    await q.put(30)
    expect(await Promise.all(gets)).toEqual([10, 20, 30])
  })

  it('does not let a new put() overtake a blocked one', async () => {
    const q = new BoundedQueue<number>(1)
    await q.put(1)
    const blocked = q.put(2)
    expect(q.tryPut(3)).toBe(false)
    expect(await q.get()).toBe(1)
    await blocked
    expect(q.tryGet()).toBe(2)
  })

  it('capacity 0 is a rendezvous: put() waits for a get()', async () => {
    const q = new BoundedQueue<string>(0)
    const log: string[] = []
    const p = track(q.put('a'), log, 'put')
    await settle()
    expect(log).toEqual([])
    expect(q.size).toBe(0)
    expect(await q.get()).toBe('a')
    await p
    expect(log).toEqual(['put'])
  })

  it('capacity 0 hands an item to a consumer that is already waiting', async () => {
    const q = new BoundedQueue<string>(0)
    const g = q.get()
    expect(q.tryPut('now')).toBe(true)
    expect(await g).toBe('now')
  })
})

describe('BoundedQueue: close', () => {
  it('lets consumers drain queued items after close()', async () => {
    const q = new BoundedQueue<number>(4)
    await q.put(1)
    await q.put(2)
    q.close()
    expect(q.closed).toBe(true)
    expect(await q.get()).toBe(1)
    expect(await q.get()).toBe(2)
  })

  it('rejects get() with ERR_INDI_CLOSED once closed and drained', async () => {
    const q = new BoundedQueue<number>(4)
    q.close()
    const err = await q.get().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(QueueClosedError)
    expect(IndiError.is(err, 'ERR_INDI_CLOSED')).toBe(true)
  })

  it('rejects a blocked get() with ERR_INDI_CLOSED on close()', async () => {
    const q = new BoundedQueue<number>(4)
    const g = q.get()
    q.close()
    await expect(g).rejects.toMatchObject({ code: 'ERR_INDI_CLOSED' })
    expect(q.waitingConsumers).toBe(0)
  })

  it('ends a for-await loop once closed and drained', async () => {
    const q = new BoundedQueue<number>(4)
    await q.put(1)
    await q.put(2)
    q.close()
    const out: number[] = []
    for await (const v of q) out.push(v)
    expect(out).toEqual([1, 2])
  })

  it('ends a for-await loop that is waiting when close() is called', async () => {
    const q = new BoundedQueue<number>(4)
    const out: number[] = []
    const loop = (async () => {
      for await (const v of q) out.push(v)
    })()
    await q.put(7)
    await settle()
    q.close()
    await loop
    expect(out).toEqual([7])
  })

  it('rejects put() and throws from tryPut() after close()', async () => {
    const q = new BoundedQueue<number>(4)
    q.close()
    await expect(q.put(1)).rejects.toMatchObject({ code: 'ERR_INDI_CLOSED' })
    expect(() => q.tryPut(1)).toThrow(QueueClosedError)
  })

  it('rejects blocked producers on close() and does not queue their items', async () => {
    const q = new BoundedQueue<number>(1)
    await q.put(1)
    const blocked = q.put(2)
    q.close()
    await expect(blocked).rejects.toMatchObject({ code: 'ERR_INDI_CLOSED' })
    expect(q.waitingProducers).toBe(0)
    expect(q.size).toBe(1)
  })

  it('is idempotent', () => {
    const q = new BoundedQueue<number>(1)
    q.close()
    q.close()
    expect(q.closed).toBe(true)
  })

  it('leaves the queue open when a for-await loop breaks', async () => {
    const q = new BoundedQueue<number>(4)
    await q.put(1)
    await q.put(2)
    for await (const v of q) {
      expect(v).toBe(1)
      break
    }
    expect(q.closed).toBe(false)
    expect(await q.get()).toBe(2)
  })
})

describe('BoundedQueue: destroy', () => {
  it('discards queued items and rejects get() with the reason', async () => {
    const q = new BoundedQueue<number>(4)
    await q.put(1)
    const reason = new Error('link lost')
    q.destroy(reason)
    expect(q.size).toBe(0)
    await expect(q.get()).rejects.toBe(reason)
  })

  it('rejects a blocked get() and a waiting iteration with the reason', async () => {
    const q = new BoundedQueue<number>(4)
    const reason = new Error('boom')
    const g = q.get()
    const loop = (async () => {
      for await (const _ of q) {
        // no item ever arrives
      }
    })()
    await settle()
    q.destroy(reason)
    await expect(g).rejects.toBe(reason)
    await expect(loop).rejects.toBe(reason)
  })

  it('rejects producers with ERR_INDI_CLOSED whose cause is the reason', async () => {
    const q = new BoundedQueue<number>(1)
    await q.put(1)
    const blocked = q.put(2)
    const reason = new Error('gone')
    q.destroy(reason)
    const err = await blocked.catch((e: unknown) => e)
    expect(err).toBeInstanceOf(QueueClosedError)
    expect((err as Error).cause).toBe(reason)
    await expect(q.put(3)).rejects.toMatchObject({ code: 'ERR_INDI_CLOSED', cause: reason })
  })

  it('uses a QueueClosedError as the default reason', async () => {
    const q = new BoundedQueue<number>(1)
    q.destroy()
    await expect(q.get()).rejects.toBeInstanceOf(QueueClosedError)
  })
})
