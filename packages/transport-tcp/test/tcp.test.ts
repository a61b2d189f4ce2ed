import { once } from 'node:events'
import { createServer, connect as netConnect, type Socket } from 'node:net'
import { IndiError } from '@indi-ts/indi-xml'
import { type Connection, collect, drainedWithin } from '@indi-ts/transport'
import { afterEach, describe, expect, it } from 'vitest'
import {
  connectTcp,
  connectTcpWithRetry,
  listenTcp,
  type RefusedPeer,
  type TcpListener,
} from '../src/index.js'

const listeners: TcpListener[] = []
const conns: Connection[] = []
const sockets: Socket[] = []
afterEach(async () => {
  for (const c of conns.splice(0)) c.destroy()
  for (const s of sockets.splice(0)) s.destroy()
  await Promise.all(listeners.splice(0).map((l) => l.close()))
})

async function listen(opts: Partial<Parameters<typeof listenTcp>[0]> = {}): Promise<TcpListener> {
  const l = await listenTcp({ port: 0, ...opts })
  listeners.push(l)
  return l
}

async function connect(port: number, host = '127.0.0.1'): Promise<Connection> {
  const c = await connectTcp({ host, port })
  conns.push(c)
  return c
}

/** A raw client socket: reads everything the server sends until the server closes it. */
async function rawReceive(port: number, host = '127.0.0.1'): Promise<string> {
  const s = netConnect({ host, port })
  sockets.push(s)
  const parts: Buffer[] = []
  s.on('data', (d: Buffer) => parts.push(d))
  await once(s, 'close')
  return Buffer.concat(parts).toString()
}

/** A port where nothing listens right now. */
async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as { port: number }).port
  await new Promise((r) => s.close(r))
  return port
}

describe('listenTcp', () => {
  it('binds loopback by default and reports the real port', async () => {
    const l = await listen()
    expect(l.address.host).toBe('127.0.0.1')
    expect(l.address.port).toBeGreaterThan(0)
  })

  it('yields accepted peers labelled tcp:<address>:<port>', async () => {
    const l = await listen()
    const next = l[Symbol.asyncIterator]().next()
    const client = await connect(l.address.port)
    const server = (await next).value as Connection
    conns.push(server)
    expect(server.label).toMatch(/^tcp:127\.0\.0\.1:\d+$/)
    expect(client.label).toBe(`tcp:127.0.0.1:${l.address.port}`)
  })

  it('labels IPv6 peers with brackets', async () => {
    const l = await listen({ host: '::1' })
    const next = l[Symbol.asyncIterator]().next()
    const client = await connect(l.address.port, '::1')
    conns.push((await next).value as Connection)
    expect(client.label).toBe(`tcp:[::1]:${l.address.port}`)
  })

  it('refuses peers over maxConnections with the message and a refused event', async () => {
    const refused: RefusedPeer[] = []
    const l = await listen({ maxConnections: 1, refuseMessage: '<message message="server full"/>\n' })
    l.on('refused', (p) => refused.push(p))
    const it = l[Symbol.asyncIterator]()
    await connect(l.address.port)
    conns.push((await it.next()).value as Connection)
    expect(await rawReceive(l.address.port)).toBe('<message message="server full"/>\n')
    expect(refused).toHaveLength(1)
    expect(refused[0]).toMatchObject({ reason: 'max-connections', address: '127.0.0.1' })
  })

  it('frees a slot when an accepted connection closes', async () => {
    const l = await listen({ maxConnections: 1 })
    const it = l[Symbol.asyncIterator]()
    const first = await connect(l.address.port)
    const server1 = (await it.next()).value as Connection
    await first.close()
    await server1.close()
    expect(l.connections).toBe(0)
    await connect(l.address.port)
    const server2 = (await it.next()).value as Connection
    conns.push(server2)
    expect(l.connections).toBe(1)
  })

  it('refuses peers outside the allow list and calls onRefused', async () => {
    const refused: RefusedPeer[] = []
    const l = await listen({ allow: ['10.0.0.0/8', 'fd00::/8'], onRefused: (p) => refused.push(p) })
    expect(await rawReceive(l.address.port)).toBe('')
    expect(refused).toEqual([expect.objectContaining({ reason: 'not-allowed', address: '127.0.0.1' })])
  })

  it('accepts peers inside an allowed CIDR network', async () => {
    const l = await listen({ allow: ['127.0.0.0/8'] })
    const next = l[Symbol.asyncIterator]().next()
    await connect(l.address.port)
    const server = (await next).value as Connection
    conns.push(server)
    expect(server.label).toContain('127.0.0.1')
  })

  it('matches an IPv4 rule against an IPv4-mapped IPv6 peer on a dual-stack listener', async () => {
    const l = await listen({ host: '::', allow: ['127.0.0.1'] })
    const next = l[Symbol.asyncIterator]().next()
    await connect(l.address.port, '127.0.0.1')
    const server = (await next).value as Connection
    conns.push(server)
    expect(server.label).toMatch(/127\.0\.0\.1/)
  })

  it('allows an IPv6 address rule', async () => {
    const l = await listen({ host: '::1', allow: ['::1'] })
    const next = l[Symbol.asyncIterator]().next()
    await connect(l.address.port, '::1')
    conns.push((await next).value as Connection)
    expect(l.connections).toBe(1)
  })

  it('rejects a malformed allow rule with ERR_INDI_USAGE', async () => {
    await expect(listenTcp({ port: 0, allow: ['10.0.0.0/33'] })).rejects.toSatisfy((e) =>
      IndiError.is(e, 'ERR_INDI_USAGE'),
    )
    await expect(listenTcp({ port: 0, allow: ['example.org'] })).rejects.toSatisfy((e) =>
      IndiError.is(e, 'ERR_INDI_USAGE'),
    )
  })

  it('close() ends the iteration', async () => {
    const l = await listen()
    const next = l[Symbol.asyncIterator]().next()
    await l.close()
    expect((await next).done).toBe(true)
  })

  it('aborting its signal closes the listener', async () => {
    const ac = new AbortController()
    const l = await listen({ signal: ac.signal })
    const next = l[Symbol.asyncIterator]().next()
    ac.abort()
    expect((await next).done).toBe(true)
    await expect(connectTcp({ port: l.address.port })).rejects.toSatisfy((e) =>
      IndiError.is(e, 'ERR_INDI_CONNECTION_REFUSED'),
    )
  })

  it('rejects with the Node error when the port is taken', async () => {
    const l = await listen()
    await expect(listenTcp({ port: l.address.port })).rejects.toMatchObject({ code: 'EADDRINUSE' })
  })

  it('a second concurrent iterator throws', async () => {
    const l = await listen()
    l[Symbol.asyncIterator]()
    expect(() => l[Symbol.asyncIterator]()).toThrow(TypeError)
  })
})

describe('connectTcp', () => {
  it('rejects with ERR_INDI_CONNECTION_REFUSED when nothing listens', async () => {
    const port = await freePort()
    const e = await connectTcp({ port }).catch((x: unknown) => x)
    expect(IndiError.is(e, 'ERR_INDI_CONNECTION_REFUSED')).toBe(true)
    expect((e as Error).cause).toMatchObject({ code: 'ECONNREFUSED' })
  })

  it('rejects with signal.reason when already aborted', async () => {
    const reason = new Error('no')
    await expect(connectTcp({ port: 1, signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
  })

  it('gathers a burst of small sends into few writes', async () => {
    const l = await listen()
    const next = l[Symbol.asyncIterator]().next()
    const client = await connect(l.address.port)
    const server = (await next).value as Connection
    conns.push(server)
    const got = collect(server)
    let expected = ''
    for (let i = 0; i < 1000; i++) {
      const s = `<pingRequest uid="${i}"/>`
      expected += s
      client.send(Buffer.from(s))
    }
    await client.end()
    const chunks = await got
    expect(Buffer.concat(chunks).toString()).toBe(expected)
    // 27 KB in 1000 sends: two writes (16 KiB flush threshold), so the reader sees few chunks.
    expect(chunks.length).toBeLessThanOrEqual(4)
  })

  it('a peer that keeps sending after we closed ends with ERR_INDI_CONNECTION_RESET', async () => {
    const l = await listen()
    const next = l[Symbol.asyncIterator]().next()
    const client = await connect(l.address.port)
    const server = (await next).value as Connection
    conns.push(server)
    const got = collect(client)
    await server.close()
    expect(await got).toEqual([])
    // The kernel answers data sent to a closed socket with RST; the second or third write sees it.
    for (let i = 0; i < 1000 && client.send(Buffer.from('<pingRequest/>')); i++) {
      await new Promise((r) => setImmediate(r))
    }
    expect(IndiError.is(await client.closed, 'ERR_INDI_CONNECTION_RESET')).toBe(true)
  })

  it('after a failed write, still delivers what the peer sent before it reset, then the error', async () => {
    // indi_setprop's habit (indilib #1669, "half-closed sockets"): it writes its new* and exits
    // while we are still writing definitions to it. Our write then fails, but the peer's bytes are
    // already here, in our buffers or the kernel's receive queue, and must still be read.
    const l = await listen({ highWaterMark: 16 * 1024 })
    const next = l[Symbol.asyncIterator]().next()
    const peer = netConnect({ host: '127.0.0.1', port: l.address.port })
    sockets.push(peer)
    peer.pause()
    const server = (await next).value as Connection
    conns.push(server)
    // 64 KiB ahead of the message: more than our read buffer, so reading is paused and the
    // message waits in the kernel when the write fails (what made Node drop it with the socket).
    const sent = Buffer.concat([Buffer.alloc(64 * 1024, 0x20), Buffer.from('<newSwitchVector/>')])
    await new Promise<void>((resolve, reject) => peer.write(sent, (e) => (e ? reject(e) : resolve())))
    peer.resetAndDestroy()
    const chunk = Buffer.alloc(64 * 1024, 0x41)
    let failed: unknown
    for (let i = 0; i < 1000 && failed === undefined; i++) {
      while (server.send(chunk));
      failed = await server.drained().then(
        () => undefined,
        (e: unknown) => e,
      )
    }
    expect(IndiError.is(failed, 'ERR_INDI_CONNECTION_RESET')).toBe(true)
    const got: Buffer[] = []
    const end = await (async () => {
      for await (const c of server) got.push(Buffer.from(c))
    })().catch((e: unknown) => e)
    expect(Buffer.concat(got).equals(sent)).toBe(true)
    expect(IndiError.is(end, 'ERR_INDI_CONNECTION_RESET')).toBe(true)
    expect(IndiError.is(await server.closed, 'ERR_INDI_CONNECTION_RESET')).toBe(true)
  })

  it('a reader frozen at the kernel level makes the writer wait, then ERR_INDI_SLOW_PEER', async () => {
    const l = await listen()
    const next = l[Symbol.asyncIterator]().next()
    const frozen = netConnect({ host: '127.0.0.1', port: l.address.port })
    sockets.push(frozen)
    frozen.pause()
    const server = (await next).value as Connection
    conns.push(server)
    const chunk = Buffer.alloc(64 * 1024, 0x41)
    let sent = 0
    // Fill the kernel buffers of both ends; the writer's own queue must then stay bounded.
    for (;;) {
      while (server.send(chunk)) sent += chunk.length
      sent += chunk.length
      const e = await drainedWithin(server, 300).catch((x: unknown) => x)
      if (e !== undefined) {
        expect(IndiError.is(e, 'ERR_INDI_SLOW_PEER')).toBe(true)
        break
      }
      expect(sent).toBeLessThan(256 * 1024 * 1024)
    }
    expect(server.bufferedBytes).toBeLessThanOrEqual(2 * 64 * 1024)
  })
})

describe('connectTcpWithRetry', () => {
  it('retries with backoff until the server appears, reporting each failure', async () => {
    const port = await freePort()
    const attempts: Array<[number, string | undefined]> = []
    let listening: Promise<TcpListener> | undefined
    const ac = new AbortController()
    const conn = await connectTcpWithRetry({
      port,
      signal: ac.signal,
      minDelayMs: 5,
      maxDelayMs: 20,
      onAttempt: (n, e) => {
        attempts.push([n, (e as IndiError).code])
        if (n === 3) listening = listen({ port })
      },
    })
    conns.push(conn)
    await listening
    expect(attempts).toEqual([
      [1, 'ERR_INDI_CONNECTION_REFUSED'],
      [2, 'ERR_INDI_CONNECTION_REFUSED'],
      [3, 'ERR_INDI_CONNECTION_REFUSED'],
    ])
    expect(conn.label).toBe(`tcp:127.0.0.1:${port}`)
  })

  it('rejects with signal.reason when aborted while waiting between attempts', async () => {
    const port = await freePort()
    const ac = new AbortController()
    const reason = new Error('stop retrying')
    const p = connectTcpWithRetry({
      port,
      signal: ac.signal,
      minDelayMs: 60_000,
      onAttempt: () => ac.abort(reason),
    })
    await expect(p).rejects.toBe(reason)
  })

  it('rejects with signal.reason when already aborted', async () => {
    const reason = new Error('never mind')
    await expect(connectTcpWithRetry({ port: 1, signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
  })
})
