import { createHash } from 'node:crypto'
import { connect } from 'node:net'
import { IndiError, type IndiMessage, type SetBlobVector } from '@indi-ts/indi-xml'
import { connectTcp, listenTcp, type TcpListener } from '@indi-ts/transport-tcp'
import { afterEach, describe, expect, it } from 'vitest'
import { BinaryMessageStream } from '../src/index.js'

// Ports 18130–18139 of this package's range.
let nextPort = 18130
const listeners: TcpListener[] = []
afterEach(async () => {
  await Promise.all(listeners.splice(0).map((l) => l.close()))
})

async function listen(): Promise<TcpListener> {
  const l = await listenTcp({ host: '127.0.0.1', port: nextPort++ })
  listeners.push(l)
  return l
}

async function accept(l: TcpListener): Promise<BinaryMessageStream> {
  for await (const c of l) return new BinaryMessageStream(c)
  throw new Error('listener closed')
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

describe('binary link over TCP', () => {
  it('carries an 8 MiB BLOB between pings, byte-exact, in order', async () => {
    const l = await listen()
    const accepted = accept(l)
    const client = new BinaryMessageStream(await connectTcp({ host: '127.0.0.1', port: l.address.port }))
    const server = await accepted
    const data = Buffer.alloc(8 * 1024 * 1024)
    for (let i = 0; i < data.length; i += 997) data[i] = i & 0xff
    const blob: SetBlobVector = {
      tag: 'setBLOBVector',
      device: 'CCD Simulator',
      name: 'CCD1',
      state: 'Ok',
      members: [{ name: 'CCD1', size: data.length, format: '.fits', data }],
    }
    const got: IndiMessage[] = []
    const reading = (async () => {
      for await (const m of server) got.push(m)
    })()
    await client.write({ tag: 'pingRequest', uid: 'before' })
    await client.write(blob)
    await client.write({ tag: 'pingRequest', uid: 'after' })
    await client.close()
    await reading
    expect(got.map((m) => m.tag)).toEqual(['pingRequest', 'setBLOBVector', 'pingRequest'])
    expect(sha((got[1] as SetBlobVector).members[0]?.data ?? new Uint8Array())).toBe(sha(data))
    server.destroy()
  })

  it('refuses a client that speaks XML and closes its socket', async () => {
    const l = await listen()
    const accepted = accept(l)
    const socket = connect({ host: '127.0.0.1', port: l.address.port })
    const socketClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
    socket.on('error', () => {})
    socket.write("<getProperties version='1.7'/>\n")
    const server = await accepted
    let error: unknown
    try {
      for await (const _ of server) {
        // nothing arrives
      }
    } catch (e) {
      error = e
    }
    expect(IndiError.is(error, 'ERR_INDI_BINARY_HANDSHAKE')).toBe(true)
    expect(String((error as Error).message)).toMatch(/speaks INDI XML/)
    await socketClosed
  })
})
