import { Duplex, PassThrough, Writable } from 'node:stream'
import { IndiError } from '@indi-ts/indi-xml'
import { describe, expect, it } from 'vitest'
import { collect } from '../src/index.js'
import { StreamConnection } from '../src/node.js'

function over(options: Partial<ConstructorParameters<typeof StreamConnection>[0]> = {}) {
  const input = new PassThrough()
  const output = new PassThrough()
  const conn = new StreamConnection({ label: 'test', readable: input, writable: output, ...options })
  return { input, output, conn }
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r))

describe('StreamConnection', () => {
  it('turns a stream error into ERR_INDI_CONNECTION_RESET with the original as cause', async () => {
    const { input, conn } = over()
    const err = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })
    input.destroy(err)
    const closed = await conn.closed
    expect(IndiError.is(closed, 'ERR_INDI_CONNECTION_RESET')).toBe(true)
    expect((closed as Error).cause).toBe(err)
    expect((closed as Error).message).toContain('test: ECONNRESET')
  })

  it('passes an IndiError from a stream unchanged', async () => {
    const { input, conn } = over()
    const err = new IndiError('ERR_INDI_SLOW_PEER', 'slow')
    input.destroy(err)
    expect(await conn.closed).toBe(err)
  })

  it('after the output breaks, still delivers the input until it ends, then throws the write error', async () => {
    // A driver that closed its stdin (EPIPE for us) may still have messages on its stdout.
    const { input, output, conn } = over()
    const err = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })
    output.destroy(err)
    await tick()
    const failed = await conn.drained().catch((e: unknown) => e)
    expect((failed as Error).cause).toBe(err)
    expect(conn.send(Buffer.from('dropped'))).toBe(false)
    input.end(Buffer.from('last words'))
    const got: string[] = []
    const end = await (async () => {
      for await (const c of conn) got.push(Buffer.from(c).toString())
    })().catch((x: unknown) => x)
    expect(got).toEqual(['last words'])
    expect(end).toBe(failed)
    expect(await conn.closed).toBe(failed)
  })

  it('after the output of a duplex fails a write, its input is not destroyed', async () => {
    // A net.Socket is one Duplex: Node would destroy it on EPIPE, dropping unread input.
    const failing = new Duplex({
      read() {},
      write(_chunk, _enc, cb) {
        cb(Object.assign(new Error('write ECONNRESET'), { code: 'ECONNRESET' }))
      },
    })
    const conn = new StreamConnection({ label: 'test', readable: failing, writable: failing })
    conn.send(Buffer.from('x'))
    await tick()
    const failed = await conn.drained().catch((e: unknown) => e)
    expect(IndiError.is(failed, 'ERR_INDI_CONNECTION_RESET')).toBe(true)
    expect(failing.destroyed).toBe(false)
    failing.push(Buffer.from('new*'))
    failing.push(null)
    const got: string[] = []
    const end = await (async () => {
      for await (const c of conn) got.push(Buffer.from(c).toString())
    })().catch((x: unknown) => x)
    expect(got).toEqual(['new*'])
    expect(end).toBe(failed)
  })

  it('close() after the output broke drops the input and settles closed with the write error', async () => {
    const { input, output, conn } = over()
    input.write(Buffer.from('unread'))
    output.destroy(new Error('write EPIPE'))
    await tick()
    const e = await conn.close().catch((x: unknown) => x)
    expect(IndiError.is(e, 'ERR_INDI_CONNECTION_RESET')).toBe(true)
    expect(await conn.closed).toBe(e)
  })

  it('delivers what was received before a stream error, then throws it', async () => {
    const { input, conn } = over()
    input.write(Buffer.from('last words'))
    await new Promise((r) => setImmediate(r))
    input.destroy(new Error('gone'))
    const got: string[] = []
    const e = await (async () => {
      for await (const c of conn) got.push(Buffer.from(c).toString())
    })().catch((x: unknown) => x)
    expect(got).toEqual(['last words'])
    expect(IndiError.is(e, 'ERR_INDI_CONNECTION_RESET')).toBe(true)
  })

  it('gathers small sends made in one microtask run into one write', async () => {
    const { output, conn } = over()
    const writes: number[] = []
    output.on('data', (d: Buffer) => writes.push(d.length))
    for (let i = 0; i < 100; i++) conn.send(Buffer.from('0123456789'))
    await conn.end()
    expect(writes).toEqual([1000])
  })

  it('writes a large chunk as it is, without copying', async () => {
    const { output, conn } = over()
    const big = Buffer.alloc(100_000, 7)
    const got: Buffer[] = []
    output.on('data', (d: Buffer) => got.push(d))
    conn.send(big)
    await conn.end()
    expect(got[0]?.buffer).toBe(big.buffer)
  })

  it("calls send()'s released once a large chunk's write is done, not before", async () => {
    // A writable that completes each write only when told: the chunk is in flight until then.
    const done: (() => void)[] = []
    const writable = new Writable({
      write(_chunk, _enc, cb) {
        done.push(cb)
      },
    })
    const conn = new StreamConnection({ label: 'test', readable: new PassThrough(), writable })
    let released = 0
    conn.send(Buffer.alloc(100_000, 1), () => released++)
    await tick()
    expect([done.length, released]).toEqual([1, 0])
    done.shift()!()
    await tick()
    expect(released).toBe(1)
    conn.destroy()
  })

  it('gives a small chunk back at once: it is copied into the coalesced write', async () => {
    const { output, conn } = over()
    const got: Buffer[] = []
    output.on('data', (d: Buffer) => got.push(d))
    const small = Buffer.from('<pingRequest uid="1"/>')
    let released = 0
    conn.send(small, () => released++)
    expect(released).toBe(1)
    small.fill(0x20) // the caller may reuse it now
    await conn.end()
    expect(Buffer.concat(got).toString()).toBe('<pingRequest uid="1"/>')
  })

  it('calls released for chunks dropped at destroy, once the write in flight has failed, and for sends after', async () => {
    const done: ((err?: Error) => void)[] = []
    const writable = new Writable({
      write(_chunk, _enc, cb) {
        done.push(cb)
      },
    })
    const conn = new StreamConnection({ label: 'test', readable: new PassThrough(), writable })
    let released = 0
    conn.send(Buffer.alloc(100_000), () => released++) // in flight
    conn.send(Buffer.alloc(100_000), () => released++) // queued behind it
    conn.destroy()
    await tick()
    // The stream still holds the chunk in flight (a socket's write fails once it is closed).
    expect(released).toBe(0)
    done.shift()!(new Error('closed'))
    await tick()
    expect(released).toBe(2)
    expect(conn.send(Buffer.alloc(100_000), () => released++)).toBe(false)
    expect(released).toBe(3)
  })

  it('pauses the source once a high-water mark waits unread', async () => {
    const { input, conn } = over({ highWaterMark: 100 })
    input.write(Buffer.alloc(150))
    await new Promise((r) => setImmediate(r))
    expect(input.isPaused()).toBe(true)
    const it = conn[Symbol.asyncIterator]()
    await it.next()
    expect(input.isPaused()).toBe(false)
  })

  it("with endOfInput 'manual', the input's end waits for endInput()", async () => {
    const { input, conn } = over({ endOfInput: 'manual' })
    input.end(Buffer.from('x'))
    const got = collect(conn)
    let done = false
    void got.then(() => {
      done = true
    })
    await new Promise((r) => setImmediate(r))
    expect(done).toBe(false)
    ;(conn as StreamConnection).endInput()
    expect((await got).length).toBe(1)
  })
})
