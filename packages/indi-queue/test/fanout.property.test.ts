import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FanOut, type OverflowPolicy, type Subscriber } from '../src/index.js'

/**
 * Random interleavings of publishers (offer and publish, some aborted), subscribers of every
 * policy that join and leave, and their consumers (get, tryGet, some aborted). Checked per
 * subscriber, against the order in which publications were accepted:
 * - 'wait' and 'disconnect': a contiguous run of accepted items, in order (nothing lost before it
 *   leaves or is disconnected, nothing duplicated, nothing reordered);
 * - 'drop-oldest': strictly increasing (only losses, by design);
 * - 'conflate': no duplicates, and increasing per key (the latest state of a key wins);
 * - all: received = delivered + dropped + conflated + size.
 */
type Step =
  | { op: 'offer'; key: number }
  | { op: 'publish'; key: number; abortable: boolean }
  | { op: 'subscribe'; policy: OverflowPolicy; capacity: number; fallback: boolean }
  | { op: 'close'; pick: number }
  | { op: 'get'; pick: number; abortable: boolean }
  | { op: 'tryGet'; pick: number }
  | { op: 'abort'; pick: number }
  | { op: 'tick' }

const policies: OverflowPolicy[] = ['wait', 'drop-oldest', 'conflate', 'disconnect']
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    arbitrary: fc.record({ op: fc.constant('offer' as const), key: fc.integer({ min: -1, max: 3 }) }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      op: fc.constant('publish' as const),
      key: fc.integer({ min: -1, max: 3 }),
      abortable: fc.boolean(),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      op: fc.constant('subscribe' as const),
      policy: fc.constantFrom(...policies),
      capacity: fc.integer({ min: 1, max: 4 }),
      fallback: fc.boolean(),
    }),
    weight: 1,
  },
  { arbitrary: fc.record({ op: fc.constant('close' as const), pick: fc.nat() }), weight: 1 },
  {
    arbitrary: fc.record({ op: fc.constant('get' as const), pick: fc.nat(), abortable: fc.boolean() }),
    weight: 3,
  },
  { arbitrary: fc.record({ op: fc.constant('tryGet' as const), pick: fc.nat() }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('abort' as const), pick: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('tick' as const) }), weight: 2 },
)

interface Item {
  id: number
  key: string | undefined
}

interface Tracked {
  sub: Subscriber<Item>
  got: (Item | null)[] // per consumer call, in call order; null = failed
  closedByUser: boolean
}

async function run(steps: Step[]): Promise<void> {
  const f = new FanOut<Item>({ keyOf: (i) => i.key })
  const subs: Tracked[] = []
  const callOrder: number[] = []
  const accepted = new Map<number, boolean>()
  const settles: Promise<unknown>[] = []
  const abortable: AbortController[] = []
  let nextId = 0
  const items: Item[] = []
  const item = (key: number): Item => {
    const it = { id: nextId++, key: key < 0 ? undefined : `k${key}` }
    items.push(it)
    return it
  }

  for (const s of steps) {
    switch (s.op) {
      case 'offer': {
        const it = item(s.key)
        callOrder.push(it.id)
        accepted.set(it.id, f.offer(it))
        break
      }
      case 'publish': {
        const it = item(s.key)
        callOrder.push(it.id)
        const ac = s.abortable ? new AbortController() : undefined
        if (ac) abortable.push(ac)
        settles.push(
          f.publish(it, { signal: ac?.signal }).then(
            () => accepted.set(it.id, true),
            () => accepted.set(it.id, false),
          ),
        )
        break
      }
      case 'subscribe':
        subs.push({
          sub: f.subscribe({
            policy: s.policy,
            capacity: s.capacity,
            conflateFallback: s.fallback ? 'disconnect' : 'drop-oldest',
          }),
          got: [],
          closedByUser: false,
        })
        break
      case 'close':
        if (subs.length > 0) {
          const t = subs[s.pick % subs.length]!
          t.closedByUser = true
          t.sub.close()
        }
        break
      case 'get': {
        if (subs.length === 0) break
        const t = subs[s.pick % subs.length]!
        const slot = t.got.length
        t.got.push(null)
        const ac = s.abortable ? new AbortController() : undefined
        if (ac) abortable.push(ac)
        settles.push(
          t.sub.get({ signal: ac?.signal }).then(
            (v) => {
              t.got[slot] = v
            },
            () => {},
          ),
        )
        break
      }
      case 'tryGet': {
        if (subs.length === 0) break
        const t = subs[s.pick % subs.length]!
        const v = t.sub.tryGet()
        if (v !== undefined) t.got.push(v)
        break
      }
      case 'abort':
        if (abortable.length > 0) abortable.splice(s.pick % abortable.length, 1)[0]!.abort()
        break
      case 'tick':
        await new Promise<void>((resolve) => setImmediate(resolve))
        break
    }
    // Every subscriber keeps its bound.
    for (const t of subs) expect(t.sub.size).toBeLessThanOrEqual(t.sub.capacity)
    // Liveness: a publisher waits only while some 'wait' subscriber is full.
    if (f.waitingPublishers > 0) {
      expect(subs.some((t) => t.sub.policy === 'wait' && !t.sub.closed && t.sub.size >= t.sub.capacity)).toBe(
        true,
      )
    }
  }
  f.close()
  await Promise.all(settles)
  expect(f.waitingPublishers).toBe(0)

  const order = callOrder.filter((id) => accepted.get(id))
  const rank = new Map(order.map((id, i) => [id, i]))
  for (const t of subs) {
    const { sub } = t
    expect(sub.waitingConsumers).toBe(0)
    expect(sub.received).toBe(sub.delivered + sub.dropped + sub.conflated + sub.size)
    const left: Item[] = []
    for (let v = sub.tryGet(); v !== undefined; v = sub.tryGet()) left.push(v)
    const seq = [...t.got.filter((v): v is Item => v !== null), ...left]
    const ranks = seq.map((v) => rank.get(v.id))
    // Everything a subscriber sees was accepted, and seen once.
    expect(ranks.every((r) => r !== undefined)).toBe(true)
    expect(new Set(seq.map((v) => v.id)).size).toBe(seq.length)
    const r = ranks as number[]
    if (!t.closedByUser && sub.error === undefined) {
      // Subscribed to the end: it was given exactly the last `received` accepted items.
      const run = order.slice(order.length - sub.received)
      const kept = new Set(seq.map((v) => v.id))
      const missing = run.filter((id) => !kept.has(id))
      expect(missing.length).toBe(sub.dropped + sub.conflated)
      // The newest item is never dropped or conflated away.
      if (run.length > 0) expect(kept.has(run[run.length - 1]!)).toBe(true)
      // An item can only be conflated into a later item of the same key.
      const keyOf = (id: number) => items[id]!.key
      const superseded = (id: number, at: number) =>
        keyOf(id) !== undefined && run.slice(at + 1).some((later) => keyOf(later) === keyOf(id))
      const notSuperseded = missing.filter((id) => !superseded(id, run.indexOf(id))).length
      expect(notSuperseded).toBeLessThanOrEqual(sub.dropped)
    }
    if (sub.policy === 'wait' || sub.policy === 'disconnect') {
      for (let i = 1; i < r.length; i++) expect(r[i]).toBe(r[i - 1]! + 1)
      if (sub.policy === 'wait') {
        expect(sub.conflated).toBe(0)
        if (!t.closedByUser) {
          // A 'wait' subscriber that stayed to the end lost nothing and saw the last item.
          expect(sub.dropped).toBe(0)
          if (seq.length > 0) expect(r[r.length - 1]).toBe(order.length - 1)
        }
      }
    } else if (sub.policy === 'drop-oldest') {
      for (let i = 1; i < r.length; i++) expect(r[i]!).toBeGreaterThan(r[i - 1]!)
    } else {
      const last = new Map<string | undefined, number>()
      seq.forEach((v, i) => {
        if (v.key !== undefined) {
          expect(r[i]!).toBeGreaterThan(last.get(v.key) ?? -1)
          last.set(v.key, r[i]!)
        }
      })
    }
  }
}

describe('fan-out properties (fast-check)', () => {
  it('delivers per policy with no loss, duplication or reordering beyond what the policy allows', async () => {
    await fc.assert(fc.asyncProperty(fc.array(step, { maxLength: 100 }), run), { numRuns: 3000 })
  })
})

/**
 * Differential: one subscriber driven synchronously (offer and tryGet only) against a plain-array
 * model of each policy as documented, with item and byte bounds.
 */
type SyncStep = { op: 'offer'; key: number; size: number } | { op: 'take' }
const syncStep: fc.Arbitrary<SyncStep> = fc.oneof(
  {
    arbitrary: fc.record({
      op: fc.constant('offer' as const),
      key: fc.integer({ min: -1, max: 2 }),
      size: fc.integer({ min: 0, max: 6 }),
    }),
    weight: 3,
  },
  { arbitrary: fc.record({ op: fc.constant('take' as const) }), weight: 1 },
)

interface SizedItem {
  id: number
  key: string | undefined
  size: number
}

function model(
  policy: OverflowPolicy,
  cap: number,
  maxBytes: number,
  fallback: 'drop-oldest' | 'disconnect',
) {
  let q: SizedItem[] = []
  let gone = false
  const bytes = () => q.reduce((n, i) => n + i.size, 0)
  const room = (size: number) => q.length < cap && (q.length === 0 || bytes() + size <= maxBytes)
  const dropAppend = (it: SizedItem) => {
    while (q.length > 0 && !room(it.size)) q.shift()
    q.push(it)
  }
  return {
    offer(it: SizedItem): boolean {
      if (gone) return true
      if (room(it.size)) {
        q.push(it)
        return true
      }
      if (policy === 'wait') return false
      if (policy === 'drop-oldest') dropAppend(it)
      else if (policy === 'disconnect') {
        gone = true
        q = []
      } else {
        const at = it.key === undefined ? -1 : q.map((i) => i.key).lastIndexOf(it.key)
        if (at >= 0 && bytes() - q[at]!.size + it.size <= maxBytes) q[at] = it
        else if (fallback === 'disconnect') {
          gone = true
          q = []
        } else dropAppend(it)
      }
      return true
    },
    take: () => q.shift(),
    get gone() {
      return gone
    },
  }
}

describe('fan-out subscriber matches a model of its policy (fast-check)', () => {
  it.each(policies)('%s', (policy) => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.option(fc.integer({ min: 0, max: 12 }), { nil: undefined }),
        fc.boolean(),
        fc.array(syncStep, { maxLength: 120 }),
        (cap, maxBytes, fb, steps) => {
          const fallback = fb ? 'disconnect' : 'drop-oldest'
          const f = new FanOut<SizedItem>({ keyOf: (i) => i.key, sizeOf: (i) => i.size })
          const sub = f.subscribe({ policy, capacity: cap, maxBytes, conflateFallback: fallback })
          const m = model(policy, cap, maxBytes ?? Number.POSITIVE_INFINITY, fallback)
          let id = 0
          for (const s of steps) {
            if (s.op === 'offer') {
              const it = { id: id++, key: s.key < 0 ? undefined : `k${s.key}`, size: s.size }
              expect(f.offer(it)).toBe(m.offer(it))
            } else {
              expect(sub.tryGet()?.id).toBe(m.take()?.id)
            }
            expect(sub.closed).toBe(m.gone)
            expect(sub.received).toBe(sub.delivered + sub.dropped + sub.conflated + sub.size)
          }
          for (let it = m.take(); it !== undefined; it = m.take()) expect(sub.tryGet()?.id).toBe(it.id)
          expect(sub.tryGet()).toBeUndefined()
        },
      ),
      { numRuns: 500 },
    )
  })
})
