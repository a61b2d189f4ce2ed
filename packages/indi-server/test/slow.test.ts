import { once as onceEvent } from 'node:events'
import { connect, type Socket } from 'node:net'
import type { Connection } from '@indi-ts/transport'
import { connectionPair } from '@indi-ts/transport'
import { afterEach, describe, expect, it } from 'vitest'
import type { ClientInfo, IndiServer } from '../src/index.js'
import { addClient, RawDriver, Reader, testServer } from './helpers.js'

const GP = '<getProperties version="1.7"/>'
const setNum = (i: number, props: number) =>
  `<setNumberVector device="Flood" name="P${i % props}" state="Ok"><oneNumber name="V">${i}</oneNumber></setNumberVector>`

let server: IndiServer
afterEach(async () => {
  await server?.close()
})

/**
 * A client connection whose send() always returns false and never drains: a stuck reader.
 * Its requests still reach the server; what the server sends is held and counted.
 */
function stuckClient(label: string): { conn: Connection; client: Connection; held: () => number } {
  const [a, b] = connectionPair({ labels: [`server:${label}`, label] })
  let held = 0
  const stuck = Object.create(a) as Connection
  Object.defineProperties(stuck, {
    send: {
      value: (chunk: Uint8Array) => {
        held += chunk.byteLength
        return false
      },
    },
    bufferedBytes: { get: () => held },
    drained: { value: () => new Promise<void>(() => {}) },
    [Symbol.asyncIterator]: { value: () => a[Symbol.asyncIterator]() },
  })
  return { conn: stuck, client: b, held: () => held }
}

/** Sends `count` messages from the driver, awaiting drained() whenever send() says so. */
async function flood(
  driver: RawDriver,
  count: number,
  make: (i: number) => string,
  onPushback?: () => void,
): Promise<void> {
  const conn = driver.conn!
  let batch = ''
  for (let i = 0; i < count; i++) {
    batch += make(i)
    if (batch.length > 16384 || i === count - 1) {
      const ok = conn.send(Buffer.from(batch))
      batch = ''
      if (!ok) {
        onPushback?.()
        await conn.drained()
      }
    }
  }
}

async function floodSetup(options: Parameters<typeof testServer>[0]) {
  const t = testServer({ stallTimeoutMs: 50, ...options })
  server = t.server
  const driver = new RawDriver(['Flood'])
  const known = new Promise((r) => server.once('device', r))
  server.addDriver(driver, { name: 'flood' })
  await known
  const fast = addClient(server, 'fast')
  fast.send(GP)
  await fast.in.waitFor('<defSwitchVector')
  return { driver, fast, logs: t.logs }
}

function stats(id: number): ClientInfo | undefined {
  return server.clientStats().find((c) => c.id === id)
}

describe('slow clients (conflation, -m, -d)', () => {
  it('conflates set* for a stuck client, keeps its memory bounded, and the fast client gets everything', async () => {
    const { driver, fast } = await floodSetup({ maxQueueMB: 1 })
    const s = stuckClient('stuck')
    const info = server.addClient(s.conn)!
    s.client.send(Buffer.from(GP))
    await fast.sync()
    await flood(driver, 20_000, (i) => setNum(i, 10))
    driver.send('<message message="end"/>')
    await fast.in.waitFor('end')
    expect(fast.in.count('<setNumberVector')).toBe(20_000)
    const st = stats(info.id)!
    expect(st.conflated).toBeGreaterThan(19_000)
    expect(st.behind).toBeLessThan(1024 * 1024)
    expect(st.queuedMessages).toBeLessThanOrEqual(12)
  })

  it('disconnects a stuck client still over -m after conflation, logging how far behind it is', async () => {
    const { driver, fast, logs } = await floodSetup({ maxQueueMB: 1 })
    const s = stuckClient('stuck')
    const info = server.addClient(s.conn)!
    s.client.send(Buffer.from(GP))
    await fast.sync()
    const slow = new Promise<[ClientInfo, number]>((r) => server.once('slowClient', (c, n) => r([c, n])))
    // Distinct properties: nothing to conflate, so only disconnecting bounds the memory.
    await flood(driver, 30_000, (i) => setNum(i, 1_000_000))
    driver.send('<message message="end"/>')
    const [who, behind] = await slow
    expect(who.id).toBe(info.id)
    expect(behind).toBeGreaterThan(1048576)
    expect(
      logs.some((l) => new RegExp(`^Client ${info.id}: \\d+ bytes behind, shutting down$`).test(l.text)),
    ).toBe(true)
    await fast.in.waitFor('end')
    expect(fast.in.count('<setNumberVector')).toBe(30_000)
    expect(stats(info.id)).toBeUndefined()
  })

  it('-d drops streaming BLOBs for a client behind, and keeps it connected', async () => {
    const { driver, fast } = await floodSetup({ maxQueueMB: 10, maxStreamMB: 0.03 })
    const s = stuckClient('stuck')
    const info = server.addClient(s.conn)!
    s.client.send(Buffer.from(`${GP}<enableBLOB device="Flood">Also</enableBLOB>`))
    fast.send('<enableBLOB device="Flood">Also</enableBLOB>')
    await fast.sync()
    const payload = 'A'.repeat(20_000)
    // One at a time, so the reading client is never behind; the stuck one is 20 kB more each time.
    for (let i = 0; i < 4; i++) {
      driver.send(
        `<setBLOBVector device="Flood" name="V${i}" state="Ok"><oneBLOB name="F" size="15000" format=".stream_jpg">${payload}</oneBLOB></setBLOBVector>`,
      )
      await fast.in.waitFor('<setBLOBVector', i + 1)
    }
    const st = stats(info.id)!
    expect(st.dropped).toBe(2)
    expect(st.conflated).toBe(0)
  })

  it('-d sees a streaming format on any member, not only the first', async () => {
    const { driver, fast } = await floodSetup({ maxQueueMB: 10, maxStreamMB: 0.03 })
    const s = stuckClient('stuck')
    const info = server.addClient(s.conn)!
    s.client.send(Buffer.from(`${GP}<enableBLOB device="Flood">Also</enableBLOB>`))
    fast.send('<enableBLOB device="Flood">Also</enableBLOB>')
    await fast.sync()
    const payload = 'A'.repeat(10_000)
    for (let i = 0; i < 4; i++) {
      driver.send(
        `<setBLOBVector device="Flood" name="V${i}" state="Ok"><oneBLOB name="A" size="7500" format=".fits">${payload}</oneBLOB>` +
          `<oneBLOB name="B" size="7500" format='.stream_jpg'>${payload}</oneBLOB></setBLOBVector>`,
      )
      await fast.in.waitFor('<setBLOBVector', i + 1)
    }
    expect(stats(info.id)!.dropped).toBe(2)
  })

  it('does not drop non-stream BLOBs under -d', async () => {
    const { driver, fast } = await floodSetup({ maxQueueMB: 10, maxStreamMB: 0.01 })
    const s = stuckClient('stuck')
    const info = server.addClient(s.conn)!
    s.client.send(Buffer.from(`${GP}<enableBLOB device="Flood">Also</enableBLOB>`))
    await fast.sync()
    const payload = 'A'.repeat(20_000)
    for (let i = 0; i < 4; i++)
      driver.send(
        `<setBLOBVector device="Flood" name="V${i}" state="Ok"><oneBLOB name="F" size="15000" format=".fits">${payload}</oneBLOB></setBLOBVector>`,
      )
    driver.send('<message message="end"/>')
    await fast.in.waitFor('end')
    expect(stats(info.id)!.dropped).toBe(0)
  })

  it('backpressures a flood to a reading client instead of buffering it', async () => {
    const { driver, fast } = await floodSetup({ maxQueueMB: 128, stallTimeoutMs: 60_000 })
    let maxBehind = 0
    await flood(
      driver,
      100_000,
      (i) => setNum(i, 1_000_000),
      () => {
        maxBehind = Math.max(maxBehind, stats(fast.id)!.behind)
      },
    )
    driver.send('<message message="end"/>')
    await fast.in.waitFor('end')
    expect(fast.in.count('<setNumberVector')).toBe(100_000)
    // Held at the ~1 MiB high-water mark (plus one read chunk), nowhere near -m (128 MiB).
    expect(maxBehind).toBeLessThan(4 * 1048576)
    expect(stats(fast.id)!.conflated).toBe(0)
  })
})

describe('slow clients over TCP', () => {
  const sockets: Socket[] = []
  afterEach(() => {
    for (const s of sockets.splice(0)) s.destroy()
  })

  async function tcpClient(port: number): Promise<{ socket: Socket; in: Reader }> {
    const socket = connect({ host: '127.0.0.1', port })
    sockets.push(socket)
    await onceEvent(socket, 'connect')
    const r = new Reader()
    socket.on('data', (d) => r.push(d))
    socket.on('close', () => r.end())
    socket.write(GP)
    return { socket, in: r }
  }

  it('disconnects a TCP client frozen at the kernel level; the other TCP client gets everything', async () => {
    const t = testServer({ port: 0, maxQueueMB: 1, stallTimeoutMs: 50 })
    server = t.server
    const driver = new RawDriver(['Flood'])
    const known = new Promise((r) => server.once('device', r))
    server.addDriver(driver, { name: 'flood' })
    await known
    const { port } = await server.listen()
    const fast = await tcpClient(port)
    const frozen = await tcpClient(port)
    await fast.in.waitFor('<defSwitchVector')
    await frozen.in.waitFor('<defSwitchVector')
    frozen.socket.pause()
    const slow = new Promise((r) => server.once('slowClient', r))
    const body = 'x'.repeat(200)
    await flood(
      driver,
      60_000,
      (i) =>
        `<setTextVector device="Flood" name="T${i}" state="Ok"><oneText name="V">${body}</oneText></setTextVector>`,
    )
    driver.send('<message message="end"/>')
    await slow
    await fast.in.waitFor('end')
    expect(fast.in.count('<setTextVector')).toBe(60_000)
  })
})
