import { IndiError, type IndiMessage, type SetBlobVector } from '@indi-ts/indi-xml'
import { collect, connectionPair } from '@indi-ts/transport'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  BinaryDecoder,
  BinaryMessageStream,
  binaryReader,
  binaryWriter,
  encodeFrame,
  LINK_PREAMBLE,
} from '../src/index.js'
import { anyText, messageArb } from './arbitraries.js'

const ping = (uid: string): IndiMessage => ({ tag: 'pingRequest', uid })

function blob(bytes: number): SetBlobVector {
  const data = new Uint8Array(bytes)
  for (let i = 0; i < bytes; i += 4096) data[i] = i & 0xff
  return {
    tag: 'setBLOBVector',
    device: 'CCD Simulator',
    name: 'CCD1',
    state: 'Ok',
    members: [{ name: 'CCD1', size: bytes, format: '.fits', data }],
  }
}

async function drain<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

describe('BinaryDecoder framing', () => {
  it('decodes any split of a stream of frames identically', () => {
    fc.assert(
      fc.property(
        fc.array(messageArb(anyText), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (messages, cuts) => {
          const stream = Buffer.concat([LINK_PREAMBLE, ...messages.map(encodeFrame)])
          const points = [...new Set(cuts.map((c) => c % stream.length))].sort((a, b) => a - b)
          const d = new BinaryDecoder()
          const got: IndiMessage[] = []
          let from = 0
          for (const p of [...points, stream.length]) {
            got.push(...d.push(stream.subarray(from, p)))
            from = p
          }
          d.end()
          expect(got).toEqual(messages)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('refuses an XML peer with ERR_INDI_BINARY_HANDSHAKE naming what it sent', () => {
    const d = new BinaryDecoder()
    const xml = new TextEncoder().encode("<getProperties version='1.7'/>\n")
    expect(() => d.push(xml)).toThrow(/peer speaks INDI XML.*getProperties/)
    expect(() => d.push(xml)).toThrow(expect.objectContaining({ code: 'ERR_INDI_BINARY_HANDSHAKE' }))
  })

  it('refuses another format version', () => {
    const d = new BinaryDecoder()
    const other = Uint8Array.from(LINK_PREAMBLE)
    other[6] = 2
    expect(() => d.push(other)).toThrow(expect.objectContaining({ code: 'ERR_INDI_BINARY_HANDSHAKE' }))
  })

  it('refuses a frame above maxFrameBytes before buffering it', () => {
    const d = new BinaryDecoder({ maxFrameBytes: 1000 })
    const frame = encodeFrame(blob(2000))
    expect(() => d.push(Buffer.concat([LINK_PREAMBLE, frame.subarray(0, 4)]))).toThrow(
      expect.objectContaining({ code: 'ERR_INDI_BINARY_TOO_LARGE' }),
    )
  })

  it('refuses a zero-length frame', () => {
    const d = new BinaryDecoder()
    expect(() => d.push(Buffer.concat([LINK_PREAMBLE, Buffer.alloc(4)]))).toThrow(
      expect.objectContaining({ code: 'ERR_INDI_BINARY_MALFORMED' }),
    )
  })

  it('reports input that ends inside a frame', () => {
    const d = new BinaryDecoder()
    const frame = encodeFrame(ping('a'))
    d.push(Buffer.concat([LINK_PREAMBLE, frame.subarray(0, frame.length - 1)]))
    expect(() => d.end()).toThrow(/ended inside a frame/)
  })

  it('stays failed after an error', () => {
    const d = new BinaryDecoder()
    expect(() => d.push(Uint8Array.of(0x3c))).toThrow()
    expect(() => d.push(LINK_PREAMBLE)).toThrow(
      expect.objectContaining({ code: 'ERR_INDI_BINARY_HANDSHAKE' }),
    )
  })
})

describe('binaryReader / binaryWriter over a Connection', () => {
  it('delivers messages in order', async () => {
    const [a, b] = connectionPair()
    const w = binaryWriter(a)
    const received = drain(binaryReader(b))
    const sent = Array.from({ length: 100 }, (_, i) => ping(`u${i}`))
    for (const m of sent) await w.write(m)
    await w.close()
    expect(await received).toEqual(sent)
  })

  it('carries an 8 MiB BLOB byte-exact', async () => {
    const [a, b] = connectionPair()
    const w = binaryWriter(a)
    const received = drain(binaryReader(b))
    const m = blob(8 * 1024 * 1024)
    await w.write(m)
    await w.close()
    const [got] = (await received) as SetBlobVector[]
    expect(Buffer.from(got?.members[0]?.data ?? []).equals(m.members[0]?.data ?? new Uint8Array())).toBe(true)
  })

  it('applies backpressure: send() turns false while the reader is stalled', async () => {
    const [a, b] = connectionPair({ highWaterMark: 1024 })
    const w = binaryWriter(a)
    let sent = 0
    while (w.send(blob(300))) sent++
    expect(sent).toBeLessThan(4)
    const reader = binaryReader(b)[Symbol.asyncIterator]()
    const pending = w.drained()
    for (let i = 0; i <= sent; i++) await reader.next()
    await pending
    a.destroy()
  })

  it('fails write() with ERR_INDI_SLOW_PEER when the peer never reads', async () => {
    const [a] = connectionPair({ highWaterMark: 64 })
    const w = binaryWriter(a, { drainTimeoutMs: 20 })
    await expect(w.write(blob(1000))).rejects.toMatchObject({ code: 'ERR_INDI_SLOW_PEER' })
    a.destroy()
  })

  it('rejects write() with the abort reason', async () => {
    const [a] = connectionPair({ highWaterMark: 64 })
    const w = binaryWriter(a)
    const controller = new AbortController()
    const reason = new Error('stop')
    const p = w.write(blob(1000), { signal: controller.signal })
    controller.abort(reason)
    await expect(p).rejects.toBe(reason)
    a.destroy()
  })

  it('rejects write() at once when the signal is already aborted', async () => {
    const [a] = connectionPair()
    const w = binaryWriter(a)
    const reason = new Error('already')
    await expect(w.write(ping('x'), { signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
    a.destroy()
  })

  it('leaves no abort listener behind after 10 000 writes', async () => {
    // A 16-byte high-water mark makes every write wait in drained().
    const [a, b] = connectionPair({ highWaterMark: 16 })
    const w = binaryWriter(a)
    const received = drain(binaryReader(b))
    const controller = new AbortController()
    let listeners = 0
    const add = controller.signal.addEventListener.bind(controller.signal)
    const remove = controller.signal.removeEventListener.bind(controller.signal)
    controller.signal.addEventListener = ((...args: Parameters<typeof add>) => {
      listeners++
      add(...args)
    }) as typeof add
    controller.signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
      listeners--
      remove(...args)
    }) as typeof remove
    for (let i = 0; i < 10_000; i++) await w.write(ping(String(i)), { signal: controller.signal })
    await w.close()
    expect((await received).length).toBe(10_000)
    expect(listeners).toBe(0)
  })

  it('destroys the link and throws when the peer speaks XML', async () => {
    const [a, b] = connectionPair()
    a.send(new TextEncoder().encode("<getProperties version='1.7'/>"))
    await expect(drain(binaryReader(b))).rejects.toMatchObject({ code: 'ERR_INDI_BINARY_HANDSHAKE' })
    expect(IndiError.is(await b.closed, 'ERR_INDI_BINARY_HANDSHAKE')).toBe(true)
    expect(await a.closed).toBeInstanceOf(Error)
  })

  it('closes the link when a frame is corrupt', async () => {
    const [a, b] = connectionPair()
    const frame = Uint8Array.from(encodeFrame(ping('abc')))
    frame[5] = 99 // tag code
    a.send(LINK_PREAMBLE)
    a.send(frame)
    await expect(drain(binaryReader(b))).rejects.toMatchObject({ code: 'ERR_INDI_BINARY_MALFORMED' })
    expect(IndiError.is(await b.closed, 'ERR_INDI_BINARY_MALFORMED')).toBe(true)
  })

  it('throws ERR_INDI_BINARY_MALFORMED when the link ends inside a frame', async () => {
    const [a, b] = connectionPair()
    const frame = encodeFrame(ping('abc'))
    a.send(LINK_PREAMBLE)
    a.send(frame.subarray(0, 6))
    const reading = drain(binaryReader(b))
    await a.close()
    await expect(reading).rejects.toMatchObject({ code: 'ERR_INDI_BINARY_MALFORMED' })
  })

  it('rejects reading at once when the signal is already aborted', async () => {
    const [, b] = connectionPair()
    const reason = new Error('already')
    await expect(drain(binaryReader(b, { signal: AbortSignal.abort(reason) }))).rejects.toBe(reason)
    b.destroy()
  })

  it('stops reading with the abort reason', async () => {
    const [a, b] = connectionPair()
    binaryWriter(a)
    const controller = new AbortController()
    const reason = new Error('enough')
    const reading = drain(binaryReader(b, { signal: controller.signal }))
    controller.abort(reason)
    await expect(reading).rejects.toBe(reason)
  })

  it('BinaryMessageStream talks both ways and refuses a second iteration', async () => {
    const [a, b] = connectionPair()
    const left = new BinaryMessageStream(a)
    const right = new BinaryMessageStream(b)
    const fromLeft = drain(right)
    expect(() => right[Symbol.asyncIterator]()).toThrow(expect.objectContaining({ code: 'ERR_INDI_CLOSED' }))
    const fromRight = drain(left)
    await left.write(ping('L'))
    await right.write({ tag: 'pingReply', uid: 'L' })
    await left.close()
    await right.close()
    expect(await fromLeft).toEqual([ping('L')])
    expect(await fromRight).toEqual([{ tag: 'pingReply', uid: 'L' }])
  })

  it('sends the preamble before the first frame', async () => {
    const [a, b] = connectionPair()
    const w = binaryWriter(a)
    w.send(ping('p'))
    const bytes = collect(b)
    await a.close()
    expect(Buffer.concat(await bytes).equals(Buffer.concat([LINK_PREAMBLE, encodeFrame(ping('p'))]))).toBe(
      true,
    )
  })
})
