import { IndiError } from '@indi-ts/indi-xml'
import { describe, expect, it } from 'vitest'
import { FanOut, QueueClosedError, QueueFullError, type Subscriber } from '../src/index.js'

/** An INDI-like update: `key` stands for device + property, `v` for its value. */
interface Msg {
  key?: string
  v: number
  size?: number
}

const fan = () =>
  new FanOut<Msg>({
    keyOf: (m) => m.key,
    sizeOf: (m) => m.size ?? 1,
  })

function drain<T>(s: Subscriber<T>): T[] {
  const out: T[] = []
  for (let x = s.tryGet(); x !== undefined; x = s.tryGet()) out.push(x)
  return out
}

const values = (ms: Msg[]) => ms.map((m) => m.v)
const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

describe('FanOut: delivery', () => {
  it('delivers every item to every subscriber in order', async () => {
    const f = fan()
    const a = f.subscribe()
    const b = f.subscribe()
    for (let v = 0; v < 5; v++) expect(f.offer({ v })).toBe(true)
    expect(values(drain(a))).toEqual([0, 1, 2, 3, 4])
    expect(values(drain(b))).toEqual([0, 1, 2, 3, 4])
  })

  it('discards items published with no subscriber', () => {
    const f = fan()
    expect(f.offer({ v: 1 })).toBe(true)
    const s = f.subscribe()
    f.offer({ v: 2 })
    expect(values(drain(s))).toEqual([2])
  })

  it('returns one shared resolved promise from publish() when no wait subscriber is full', () => {
    const f = fan()
    f.subscribe({ capacity: 10 })
    expect(f.publish({ v: 1 })).toBe(f.publish({ v: 2 }))
  })

  it('wakes a subscriber blocked in get()', async () => {
    const f = fan()
    const s = f.subscribe()
    const g = s.get()
    f.offer({ v: 7 })
    expect((await g).v).toBe(7)
    expect(s.delivered).toBe(1)
  })

  it('lets a subscriber read with for await until the fan-out closes', async () => {
    const f = fan()
    const s = f.subscribe()
    const out: number[] = []
    const loop = (async () => {
      for await (const m of s) out.push(m.v)
    })()
    for (let v = 0; v < 3; v++) await f.publish({ v })
    f.close()
    await loop
    expect(out).toEqual([0, 1, 2])
  })

  it('rejects subscribe options it cannot honour', () => {
    const plain = new FanOut<number>()
    expect(() => plain.subscribe({ policy: 'conflate' })).toThrow(TypeError)
    expect(() => plain.subscribe({ maxBytes: 10 })).toThrow(TypeError)
    expect(() => plain.subscribe({ capacity: 0 })).toThrow(RangeError)
  })
})

describe("FanOut: 'wait' policy", () => {
  it('offer() refuses and delivers to no one while a wait subscriber is full', () => {
    const f = fan()
    const w = f.subscribe({ policy: 'wait', capacity: 2 })
    const d = f.subscribe({ policy: 'drop-oldest', capacity: 10 })
    f.offer({ v: 1 })
    f.offer({ v: 2 })
    expect(f.offer({ v: 3 })).toBe(false)
    expect(w.size).toBe(2)
    expect(d.size).toBe(2)
  })

  it('publish() waits for room and then delivers to everyone', async () => {
    const f = fan()
    const w = f.subscribe({ policy: 'wait', capacity: 1 })
    const d = f.subscribe({ policy: 'drop-oldest', capacity: 10 })
    f.offer({ v: 1 })
    let done = false
    const p = f.publish({ v: 2 }).then(() => {
      done = true
    })
    await settle()
    expect(done).toBe(false)
    expect(f.waitingPublishers).toBe(1)
    expect(d.size).toBe(1)
    expect((await w.get()).v).toBe(1)
    await p
    expect(values(drain(w))).toEqual([2])
    expect(values(drain(d))).toEqual([1, 2])
  })

  it('keeps publications in order: offer() does not overtake a waiting publish()', async () => {
    const f = fan()
    const w = f.subscribe({ policy: 'wait', capacity: 1 })
    f.offer({ v: 1 })
    const p2 = f.publish({ v: 2 })
    const p3 = f.publish({ v: 3 })
    expect(f.offer({ v: 4 })).toBe(false)
    const got: number[] = []
    for (let i = 0; i < 3; i++) got.push((await w.get()).v)
    await Promise.all([p2, p3])
    expect(got).toEqual([1, 2, 3])
  })

  it('waits for the slowest of several wait subscribers', async () => {
    const f = fan()
    const fast = f.subscribe({ policy: 'wait', capacity: 1 })
    const slow = f.subscribe({ policy: 'wait', capacity: 1 })
    f.offer({ v: 1 })
    const p = f.publish({ v: 2 })
    await fast.get()
    await settle()
    expect(f.waitingPublishers).toBe(1)
    await slow.get()
    await p
    expect(fast.size).toBe(1)
    expect(slow.size).toBe(1)
  })

  it('releases the publisher when the full wait subscriber leaves', async () => {
    const f = fan()
    const w = f.subscribe({ policy: 'wait', capacity: 1 })
    const other = f.subscribe({ policy: 'drop-oldest', capacity: 4 })
    f.offer({ v: 1 })
    const p = f.publish({ v: 2 })
    w.close()
    await p
    expect(values(drain(other))).toEqual([1, 2])
  })

  it('releases the publisher when the full subscriber breaks out of for await', async () => {
    const f = fan()
    const w = f.subscribe({ policy: 'wait', capacity: 1 })
    f.offer({ v: 1 })
    const p = f.publish({ v: 2 })
    for await (const m of w) {
      expect(m.v).toBe(1)
      break
    }
    // The loop took item 1 (making room for 2) and then left: either way publish completes.
    await p
    expect(w.closed).toBe(true)
    expect(f.subscriberCount).toBe(0)
  })

  it('checks room by bytes when the subscriber has maxBytes', async () => {
    const f = fan()
    const w = f.subscribe({ policy: 'wait', maxBytes: 10, capacity: Number.POSITIVE_INFINITY })
    expect(f.offer({ v: 1, size: 6 })).toBe(true)
    expect(f.offer({ v: 2, size: 5 })).toBe(false)
    expect(f.offer({ v: 3, size: 4 })).toBe(true)
    expect(w.bytes).toBe(10)
  })
})

describe("FanOut: 'drop-oldest' policy", () => {
  it('drops the oldest items and counts them', () => {
    const f = fan()
    const s = f.subscribe({ policy: 'drop-oldest', capacity: 3 })
    for (let v = 0; v < 5; v++) expect(f.offer({ v })).toBe(true)
    expect(s.dropped).toBe(2)
    expect(values(drain(s))).toEqual([2, 3, 4])
  })

  it('drops as many items as the byte bound needs', () => {
    const f = fan()
    const s = f.subscribe({ policy: 'drop-oldest', maxBytes: 10 })
    f.offer({ v: 1, size: 3 })
    f.offer({ v: 2, size: 3 })
    f.offer({ v: 3, size: 3 })
    f.offer({ v: 4, size: 8 })
    expect(s.dropped).toBe(3)
    expect(values(drain(s))).toEqual([4])
  })

  it('does not hold back the publisher or other subscribers', () => {
    const f = fan()
    const slow = f.subscribe({ policy: 'drop-oldest', capacity: 1 })
    const fast = f.subscribe({ policy: 'wait', capacity: 100 })
    for (let v = 0; v < 50; v++) expect(f.offer({ v })).toBe(true)
    expect(fast.size).toBe(50)
    expect(slow.size).toBe(1)
    expect(slow.dropped).toBe(49)
  })
})

describe("FanOut: 'conflate' policy", () => {
  it('replaces the queued item with the same key in place, keeping its position', () => {
    const f = fan()
    const s = f.subscribe({ policy: 'conflate', capacity: 3 })
    f.offer({ key: 'A', v: 1 })
    f.offer({ key: 'B', v: 2 })
    f.offer({ key: 'C', v: 3 })
    f.offer({ key: 'A', v: 4 })
    expect(s.conflated).toBe(1)
    expect(s.dropped).toBe(0)
    expect(drain(s)).toEqual([
      { key: 'A', v: 4 },
      { key: 'B', v: 2 },
      { key: 'C', v: 3 },
    ])
  })

  it('does not conflate while there is room', () => {
    const f = fan()
    const s = f.subscribe({ policy: 'conflate', capacity: 10 })
    f.offer({ key: 'A', v: 1 })
    f.offer({ key: 'A', v: 2 })
    expect(values(drain(s))).toEqual([1, 2])
    expect(s.conflated).toBe(0)
  })

  it('replaces the newest queued item of a key when a key is queued twice', () => {
    const f = fan()
    const s = f.subscribe({ policy: 'conflate', capacity: 3 })
    f.offer({ key: 'A', v: 1 })
    f.offer({ key: 'B', v: 2 })
    f.offer({ key: 'A', v: 3 })
    f.offer({ key: 'A', v: 4 })
    expect(values(drain(s))).toEqual([1, 2, 4])
  })

  it('never conflates items without a key: falls back to drop-oldest by default', () => {
    const f = fan()
    const s = f.subscribe({ policy: 'conflate', capacity: 2 })
    f.offer({ v: 1 })
    f.offer({ v: 2 })
    f.offer({ v: 3 })
    expect(s.conflated).toBe(0)
    expect(s.dropped).toBe(1)
    expect(values(drain(s))).toEqual([2, 3])
  })

  it('does not conflate with an item that was already taken', () => {
    const f = fan()
    const s = f.subscribe({ policy: 'conflate', capacity: 2 })
    f.offer({ key: 'A', v: 1 })
    f.offer({ key: 'B', v: 2 })
    expect(s.tryGet()?.v).toBe(1)
    f.offer({ key: 'C', v: 3 })
    f.offer({ key: 'A', v: 4 })
    expect(s.conflated).toBe(0)
    expect(s.dropped).toBe(1)
    expect(values(drain(s))).toEqual([3, 4])
  })

  it('disconnects when conflation fails and conflateFallback is disconnect', async () => {
    const f = fan()
    const s = f.subscribe({ policy: 'conflate', capacity: 1, conflateFallback: 'disconnect' })
    f.offer({ key: 'A', v: 1 })
    f.offer({ key: 'A', v: 2 })
    expect(s.closed).toBe(false)
    f.offer({ key: 'B', v: 3 })
    expect(s.closed).toBe(true)
    await expect(s.get()).rejects.toBeInstanceOf(QueueFullError)
  })

  it('appends instead of replacing when the new item would break the byte bound', () => {
    const f = fan()
    const s = f.subscribe({ policy: 'conflate', maxBytes: 10 })
    f.offer({ key: 'A', v: 1, size: 2 })
    f.offer({ key: 'B', v: 2, size: 8 })
    f.offer({ key: 'A', v: 3, size: 9 })
    expect(s.conflated).toBe(0)
    expect(s.bytes).toBeLessThanOrEqual(10)
    expect(values(drain(s))).toEqual([3])
  })

  it('keeps the counters balanced: received = delivered + dropped + conflated + size', () => {
    const f = fan()
    const s = f.subscribe({ policy: 'conflate', capacity: 4 })
    for (let i = 0; i < 1000; i++) {
      f.offer({ key: i % 7 === 0 ? undefined : `k${i % 3}`, v: i })
      if (i % 3 === 0) s.tryGet()
    }
    expect(s.conflated).toBeGreaterThan(0)
    expect(s.received).toBe(s.delivered + s.dropped + s.conflated + s.size)
  })
})

describe("FanOut: 'disconnect' policy", () => {
  it('closes a full subscriber with ERR_INDI_QUEUE_FULL and removes it', async () => {
    const f = fan()
    const s = f.subscribe({ policy: 'disconnect', capacity: 2, label: 'tcp:127.0.0.1:5000' })
    const other = f.subscribe({ policy: 'drop-oldest', capacity: 8 })
    f.offer({ v: 1 })
    f.offer({ v: 2 })
    expect(f.subscriberCount).toBe(2)
    f.offer({ v: 3 })
    expect(f.subscriberCount).toBe(1)
    expect(s.closed).toBe(true)
    expect(s.error).toBeInstanceOf(QueueFullError)
    expect(s.error?.label).toBe('tcp:127.0.0.1:5000')
    const err = await s.get().catch((e: unknown) => e)
    expect(IndiError.is(err, 'ERR_INDI_QUEUE_FULL')).toBe(true)
    expect(values(drain(other))).toEqual([1, 2, 3])
  })

  it('makes the iteration of a disconnected subscriber throw the QueueFullError', async () => {
    const f = fan()
    const s = f.subscribe({ policy: 'disconnect', capacity: 1 })
    let open!: () => void
    const gate = new Promise<void>((resolve) => {
      open = resolve
    })
    const seen: number[] = []
    const loop = (async () => {
      for await (const m of s) {
        seen.push(m.v)
        await gate // a reader that stalls after its first item
      }
    })()
    f.offer({ v: 1 }) // handed straight to the waiting reader
    await settle()
    f.offer({ v: 2 }) // queued
    f.offer({ v: 3 }) // does not fit: disconnect
    expect(s.closed).toBe(true)
    open()
    await expect(loop).rejects.toBeInstanceOf(QueueFullError)
    expect(seen).toEqual([1])
    expect(s.received).toBe(3)
    expect(s.delivered).toBe(1)
    expect(s.dropped).toBe(2)
  })

  it('rejects a waiting get() of a disconnected subscriber', async () => {
    const f = fan()
    const s = f.subscribe({ policy: 'disconnect', capacity: 1 })
    const it = s.values()
    f.offer({ v: 1 })
    f.offer({ v: 2 })
    await expect(it.next()).rejects.toMatchObject({ code: 'ERR_INDI_QUEUE_FULL' })
  })
})

describe('FanOut: joining and leaving during flow', () => {
  it('gives a late subscriber only the items published after it joined', () => {
    const f = fan()
    const early = f.subscribe()
    f.offer({ v: 1 })
    const late = f.subscribe()
    f.offer({ v: 2 })
    expect(values(drain(early))).toEqual([1, 2])
    expect(values(drain(late))).toEqual([2])
  })

  it('stops delivering to a subscriber that closed and discards what it had queued', () => {
    const f = fan()
    const a = f.subscribe()
    const b = f.subscribe()
    f.offer({ v: 1 })
    a.close()
    f.offer({ v: 2 })
    expect(a.size).toBe(0)
    expect(a.dropped).toBe(1)
    expect(a.received).toBe(1)
    expect(values(drain(b))).toEqual([1, 2])
    expect(f.subscriberCount).toBe(1)
  })

  it('ends the iteration of a subscriber that closes while its reader waits', async () => {
    const f = fan()
    const s = f.subscribe()
    const loop = (async () => {
      const out: number[] = []
      for await (const m of s) out.push(m.v)
      return out
    })()
    f.offer({ v: 1 })
    await settle()
    s.close()
    expect(await loop).toEqual([1])
  })

  it('closes a subscriber when its signal aborts', () => {
    const f = fan()
    const ac = new AbortController()
    const s = f.subscribe({ signal: ac.signal })
    ac.abort()
    expect(s.closed).toBe(true)
    expect(f.subscriberCount).toBe(0)
  })

  it('refuses a subscriber whose signal is already aborted', () => {
    const f = fan()
    const reason = new Error('no')
    expect(() => f.subscribe({ signal: AbortSignal.abort(reason) })).toThrow(reason)
  })

  it('delivers every item exactly once to subscribers that come and go while a producer streams', async () => {
    const f = new FanOut<number>()
    const N = 2000
    const results: { first: number; got: number[] }[] = []
    const readers: Promise<void>[] = []
    let published = 0
    for (let i = 0; i < N; i++) {
      if (i % 250 === 0) {
        const s = f.subscribe({ policy: 'wait', capacity: 8 })
        const r = { first: published, got: [] as number[] }
        results.push(r)
        const limit = i % 500 === 0 ? 300 : Number.POSITIVE_INFINITY
        readers.push(
          (async () => {
            for await (const v of s) {
              r.got.push(v)
              if (r.got.length >= limit) break // leave mid-stream
            }
          })(),
        )
      }
      if (!f.offer(i)) await f.publish(i)
      published++
    }
    f.close()
    await Promise.all(readers)
    for (const r of results) {
      const expected = Array.from({ length: r.got.length }, (_, k) => r.first + k)
      expect(r.got).toEqual(expected)
      expect(r.got.length === 300 || r.first + r.got.length === N).toBe(true)
    }
  })
})

describe('FanOut: close and destroy', () => {
  it('lets subscribers drain after close() and then ends them', async () => {
    const f = fan()
    const s = f.subscribe()
    f.offer({ v: 1 })
    f.close()
    expect(f.closed).toBe(true)
    expect((await s.get()).v).toBe(1)
    await expect(s.get()).rejects.toBeInstanceOf(QueueClosedError)
  })

  it('rejects waiting publish() calls on close()', async () => {
    const f = fan()
    f.subscribe({ policy: 'wait', capacity: 1 })
    f.offer({ v: 1 })
    const p = f.publish({ v: 2 })
    f.close()
    await expect(p).rejects.toMatchObject({ code: 'ERR_INDI_CLOSED' })
    expect(f.waitingPublishers).toBe(0)
  })

  it('refuses offer(), publish() and subscribe() after close()', async () => {
    const f = fan()
    f.close()
    expect(() => f.offer({ v: 1 })).toThrow(QueueClosedError)
    await expect(f.publish({ v: 1 })).rejects.toBeInstanceOf(QueueClosedError)
    expect(() => f.subscribe()).toThrow(QueueClosedError)
  })

  it('fails every subscriber with the reason on destroy()', async () => {
    const f = fan()
    const a = f.subscribe()
    const b = f.subscribe()
    f.offer({ v: 1 })
    const reason = new Error('server stopping')
    f.destroy(reason)
    await expect(a.get()).rejects.toBe(reason)
    await expect(b.get()).rejects.toBe(reason)
    expect(a.dropped).toBe(1)
    expect(f.subscriberCount).toBe(0)
  })
})
