import { getEventListeners } from 'node:events'
import { IndiError } from '@indi-ts/indi-xml'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { collect, connectionPair, drainedWithin, writeAll } from '../src/index.js'

afterEach(() => {
  vi.useRealTimers()
})

const bytes = (n: number, fill = 1) => new Uint8Array(n).fill(fill)

describe('connectionPair', () => {
  it('labels the ends memory:a and memory:b unless told otherwise', () => {
    const [a, b] = connectionPair()
    expect([a.label, b.label]).toEqual(['memory:a', 'memory:b'])
    const [c, d] = connectionPair({ labels: ['server', 'driver'] })
    expect([c.label, d.label]).toEqual(['server', 'driver'])
  })

  it('rejects a high-water mark that is not positive', () => {
    expect(() => connectionPair({ highWaterMark: 0 })).toThrow(RangeError)
  })

  it('joins a backlog of small chunks into one when pulled', async () => {
    const [a, b] = connectionPair()
    for (let i = 0; i < 100; i++) a.send(bytes(300, i))
    const r = await b[Symbol.asyncIterator]().next()
    expect(r.value?.length).toBe(30_000)
    expect(r.value?.[299]).toBe(0)
    expect(r.value?.[300]).toBe(1)
    expect(a.bufferedBytes).toBe(0)
  })

  it('hands the very chunk object to the reader (zero copy)', async () => {
    const [a, b] = connectionPair()
    const chunk = bytes(10)
    a.send(chunk)
    const r = await b[Symbol.asyncIterator]().next()
    expect(r.value).toBe(chunk)
  })

  it('send() turns false exactly when the peer holds highWaterMark unread bytes', () => {
    const [a] = connectionPair({ highWaterMark: 100 })
    expect(a.send(bytes(60))).toBe(true)
    expect(a.bufferedBytes).toBe(60)
    expect(a.send(bytes(40))).toBe(false)
    expect(a.bufferedBytes).toBe(100)
  })

  it('bufferedBytes falls as the peer pulls', async () => {
    const [a, b] = connectionPair({ highWaterMark: 100_000 })
    a.send(bytes(70_000))
    a.send(bytes(70_000))
    const it = b[Symbol.asyncIterator]()
    await it.next()
    expect(a.bufferedBytes).toBe(70_000)
    await a.drained()
  })

  it('a peer that sends after we closed gets ERR_INDI_CONNECTION_RESET', async () => {
    const [a, b] = connectionPair()
    await a.close()
    expect(b.send(bytes(1))).toBe(false)
    await expect(b.drained()).rejects.toSatisfy((e) => IndiError.is(e, 'ERR_INDI_CONNECTION_RESET'))
  })

  it('close() with unread data from the peer resets the peer', async () => {
    const [a, b] = connectionPair()
    b.send(bytes(5))
    await a.close()
    await expect(b.drained()).rejects.toSatisfy((e) => IndiError.is(e, 'ERR_INDI_CONNECTION_RESET'))
  })

  it('destroy() without a reason ends the local iteration cleanly and settles closed with undefined', async () => {
    const [a] = connectionPair()
    const reading = collect(a)
    a.destroy()
    expect(await reading).toEqual([])
    expect(await a.closed).toBeUndefined()
    await expect(a.drained()).rejects.toSatisfy((e) => IndiError.is(e, 'ERR_INDI_CLOSED'))
  })

  it('destroy() drops what the peer has not read yet', async () => {
    const [a, b] = connectionPair()
    a.send(bytes(5))
    a.destroy(new Error('x'))
    await expect(collect(b)).rejects.toSatisfy((e) => IndiError.is(e, 'ERR_INDI_CONNECTION_RESET'))
    expect(((await b.closed) as Error).cause).toEqual(new Error('x'))
  })

  it('a half-closed pair still carries the other direction until both ended', async () => {
    const [a, b] = connectionPair()
    await a.end()
    let settled = false
    void a.closed.then(() => {
      settled = true
    })
    b.send(bytes(3))
    await new Promise((r) => setImmediate(r))
    expect(settled).toBe(false)
    const got = collect(a)
    await b.end()
    expect((await got).length).toBe(1)
    expect(await a.closed).toBeUndefined()
  })
})

describe('writeAll', () => {
  it('keeps the queue within one high-water mark plus one chunk', async () => {
    const [a, b] = connectionPair({ highWaterMark: 1000 })
    let peak = 0
    const chunks = (function* () {
      for (let i = 0; i < 200; i++) {
        peak = Math.max(peak, a.bufferedBytes)
        yield bytes(300)
      }
    })()
    const got = collect(b)
    await writeAll(a, chunks)
    await a.end()
    expect((await got).reduce((s, c) => s + c.length, 0)).toBe(60_000)
    expect(peak).toBeLessThanOrEqual(1000 + 300)
  })

  it('accepts an async iterable', async () => {
    const [a, b] = connectionPair()
    const got = collect(b)
    await writeAll(
      a,
      (async function* () {
        yield bytes(2)
        yield bytes(3)
      })(),
    )
    await a.end()
    expect((await got).length).toBe(2)
  })

  it('rejects with signal.reason when already aborted', async () => {
    const [a] = connectionPair()
    const reason = new Error('no')
    await expect(writeAll(a, [bytes(1)], { signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
  })

  it('rejects with signal.reason when aborted while waiting for the peer', async () => {
    const [a] = connectionPair({ highWaterMark: 10 })
    const ac = new AbortController()
    const w = writeAll(a, [bytes(20), bytes(20)], { signal: ac.signal })
    const reason = new Error('stop')
    ac.abort(reason)
    await expect(w).rejects.toBe(reason)
  })

  it('fails with ERR_INDI_SLOW_PEER past drainTimeoutMs', async () => {
    vi.useFakeTimers()
    const [a] = connectionPair({ highWaterMark: 10 })
    const w = writeAll(a, [bytes(20), bytes(20)], { drainTimeoutMs: 5000 }).catch((e: unknown) => e)
    await vi.advanceTimersByTimeAsync(5000)
    expect(IndiError.is(await w, 'ERR_INDI_SLOW_PEER')).toBe(true)
  })

  it('rejects with the connection error once the peer is gone', async () => {
    const [a, b] = connectionPair({ highWaterMark: 10 })
    const w = writeAll(a, [bytes(20), bytes(20)])
    b.destroy()
    await expect(w).rejects.toSatisfy((e) => IndiError.is(e, 'ERR_INDI_CONNECTION_RESET'))
  })
})

describe('drainedWithin', () => {
  it('resolves at once when nothing is queued', async () => {
    const [a] = connectionPair()
    await drainedWithin(a, 10)
  })

  it('rejects with ERR_INDI_SLOW_PEER when the peer stays stuck past the deadline', async () => {
    vi.useFakeTimers()
    const [a] = connectionPair({ highWaterMark: 1 })
    a.send(bytes(1))
    const d = drainedWithin(a, 1000).catch((e: unknown) => e)
    await vi.advanceTimersByTimeAsync(999)
    await vi.advanceTimersByTimeAsync(1)
    const e = await d
    expect(IndiError.is(e, 'ERR_INDI_SLOW_PEER')).toBe(true)
    expect((e as Error).message).toContain('memory:a')
  })

  it('resolves when the peer reads before the deadline', async () => {
    vi.useFakeTimers()
    const [a, b] = connectionPair({ highWaterMark: 1 })
    a.send(bytes(1))
    const d = drainedWithin(a, 1000)
    await b[Symbol.asyncIterator]().next()
    await d
    expect(vi.getTimerCount()).toBe(0)
  })

  it('rejects with the caller signal.reason, already aborted or aborted while waiting', async () => {
    const [a] = connectionPair({ highWaterMark: 1 })
    a.send(bytes(1))
    const r1 = new Error('before')
    await expect(drainedWithin(a, 1000, { signal: AbortSignal.abort(r1) })).rejects.toBe(r1)
    const ac = new AbortController()
    const d = drainedWithin(a, 60_000, { signal: ac.signal })
    const r2 = new Error('during')
    ac.abort(r2)
    await expect(d).rejects.toBe(r2)
  })

  it('leaves no abort listener and no timer behind after 10 000 calls', async () => {
    const [a] = connectionPair()
    const ac = new AbortController()
    for (let i = 0; i < 10_000; i++) await drainedWithin(a, 1000, { signal: ac.signal })
    expect(getEventListeners(ac.signal, 'abort').length).toBe(0)
  })
})

describe('collect', () => {
  it('rejects with the error that broke the connection', async () => {
    const [a, b] = connectionPair()
    const err = new Error('bad')
    const got = collect(a)
    a.destroy(err)
    await expect(got).rejects.toBe(err)
    await b.closed
  })
})
