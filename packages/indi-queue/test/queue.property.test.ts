import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BoundedQueue, ByteBoundedQueue } from '../src/index.js'

/**
 * Random interleavings of producers, consumers and aborts against one queue. Each step starts a
 * call (which may wait), aborts a pending call, or lets pending reactions run. At the end the
 * queue is closed and drained, and the property is: the items whose put() succeeded, in call
 * order, equal the items the successful get()s received, in call order, followed by what was left
 * in the queue. That rules out loss, duplication and reordering, and checks FIFO service of
 * blocked producers and consumers.
 */
type Step =
  | { op: 'put'; size: number; abortable: boolean }
  | { op: 'tryPut'; size: number }
  | { op: 'get'; abortable: boolean }
  | { op: 'tryGet' }
  | { op: 'abort'; pick: number }
  | { op: 'tick' }

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    op: fc.constant('put' as const),
    size: fc.integer({ min: 0, max: 12 }),
    abortable: fc.boolean(),
  }),
  fc.record({ op: fc.constant('tryPut' as const), size: fc.integer({ min: 0, max: 12 }) }),
  fc.record({ op: fc.constant('get' as const), abortable: fc.boolean() }),
  fc.record({ op: fc.constant('tryGet' as const) }),
  fc.record({ op: fc.constant('abort' as const), pick: fc.nat() }),
  fc.record({ op: fc.constant('tick' as const) }),
)

interface Item {
  id: number
  size: number
}

interface Q {
  put(item: Item, o?: { signal?: AbortSignal }): Promise<void>
  tryPut(item: Item): boolean
  get(o?: { signal?: AbortSignal }): Promise<Item>
  tryGet(): Item | undefined
  close(): void
  readonly size: number
  readonly waitingProducers: number
  readonly waitingConsumers: number
}

async function run(q: Q, steps: Step[], bound: () => void): Promise<void> {
  let nextId = 0
  const accepted = new Map<number, boolean>() // put id → succeeded (filled as puts settle)
  const putOrder: number[] = []
  const received: (Item | null)[] = [] // per consumer call, in call order; null = failed
  const settles: Promise<unknown>[] = []
  const abortable: AbortController[] = []

  // Liveness, checked after every step: nobody waits who could proceed.
  const live = () => {
    if (q.waitingConsumers > 0) {
      expect(q.size).toBe(0)
      expect(q.waitingProducers).toBe(0)
    }
  }
  for (const s of steps) {
    switch (s.op) {
      case 'put': {
        const item = { id: nextId++, size: s.size }
        putOrder.push(item.id)
        const ac = s.abortable ? new AbortController() : undefined
        if (ac) abortable.push(ac)
        settles.push(
          q.put(item, { signal: ac?.signal }).then(
            () => accepted.set(item.id, true),
            () => accepted.set(item.id, false),
          ),
        )
        break
      }
      case 'tryPut': {
        const item = { id: nextId++, size: s.size }
        putOrder.push(item.id)
        accepted.set(item.id, q.tryPut(item))
        break
      }
      case 'get': {
        const slot = received.length
        received.push(null)
        const ac = s.abortable ? new AbortController() : undefined
        if (ac) abortable.push(ac)
        settles.push(
          q.get({ signal: ac?.signal }).then(
            (v) => {
              received[slot] = v
            },
            () => {},
          ),
        )
        break
      }
      case 'tryGet': {
        const v = q.tryGet()
        if (v !== undefined) received.push(v)
        break
      }
      case 'abort': {
        if (abortable.length > 0) abortable.splice(s.pick % abortable.length, 1)[0]!.abort()
        break
      }
      case 'tick':
        await new Promise<void>((resolve) => setImmediate(resolve))
        break
    }
    bound()
    live()
  }
  q.close()
  await Promise.all(settles)
  expect(q.waitingProducers).toBe(0)
  expect(q.waitingConsumers).toBe(0)
  const left: Item[] = []
  for (let v = q.tryGet(); v !== undefined; v = q.tryGet()) left.push(v)
  const out = [...received.filter((v): v is Item => v !== null), ...left].map((v) => v.id)
  expect(out).toEqual(putOrder.filter((id) => accepted.get(id)))
}

describe('queue properties (fast-check)', () => {
  it('BoundedQueue loses, duplicates and reorders nothing under any interleaving', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 4 }),
        fc.array(step, { maxLength: 80 }),
        async (cap, steps) => {
          const q = new BoundedQueue<Item>(cap)
          await run(q, steps, () => {
            expect(q.size).toBeLessThanOrEqual(cap)
            // A producer waits only while the queue is full.
            if (q.waitingProducers > 0) expect(q.size).toBe(cap)
          })
        },
      ),
      { numRuns: 300 },
    )
  })

  it('ByteBoundedQueue loses, duplicates and reorders nothing and keeps its byte bound', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 20 }),
        fc.array(step, { maxLength: 80 }),
        async (max, steps) => {
          const q = new ByteBoundedQueue<Item>({ maxBytes: max, sizeOf: (i) => i.size })
          // Over the bound only as the one oversized item an empty queue must accept.
          await run(q, steps, () => {
            expect(q.bytes <= max || q.size === 1).toBe(true)
            // A producer waits only while its item does not fit, and an empty queue takes any item.
            if (q.waitingProducers > 0) expect(q.size).toBeGreaterThan(0)
          })
        },
      ),
      { numRuns: 300 },
    )
  })
})
