import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { expect, it } from 'vitest'
import { BoundedQueue, FanOut } from '../src/index.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/**
 * Collects until `ref` is cleared. deref() keeps its target alive until the current job ends, so
 * each round first yields to a new job, then collects, and only then looks.
 */
async function collected(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 10; i++) {
    await new Promise<void>((resolve) => setImmediate(resolve))
    gc()
    if (ref.deref() === undefined) return true
  }
  return false
}

it('does not retain a subscriber after it left the fan-out', async () => {
  const f = new FanOut<object>()
  let sub: ReturnType<typeof f.subscribe> | undefined = f.subscribe({ policy: 'wait', capacity: 2 })
  const ref = new WeakRef(sub)
  f.offer({})
  sub.close()
  sub = undefined
  f.offer({})
  expect(await collected(ref)).toBe(true)
})

it('does not retain the item of an aborted put()', async () => {
  const q = new BoundedQueue<object>(1)
  await q.put({})
  const ac = new AbortController()
  let item: object | undefined = { big: new Uint8Array(1024) }
  const ref = new WeakRef(item)
  const p = q.put(item, { signal: ac.signal }).catch(() => {})
  item = undefined
  ac.abort()
  await p
  expect(await collected(ref)).toBe(true)
  // The controller (and its signal) is still alive here: its listener must not hold the item.
  expect(ac.signal.aborted).toBe(true)
})

it('does not retain items that consumers took', async () => {
  const q = new BoundedQueue<object>(4)
  // In a frame of its own, so no stale register of this test's frame holds the item.
  const ref = await (async () => {
    const item = {}
    await q.put(item)
    await q.put({})
    expect(await q.get()).toBe(item)
    return new WeakRef(item)
  })()
  expect(q.size).toBe(1)
  expect(await collected(ref)).toBe(true)
})
