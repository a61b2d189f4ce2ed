import { getEventListeners, setMaxListeners } from 'node:events'
import { describe, expect, it } from 'vitest'
import { BoundedQueue, ByteBoundedQueue, FanOut, type Subscriber } from '../src/index.js'

const listeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length

/**
 * One API that can wait, in a state where calling it waits: `call` starts a waiting call and
 * `waiters` counts the calls the object still tracks.
 */
interface Case {
  name: string
  setup(): Promise<{ call(signal: AbortSignal): Promise<unknown>; waiters(): number; check(): unknown }>
}

const cases: Case[] = [
  {
    name: 'BoundedQueue.put',
    async setup() {
      const q = new BoundedQueue<number>(1)
      await q.put(0)
      return {
        call: (signal) => q.put(1, { signal }),
        waiters: () => q.waitingProducers,
        // The aborted items were never queued.
        check: () => [q.size, q.tryGet()],
      }
    },
  },
  {
    name: 'BoundedQueue.get',
    async setup() {
      const q = new BoundedQueue<number>(1)
      return {
        call: (signal) => q.get({ signal }),
        waiters: () => q.waitingConsumers,
        // An item put after the aborts goes to a live consumer, not to an aborted one.
        check: async () => {
          const g = q.get()
          await q.put(42)
          return await g
        },
      }
    },
  },
  {
    name: 'BoundedQueue iteration (values)',
    async setup() {
      const q = new BoundedQueue<number>(1)
      return {
        call: (signal) => q.values({ signal }).next(),
        waiters: () => q.waitingConsumers,
        check: async () => {
          await q.put(5)
          return q.size
        },
      }
    },
  },
  {
    name: 'ByteBoundedQueue.put',
    async setup() {
      const q = new ByteBoundedQueue<string>({ maxBytes: 4, sizeOf: (s) => s.length })
      await q.put('abcd')
      return {
        call: (signal) => q.put('x', { signal }),
        waiters: () => q.waitingProducers,
        check: () => [q.size, q.bytes],
      }
    },
  },
  {
    name: 'FanOut.publish',
    async setup() {
      const f = new FanOut<number>()
      const s = f.subscribe({ policy: 'wait', capacity: 1 })
      f.offer(0)
      return {
        call: (signal) => f.publish(1, { signal }),
        waiters: () => f.waitingPublishers,
        check: () => [s.size, s.received, s.tryGet()],
      }
    },
  },
  {
    name: 'Subscriber.get',
    async setup() {
      const f = new FanOut<number>()
      const s: Subscriber<number> = f.subscribe({ policy: 'drop-oldest', capacity: 1 })
      return {
        call: (signal) => s.get({ signal }),
        waiters: () => s.waitingConsumers,
        check: async () => {
          const g = s.get()
          f.offer(9)
          return [await g, s.delivered]
        },
      }
    },
  },
]

const expected: Record<string, unknown> = {
  'BoundedQueue.put': [1, 0],
  'BoundedQueue.get': 42,
  'BoundedQueue iteration (values)': 1,
  'ByteBoundedQueue.put': [1, 4],
  'FanOut.publish': [1, 1, 0],
  'Subscriber.get': [9, 1],
}

describe.each(cases)('abort: $name', ({ name, setup }) => {
  it('rejects with signal.reason at once when already aborted', async () => {
    const t = await setup()
    const reason = new Error('already')
    const err = await t.call(AbortSignal.abort(reason)).catch((e: unknown) => e)
    expect(err).toBe(reason)
    expect(t.waiters()).toBe(0)
  })

  it('rejects with signal.reason unchanged when aborted while waiting', async () => {
    const t = await setup()
    const ac = new AbortController()
    const p = t.call(ac.signal)
    expect(t.waiters()).toBe(1)
    expect(listeners(ac.signal)).toBe(1)
    const reason = { custom: 'reason object' }
    ac.abort(reason)
    const err = await p.catch((e: unknown) => e)
    expect(err).toBe(reason)
    expect(t.waiters()).toBe(0)
    expect(listeners(ac.signal)).toBe(0)
  })

  it('surfaces AbortSignal.timeout() as a TimeoutError', async () => {
    const t = await setup()
    const err = await t.call(AbortSignal.timeout(1)).catch((e: unknown) => e)
    expect((err as Error).name).toBe('TimeoutError')
    expect(t.waiters()).toBe(0)
  })

  it('leaves no waiter and no listener behind after 10 000 aborted calls', async () => {
    const t = await setup()
    const shared = new AbortController()
    // 10 000 live listeners on one signal are the point of this test, not a leak.
    setMaxListeners(20_000, shared.signal)
    const pending: Promise<unknown>[] = []
    for (let i = 0; i < 10_000; i++) {
      const ac = new AbortController()
      const p = t.call(ac.signal)
      // Half use their own signal, half also wait on one shared signal that is never aborted
      // until the end; both must be cleaned up.
      ac.abort(i)
      pending.push(p.catch((e: unknown) => e))
      pending.push(t.call(shared.signal).catch((e: unknown) => e))
    }
    expect(t.waiters()).toBe(10_000)
    expect(listeners(shared.signal)).toBe(10_000)
    shared.abort('end')
    const reasons = await Promise.all(pending)
    expect(reasons.filter((r) => r === 'end')).toHaveLength(10_000)
    expect(reasons.filter((r) => typeof r === 'number')).toHaveLength(10_000)
    expect(t.waiters()).toBe(0)
    expect(listeners(shared.signal)).toBe(0)
    expect(await t.check()).toEqual(expected[name])
  })
})

describe('abort: fast path', () => {
  it('adds no listener to the signal on the fast path', async () => {
    // A signal passed on a call that does not need to wait must not be touched.
    const ac = new AbortController()
    const q = new BoundedQueue<number>(2)
    await q.put(1, { signal: ac.signal })
    await q.get({ signal: ac.signal })
    const f = new FanOut<number>()
    f.subscribe({ capacity: 2 })
    await f.publish(1, { signal: ac.signal })
    expect(listeners(ac.signal)).toBe(0)
  })
})
