import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { Connection } from '@indi-ts/transport'
import { expect, it } from 'vitest'
import { Outbox, type OutboxHost, type OutItem } from '../src/outbox.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

async function alive(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 10 && ref.deref() !== undefined; i++) {
    await new Promise((r) => setImmediate(r))
    gc()
  }
  return ref.deref() !== undefined
}

/** A connection that pushes back on every send until `release()`; it keeps nothing it was sent. */
function gated(): Connection & { release(): void } {
  let open = false
  let wake: (() => void) | undefined
  return {
    label: 'gated',
    send: () => open,
    get bufferedBytes() {
      return 0
    },
    drained: () =>
      new Promise<void>((resolve) => {
        wake = resolve
      }),
    release() {
      open = true
      wake?.()
    },
    end: async () => {},
    close: async () => {},
    destroy() {},
    closed: new Promise<Error | undefined>(() => {}),
    [Symbol.asyncIterator]: () => ({ next: () => new Promise<IteratorResult<Uint8Array>>(() => {}) }),
  }
}

const host: OutboxHost = { schedule() {}, congestion() {} }

function blob(size: number): OutItem {
  const bytes = Buffer.alloc(size, 0x41)
  return { tag: 'setBLOBVector', device: 'CCD', name: 'CCD1', bytes: new Uint8Array(bytes.buffer, 0, size) }
}

it('keeps no reference to a BLOB buffer once the backlog that held it has been sent', async () => {
  const conn = gated()
  const o = new Outbox(conn, host, { highWater: 1 << 20, lowWater: 1 << 19, conflateAt: 1 << 21 }, true)
  o.push(blob(100))
  o.flush() // handed over; the connection pushes back, so the next frame waits in the backlog
  let big: OutItem | undefined = blob(4 << 20)
  const ref = new WeakRef(big.bytes.buffer)
  o.push(big)
  big = undefined
  conn.release()
  await new Promise((r) => setImmediate(r))
  expect(o.queuedMessages).toBe(0)
  expect(o.delivered).toBe(2)
  expect(await alive(ref)).toBe(false)
})

it('keeps no reference to a BLOB buffer that conflation dropped from a stuck backlog', async () => {
  const conn = gated()
  const o = new Outbox(conn, host, { highWater: 1000, lowWater: 500, conflateAt: 0 }, true)
  o.push(blob(100))
  o.flush()
  let old: OutItem | undefined = blob(4 << 20)
  const ref = new WeakRef(old.bytes.buffer)
  o.push(old)
  old = undefined
  o.push(blob(4 << 20))
  expect(o.conflated).toBe(1)
  expect(o.queuedMessages).toBe(1)
  expect(await alive(ref)).toBe(false)
})
