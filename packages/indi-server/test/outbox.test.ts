import type { Connection } from '@indi-ts/transport'
import { connectionPair } from '@indi-ts/transport'
import { describe, expect, it } from 'vitest'
import { Outbox, type OutboxHost, type OutItem } from '../src/outbox.js'

const limits = { highWater: 1000, lowWater: 500, conflateAt: 0 }

function item(tag: string, device: string, name: string, body = ''): OutItem {
  const bytes = Buffer.from(`<${tag} device="${device}" name="${name}">${body}</${tag}>`)
  return { tag, device, name, bytes }
}

/** A connection whose send() always returns false and never drains: a stuck peer. */
function stuck(): Connection & { sent: Uint8Array[] } {
  const sent: Uint8Array[] = []
  let buffered = 0
  return {
    label: 'stuck',
    sent,
    send(chunk: Uint8Array) {
      sent.push(chunk)
      buffered += chunk.byteLength
      return false
    },
    get bufferedBytes() {
      return buffered
    },
    drained: () => new Promise<void>(() => {}),
    end: async () => {},
    close: async () => {},
    destroy() {},
    closed: new Promise<Error | undefined>(() => {}),
    [Symbol.asyncIterator]: () => ({ next: () => new Promise<IteratorResult<Uint8Array>>(() => {}) }),
  }
}

function host(): OutboxHost & { flushes: Outbox[]; events: boolean[] } {
  const h = {
    flushes: [] as Outbox[],
    events: [] as boolean[],
    schedule(o: Outbox) {
      h.flushes.push(o)
    },
    congestion(_o: Outbox, c: boolean) {
      h.events.push(c)
    },
  }
  return h
}

describe('Outbox', () => {
  it('coalesces every message queued in a tick into one send', async () => {
    const [a, b] = connectionPair()
    const h = host()
    const o = new Outbox(a, h, limits, true)
    for (let i = 0; i < 50; i++) o.push(item('setNumberVector', 'D', `N${i}`))
    expect(h.flushes.length).toBe(1)
    o.flush()
    expect(o.delivered).toBe(50)
    const it = b[Symbol.asyncIterator]()
    const first = await it.next()
    expect(Buffer.from(first.value!).toString()).toContain('name="N49"')
  })

  it('conflates queued set* for the same property, keeping the newest', () => {
    const conn = stuck()
    const o = new Outbox(conn, host(), limits, true)
    o.push(item('setNumberVector', 'D', 'P', 'first'))
    o.flush() // handed over; send() says stop
    for (let i = 0; i < 10; i++) o.push(item('setNumberVector', 'D', 'P', `v${i}`))
    o.push(item('defNumberVector', 'D', 'P'))
    expect(o.conflated).toBe(9)
    expect(o.queuedMessages).toBe(2)
    expect(o.queuedBytes).toBe(
      item('setNumberVector', 'D', 'P', 'v9').bytes.byteLength +
        item('defNumberVector', 'D', 'P').bytes.byteLength,
    )
  })

  it('never conflates def*, delProperty, message or new*', () => {
    const o = new Outbox(stuck(), host(), limits, true)
    o.push(item('setNumberVector', 'D', 'X'))
    o.flush()
    for (const tag of ['defNumberVector', 'delProperty', 'message', 'newNumberVector'])
      for (let i = 0; i < 3; i++) o.push(item(tag, 'D', 'P'))
    expect(o.conflated).toBe(0)
    expect(o.queuedMessages).toBe(12)
  })

  it('drops older queued BLOBs of the same property', () => {
    const o = new Outbox(stuck(), host(), limits, true)
    o.push(item('setNumberVector', 'D', 'X'))
    o.flush()
    o.push(item('setBLOBVector', 'CCD', 'CCD1', 'A'.repeat(100)))
    o.push(item('setBLOBVector', 'CCD', 'CCD2', 'B'.repeat(100)))
    o.push(item('setBLOBVector', 'CCD', 'CCD1', 'C'.repeat(100)))
    expect(o.conflated).toBe(1)
    expect(o.queuedBytes).toBe(2 * item('setBLOBVector', 'CCD', 'CCD1', 'A'.repeat(100)).bytes.byteLength)
  })

  it('stays bounded under a flood of a few properties to a stuck peer', () => {
    const o = new Outbox(stuck(), host(), limits, true)
    o.push(item('setNumberVector', 'D', 'X'))
    o.flush()
    for (let i = 0; i < 100_000; i++) o.push(item('setNumberVector', 'D', `P${i % 10}`, String(i)))
    expect(o.queuedMessages).toBe(10)
    expect(o.conflated).toBe(100_000 - 10)
  })

  it('compact() conflates what was queued before the peer pushed back', () => {
    const sent: Uint8Array[] = []
    const conn = {
      ...stuck(),
      send: (c: Uint8Array) => {
        sent.push(c)
        return false
      },
    } as unknown as Connection
    const o = new Outbox(conn, host(), limits, true)
    // One tick of pushes, then a flush whose single write is refused: nothing was conflated yet.
    o.push(item('setNumberVector', 'D', 'P', 'x'.repeat(300 * 1024)))
    for (let i = 0; i < 5; i++) o.push(item('setNumberVector', 'D', 'Q', String(i)))
    o.flush()
    expect(o.queuedMessages).toBe(5)
    expect(o.compact()).toBe(4)
    expect(o.queuedMessages).toBe(1)
  })

  it('does not conflate a short backlog (a fast peer whose socket pushed back for a moment)', async () => {
    const [a, b] = connectionPair({ highWaterMark: 10 })
    const o = new Outbox(a, host(), { ...limits, conflateAt: 1_000_000 }, true)
    o.push(item('setNumberVector', 'D', 'P', 'x'))
    o.flush()
    for (let i = 0; i < 100; i++) o.push(item('setNumberVector', 'D', 'P', String(i)))
    expect(o.conflated).toBe(0)
    expect(o.queuedMessages).toBe(100)
    const got: Buffer[] = []
    for await (const chunk of b) {
      got.push(Buffer.from(chunk))
      if (Buffer.concat(got).includes('>99<')) break
    }
    expect(o.delivered).toBe(101)
  })

  it('reports congestion over the high-water mark and relief under the low-water mark', async () => {
    const [a, b] = connectionPair({ highWaterMark: 100 })
    const h = host()
    const o = new Outbox(a, h, limits, true)
    for (let i = 0; i < 40; i++) o.push(item('setNumberVector', 'D', `N${i}`))
    expect(h.events).toEqual([true])
    o.flush()
    const it = b[Symbol.asyncIterator]()
    while (h.events.length < 2) await it.next()
    expect(h.events).toEqual([true, false])
  })

  it('stops holding producers back once the connection breaks (its drain can never come)', async () => {
    let fail: (err: Error) => void = () => {}
    const conn = { ...stuck(), drained: () => new Promise<void>((_, reject) => (fail = reject)) }
    const h = host()
    const o = new Outbox(conn, h, limits, true)
    o.push(item('setBLOBVector', 'D', 'B', 'x'.repeat(5000)))
    o.flush() // handed over; the connection now waits for a drain
    o.push(item('setBLOBVector', 'D', 'B', 'y'.repeat(5000))) // queued behind it: congested
    expect(h.events.at(-1)).toBe(true)
    fail(new Error('EPIPE'))
    await new Promise((r) => setImmediate(r))
    expect(o.congested).toBe(false)
    expect(h.events.at(-1)).toBe(false)
  })

  it('a BLOB queued behind the one being written does not conflate the updates that follow it', () => {
    const o = new Outbox(stuck(), host(), { highWater: 1000, lowWater: 500, conflateAt: 2000 }, true)
    o.push(item('setBLOBVector', 'D', 'B', 'x'.repeat(5000)))
    o.flush() // being written; the connection pushes back
    o.push(item('setBLOBVector', 'D', 'B', 'y'.repeat(5000)))
    for (let i = 0; i < 20; i++) o.push(item('setNumberVector', 'D', 'FLOOD', String(i)))
    expect(o.conflated).toBe(0)
    expect(o.queuedMessages).toBe(21)
  })

  it('drops an older queued BLOB of a property as soon as a newer one is queued behind it', () => {
    const o = new Outbox(stuck(), host(), { highWater: 1000, lowWater: 500, conflateAt: 1_000_000 }, true)
    o.push(item('setBLOBVector', 'D', 'B', 'x'.repeat(5000)))
    o.flush()
    o.push(item('setBLOBVector', 'D', 'B', 'old'.repeat(2000)))
    o.push(item('setNumberVector', 'D', 'FLOOD', '1'))
    o.push(item('setBLOBVector', 'D', 'OTHER', 'z'.repeat(5000)))
    o.push(item('setBLOBVector', 'D', 'B', 'new'.repeat(2000)))
    expect(o.conflated).toBe(1)
    expect(o.queuedMessages).toBe(3)
    expect(o.queuedBytes).toBe(
      item('setNumberVector', 'D', 'FLOOD', '1').bytes.byteLength +
        item('setBLOBVector', 'D', 'OTHER', 'z'.repeat(5000)).bytes.byteLength +
        item('setBLOBVector', 'D', 'B', 'new'.repeat(2000)).bytes.byteLength,
    )
  })

  it('holds producers back on bytes queued, not on a large frame the connection is writing', () => {
    const h = host()
    const o = new Outbox(stuck(), h, limits, true)
    o.push(item('setBLOBVector', 'D', 'B', 'x'.repeat(5000)))
    o.flush() // handed over whole: 5000 bytes in the connection, over the 1000-byte mark
    expect(o.behind).toBeGreaterThan(limits.highWater)
    expect(o.congested).toBe(false)
    expect(h.events.at(-1)).toBe(false)
    o.push(item('setBLOBVector', 'D', 'B', 'y'.repeat(5000))) // the next one is read meanwhile
    expect(o.congested).toBe(true)
    expect(h.events.at(-1)).toBe(true)
  })

  it('copies a small view of a big chunk while backlogged, so held bytes are counted bytes', async () => {
    const sent: Uint8Array[] = []
    let release!: () => void
    const conn = {
      ...stuck(),
      send(chunk: Uint8Array) {
        sent.push(chunk)
        return sent.length > 1
      },
      drained: () =>
        new Promise<void>((r) => {
          release = r
        }),
    } as unknown as Connection
    const o = new Outbox(conn, host(), limits, true)
    o.push(item('setNumberVector', 'D', 'X'))
    o.flush()
    const big = Buffer.alloc(65536, 0x20)
    o.push({ tag: 'message', device: undefined, name: undefined, bytes: big.subarray(10, 60) })
    release()
    await new Promise((r) => setImmediate(r))
    expect(sent.length).toBe(2)
    expect(sent[1]!.byteLength).toBe(50)
    expect(sent[1]!.buffer).not.toBe(big.buffer)
  })
})
