/**
 * @indi-ts/transport/compliance: the vitest suite every Connection implementation must pass.
 * Call it from a test file: `connectionCompliance('tcp', { create: () => tcpPair() })`.
 * Needs vitest (an optional peer dependency of @indi-ts/transport).
 */
import { createHash, randomBytes } from 'node:crypto'
import { getEventListeners } from 'node:events'
import { IndiError } from '@indi-ts/indi-xml'
import { afterEach, describe, expect, it } from 'vitest'
import type { Connection } from './connection.js'
import { collect, writeAll } from './helpers.js'

/** How the suite obtains two connected ends of the transport under test. */
export interface PairFactory {
  /** Two connected ends: bytes sent on one arrive on the other, in both directions. */
  create(): Promise<[Connection, Connection]>
  /** Release ports, child processes, temp files after each test. */
  teardown?(): Promise<void>
  /**
   * Largest `bufferedBytes` the sender may report while its peer does not read, in bytes.
   * Default 4 MiB: far above any sane high-water mark, far below "unbounded".
   */
  maxBufferedBytes?: number
  /** Size of the big-payload test, in bytes. Default 64 MiB. */
  largePayloadBytes?: number
}

function sha256(chunks: Uint8Array[]): string {
  const h = createHash('sha256')
  for (const c of chunks) h.update(c)
  return h.digest('hex')
}

/** Deterministic chunk sizes from 1 byte to 70 000 bytes, so a failure replays identically. */
function* chunkSizes(seed: number): Generator<number> {
  let x = seed
  for (;;) {
    x = (x * 1103515245 + 12345) & 0x7fffffff
    const r = x % 100
    yield r < 30 ? 1 + (x % 16) : r < 80 ? 1 + (x % 2000) : 1 + (x % 70_000)
  }
}

function split(data: Uint8Array, seed: number): Uint8Array[] {
  const out: Uint8Array[] = []
  const sizes = chunkSizes(seed)
  for (let i = 0; i < data.length; ) {
    const n = sizes.next().value as number
    out.push(data.subarray(i, i + n))
    i += n
  }
  return out
}

/** Sends until send() returns false (the peer is not reading); returns the bytes sent. */
function fillUntilFull(conn: Connection, limit: number): number {
  const chunk = randomBytes(16 * 1024)
  let sent = 0
  while (sent < limit) {
    sent += chunk.length
    if (!conn.send(chunk)) return sent
  }
  throw new Error(`send() still returned true after ${sent} bytes to a peer that does not read`)
}

/** Resolves once the connection has reached the "send() returns false" state, waiting for it. */
async function stall(conn: Connection): Promise<number> {
  // Kernel buffers (socket, pipe) absorb a few MiB before user-space backpressure shows.
  let total = 0
  for (let round = 0; round < 200; round++) {
    total += fillUntilFull(conn, 256 * 1024 * 1024)
    // Give the OS a turn: it may take our queue into its buffer, making send() true again.
    await new Promise((r) => setImmediate(r))
    if (conn.bufferedBytes > 0) {
      const probe = new AbortController()
      const d = conn.drained({ signal: probe.signal }).then(
        () => true,
        () => false,
      )
      await new Promise((r) => setImmediate(r))
      probe.abort()
      if (!(await d)) return total
    }
  }
  throw new Error('the connection never stayed full')
}

/**
 * Registers the Connection compliance suite for one transport: ordering, a large payload,
 * backpressure, half-close, close, destroy, abort and single-iterator rules.
 */
export function connectionCompliance(name: string, factory: PairFactory): void {
  const maxBuffered = factory.maxBufferedBytes ?? 4 * 1024 * 1024
  const largeBytes = factory.largePayloadBytes ?? 64 * 1024 * 1024

  describe(`Connection compliance: ${name}`, () => {
    const open: Connection[] = []
    const pair = async (): Promise<[Connection, Connection]> => {
      const p = await factory.create()
      open.push(...p)
      return p
    }
    afterEach(async () => {
      for (const c of open.splice(0)) c.destroy()
      await factory.teardown?.()
    })

    it('has a non-empty label on both ends', async () => {
      const [a, b] = await pair()
      expect(a.label.length).toBeGreaterThan(0)
      expect(b.label.length).toBeGreaterThan(0)
    })

    it('delivers 4 MiB in order whatever the chunking, both directions at once', async () => {
      const [a, b] = await pair()
      const ab = randomBytes(4 << 20)
      const ba = randomBytes(4 << 20)
      const gotB = collect(b)
      const gotA = collect(a)
      await Promise.all([
        writeAll(a, split(ab, 1)).then(() => a.end()),
        writeAll(b, split(ba, 7)).then(() => b.end()),
      ])
      expect(Buffer.concat(await gotB).equals(ab)).toBe(true)
      expect(Buffer.concat(await gotA).equals(ba)).toBe(true)
    })

    it('delivers many tiny sends made in one synchronous burst', async () => {
      const [a, b] = await pair()
      const got = collect(b)
      const parts: Uint8Array[] = []
      for (let i = 0; i < 5000; i++) parts.push(Buffer.from(`<m n="${i}"/>`))
      await writeAll(a, parts)
      await a.end()
      expect(Buffer.concat(await got).equals(Buffer.concat(parts))).toBe(true)
    })

    it(`delivers a ${largeBytes >> 20} MiB payload sent as one chunk intact`, async () => {
      const [a, b] = await pair()
      const data = randomBytes(largeBytes)
      const expected = sha256([data])
      const got = (async () => {
        const h = createHash('sha256')
        let n = 0
        for await (const c of b) {
          h.update(c)
          n += c.length
        }
        return { n, hash: h.digest('hex') }
      })()
      if (!a.send(data)) await a.drained()
      await a.end()
      expect(await got).toEqual({ n: largeBytes, hash: expected })
    })

    it('send() turns false and bufferedBytes stays bounded while the peer does not read', async () => {
      const [a, b] = await pair()
      const sent = await stall(a)
      expect(a.send(new Uint8Array(1))).toBe(false)
      expect(a.bufferedBytes).toBeGreaterThan(0)
      expect(a.bufferedBytes).toBeLessThanOrEqual(maxBuffered)
      const got = collect(b)
      await a.drained()
      await a.end()
      const total = (await got).reduce((s, c) => s + c.length, 0)
      expect(total).toBe(sent + 1)
    })

    it('drained() resolves at once when nothing is queued', async () => {
      const [a] = await pair()
      await a.drained()
      expect(a.bufferedBytes).toBe(0)
    })

    it('drained() resolves once the reader resumes', async () => {
      const [a, b] = await pair()
      await stall(a)
      // No "still pending" assertion here: an OS buffer may legitimately take a few more bytes
      // later. The failure this catches is a drained() that never resolves (a timeout).
      const d = a.drained()
      const got = collect(b)
      await d
      await a.end()
      await got
    })

    it('end() ends the peer iteration while the other direction still works', async () => {
      const [a, b] = await pair()
      const got = collect(b)
      a.send(Buffer.from('hello'))
      await a.end()
      expect(Buffer.concat(await got).toString()).toBe('hello')
      const back = collect(a)
      b.send(Buffer.from('still here'))
      await b.end()
      expect(Buffer.concat(await back).toString()).toBe('still here')
      expect(await a.closed).toBeUndefined()
      expect(await b.closed).toBeUndefined()
    })

    it('send() after end() returns false and drained() rejects with ERR_INDI_CLOSED', async () => {
      const [a] = await pair()
      await a.end()
      expect(a.send(Buffer.from('late'))).toBe(false)
      await expect(a.drained()).rejects.toSatisfy((e) => IndiError.is(e, 'ERR_INDI_CLOSED'))
    })

    it('close() flushes what was sent, then the peer iteration ends', async () => {
      const [a, b] = await pair()
      const got = collect(b)
      const data = randomBytes(300_000)
      await writeAll(a, split(data, 3))
      await a.close()
      expect(Buffer.concat(await got).equals(data)).toBe(true)
      expect(await a.closed).toBeUndefined()
    })

    it('closed settles with undefined once both ends closed', async () => {
      const [a, b] = await pair()
      const got = collect(b)
      a.send(Buffer.from('x'))
      await a.close()
      await got
      await b.close()
      expect(await a.closed).toBeUndefined()
      expect(await b.closed).toBeUndefined()
    })

    it('destroy(err) settles closed with err and ends the local iteration with it', async () => {
      const [a] = await pair()
      const err = new Error('boom')
      const reading = collect(a)
      a.destroy(err)
      expect(await a.closed).toBe(err)
      await expect(reading).rejects.toBe(err)
    })

    it('destroy(err) rejects a pending drained() with err', async () => {
      const [a] = await pair()
      await stall(a)
      const d = a.drained()
      const err = new Error('stop')
      a.destroy(err)
      await expect(d).rejects.toBe(err)
    })

    it('destroy(err) surfaces on the peer as ERR_INDI_CONNECTION_RESET and settles its closed', async () => {
      const [a, b] = await pair()
      const reading = collect(b)
      // Make sure the link is up end to end before breaking it.
      a.send(Buffer.from('ping'))
      const back = a[Symbol.asyncIterator]()
      b.send(Buffer.from('pong'))
      await back.next()
      a.destroy(new Error('broken'))
      const e = await reading.then(
        () => undefined,
        (x: unknown) => x,
      )
      expect(IndiError.is(e, 'ERR_INDI_CONNECTION_RESET')).toBe(true)
      const c = await b.closed
      expect(IndiError.is(c, 'ERR_INDI_CONNECTION_RESET')).toBe(true)
    })

    it('a peer that was reset rejects drained() and stops accepting sends', async () => {
      const [a, b] = await pair()
      a.destroy(new Error('gone'))
      expect(IndiError.is(await b.closed, 'ERR_INDI_CONNECTION_RESET')).toBe(true)
      expect(b.send(Buffer.from('x'))).toBe(false)
      await expect(b.drained()).rejects.toSatisfy((e) => IndiError.is(e, 'ERR_INDI_CONNECTION_RESET'))
    })

    it('drained() with an already aborted signal rejects with signal.reason', async () => {
      const [a] = await pair()
      const reason = new Error('already')
      await stall(a)
      await expect(a.drained({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
    })

    it('drained() with an already aborted signal rejects even when nothing is queued', async () => {
      const [a] = await pair()
      const reason = new Error('already')
      await expect(a.drained({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
    })

    it('end() with an already aborted signal rejects and leaves the connection open', async () => {
      const [a, b] = await pair()
      const reason = new Error('not now')
      await expect(a.end({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
      const got = collect(b)
      expect(a.send(Buffer.from('still open'))).toBe(true)
      await a.end()
      expect(Buffer.concat(await got).toString()).toBe('still open')
    })

    it('drained() aborted while waiting rejects with signal.reason unchanged', async () => {
      const [a] = await pair()
      await stall(a)
      const ac = new AbortController()
      const d = a.drained({ signal: ac.signal })
      const reason = new Error('give up')
      ac.abort(reason)
      await expect(d).rejects.toBe(reason)
    })

    it('drained() leaves no abort listener behind after 10 000 calls', async () => {
      const [a] = await pair()
      const ac = new AbortController()
      for (let i = 0; i < 10_000; i++) await a.drained({ signal: ac.signal })
      expect(getEventListeners(ac.signal, 'abort').length).toBe(0)
      await stall(a)
      const waits: Promise<void>[] = []
      for (let i = 0; i < 100; i++) {
        const c = new AbortController()
        const w = a.drained({ signal: c.signal })
        c.abort(new Error('x'))
        waits.push(w.catch(() => undefined))
        expect(getEventListeners(c.signal, 'abort').length).toBe(0)
      }
      await Promise.all(waits)
    })

    it('close() aborted while the peer does not read rejects with signal.reason', async () => {
      const [a] = await pair()
      await stall(a)
      const ac = new AbortController()
      const c = a.close({ signal: ac.signal })
      const reason = new Error('no patience')
      ac.abort(reason)
      await expect(c).rejects.toBe(reason)
      await a.closed
    })

    it('a second concurrent iterator throws', async () => {
      const [a] = await pair()
      const first = a[Symbol.asyncIterator]()
      expect(() => a[Symbol.asyncIterator]()).toThrow(TypeError)
      await first.return?.()
    })

    it('breaking out of a loop releases the iterator without closing the connection', async () => {
      const [a, b] = await pair()
      a.send(Buffer.from('first'))
      for await (const _chunk of b) break
      const rest = collect(b)
      a.send(Buffer.from('second'))
      await a.end()
      expect(Buffer.concat(await rest).toString()).toContain('second')
    })
  })
}
