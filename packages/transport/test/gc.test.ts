import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { expect, it } from 'vitest'
import { collect, connectionPair } from '../src/index.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

async function collectGarbage(refs: WeakRef<object>[]): Promise<number> {
  for (let i = 0; i < 10 && refs.some((r) => r.deref() !== undefined); i++) {
    await new Promise((r) => setImmediate(r))
    gc()
  }
  return refs.filter((r) => r.deref() !== undefined).length
}

it('closed pairs are garbage-collected (no listener or waiter keeps them alive)', async () => {
  const refs: WeakRef<object>[] = []
  const ac = new AbortController() // a long-lived signal, as a server would pass to every wait
  const one = async (): Promise<void> => {
    const [a, b] = connectionPair({ highWaterMark: 4 })
    refs.push(new WeakRef(a), new WeakRef(b))
    const got = collect(b)
    a.send(new Uint8Array(8))
    await a.drained({ signal: ac.signal })
    await a.close({ signal: ac.signal })
    await got
    await b.close()
  }
  for (let i = 0; i < 200; i++) await one()
  expect(await collectGarbage(refs)).toBe(0)
})

it('destroyed pairs with pending waits are garbage-collected', async () => {
  const refs: WeakRef<object>[] = []
  const ac = new AbortController()
  const one = async (): Promise<void> => {
    const [a, b] = connectionPair({ highWaterMark: 4 })
    refs.push(new WeakRef(a), new WeakRef(b))
    a.send(new Uint8Array(8))
    const waiting = a.drained({ signal: ac.signal }).catch(() => undefined)
    const reading = collect(a).catch(() => undefined)
    b.destroy(new Error('gone'))
    await Promise.all([waiting, reading])
  }
  for (let i = 0; i < 200; i++) await one()
  expect(await collectGarbage(refs)).toBe(0)
})
