import { connect } from 'node:net'
import type { Connection } from '@indi-ts/transport'
import { connectionPair } from '@indi-ts/transport'
import { afterEach, describe, expect, it } from 'vitest'
import type { IndiServer } from '../src/index.js'
import { once, RawDriver, Reader, readInto, testServer } from './helpers.js'

// Reused BLOB buffers (IndiServerOptions.reuseBlobBuffers): every byte must arrive as sent, however
// late a transport lets go of what it was given.

const SIZE = 1_200_000 // decoded bytes: 1.6 MB of base64, over the pool's 1 MiB threshold
const GP = '<getProperties version="1.7"/>'
const ENABLE = '<enableBLOB device="CCD">Also</enableBLOB>'
const defs = (d: string) =>
  `<defBLOBVector device="${d}" name="IMG" state="Idle" perm="ro"><defBLOB name="F"/></defBLOBVector>`

/** BLOB k's payload: different in every BLOB, so a buffer reused too early shows. */
function payload(k: number): Buffer {
  const b = Buffer.allocUnsafe(SIZE)
  for (let i = 0; i < SIZE; i++) b[i] = (i * 7 + k * 131) & 0xff
  return b
}

/** libindi's layout: 72-column base64 lines with enclen. */
function blobXml(k: number): string {
  const b64 = payload(k).toString('base64')
  const lines = b64.match(/.{1,72}/g)!.join('\n')
  return `<setBLOBVector device="CCD" name="IMG" state="Ok">\n  <oneBLOB name="F" size="${SIZE}" format=".n${k}" enclen="${b64.length}">\n${lines}\n  </oneBLOB>\n</setBLOBVector>\n`
}

/** The BLOBs in `text`, by the number in their format, each checked against its payload. */
function received(text: string): { ks: number[]; intact: boolean } {
  const ks: number[] = []
  let intact = true
  for (const m of text.matchAll(/format="\.n(\d+)"[^>]*>([^<]*)<\/oneBLOB>/g)) {
    const k = Number(m[1])
    ks.push(k)
    if (!Buffer.from(m[2]!, 'base64').equals(payload(k))) intact = false
  }
  return { ks, intact }
}

/** Sends BLOB k as the driver would over a pipe: in 64 KiB reads, so the server assembles it. */
async function sendBlob(driver: RawDriver, k: number): Promise<void> {
  const bytes = Buffer.from(blobXml(k))
  for (let at = 0; at < bytes.length; at += 65536) {
    if (!driver.conn!.send(bytes.subarray(at, at + 65536))) await driver.conn!.drained()
  }
}

/**
 * A client whose transport holds each large chunk it is given for `delayMs` before "writing" it
 * (copying it to the client), then calls `released`, as a socket does once the OS has the bytes.
 * A buffer the server reused before that would reach the client corrupted.
 */
function lateClient(server: IndiServer, label: string, delayMs: number, tellsRelease = true) {
  const [a, b] = connectionPair({ labels: [`server:${label}`, label] })
  const late = Object.create(a) as Connection
  Object.defineProperty(late, 'send', {
    value: (chunk: Uint8Array, released?: () => void) => {
      setTimeout(() => {
        a.send(Buffer.from(chunk))
        if (tellsRelease) released?.()
      }, delayMs)
      return true
    },
  })
  if (!server.addClient(late)) throw new Error('refused')
  const reader = readInto(b)
  b.send(Buffer.from(GP + ENABLE))
  return reader
}

/** A TCP client of the server on `port` that asked for everything, BLOBs included, and saw the definitions. */
async function tcpBlobClient(port: number) {
  const sock = connect(port, '127.0.0.1')
  await once(sock, 'connect')
  const reader = new Reader()
  sock.on('data', (d: Buffer) => reader.push(d))
  sock.write(GP + ENABLE)
  await reader.waitFor('<defBLOBVector')
  return { sock, reader }
}

let server: IndiServer
afterEach(async () => {
  await server?.close()
})

async function setup(options: Parameters<typeof testServer>[0] = {}) {
  server = testServer(options).server
  const driver = new RawDriver(['CCD'], defs)
  const known = once(server, 'device')
  server.addDriver(driver, { name: 'ccd' })
  await known
  return driver
}

describe('reused BLOB buffers', () => {
  it('reuses a BLOB buffer once every client has been sent the BLOB, and every byte arrives', async () => {
    const driver = await setup()
    const c1 = lateClient(server, 'c1', 5)
    const c2 = lateClient(server, 'c2', 20)
    await c1.waitFor('<defBLOBVector')
    await c2.waitFor('<defBLOBVector')
    for (let k = 0; k < 6; k++) {
      await sendBlob(driver, k)
      await c1.waitFor('</setBLOBVector>', k + 1)
      await c2.waitFor('</setBLOBVector>', k + 1)
    }
    for (const c of [c1, c2]) expect(received(c.text)).toEqual({ ks: [0, 1, 2, 3, 4, 5], intact: true })
    const stats = server.blobBufferStats()!
    expect(stats.reused).toBeGreaterThanOrEqual(4)
    expect(stats.allocated).toBeLessThanOrEqual(2)
  })

  it('never hands out a buffer a transport has not let go of (BLOBs back to back, slow writes)', async () => {
    const driver = await setup()
    const c1 = lateClient(server, 'c1', 1)
    const c2 = lateClient(server, 'c2', 60)
    await c2.waitFor('<defBLOBVector')
    for (let k = 0; k < 8; k++) await sendBlob(driver, k)
    await c1.waitFor('</setBLOBVector>', 8)
    await c2.waitFor('</setBLOBVector>', 8)
    for (const c of [c1, c2]) {
      const r = received(c.text)
      expect(r.intact).toBe(true)
      expect(r.ks).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    }
    // c2 held every BLOB for 60 ms: more buffers were needed than for one BLOB at a time.
    expect(server.blobBufferStats()!.allocated).toBeGreaterThan(1)
  })

  it('leaves a buffer to the garbage collector when a transport cannot tell it let go', async () => {
    const driver = await setup()
    const c1 = lateClient(server, 'c1', 1)
    const mute = lateClient(server, 'mute', 1, false)
    await mute.waitFor('<defBLOBVector')
    for (let k = 0; k < 4; k++) {
      await sendBlob(driver, k)
      await c1.waitFor('</setBLOBVector>', k + 1)
      await mute.waitFor('</setBLOBVector>', k + 1)
    }
    for (const c of [c1, mute]) expect(received(c.text)).toEqual({ ks: [0, 1, 2, 3], intact: true })
    expect(server.blobBufferStats()).toMatchObject({ reused: 0, allocated: 4 })
  })

  it('with reuseBlobBuffers: false, allocates as before and reports nothing', async () => {
    const driver = await setup({ reuseBlobBuffers: false })
    const c1 = lateClient(server, 'c1', 1)
    await c1.waitFor('<defBLOBVector')
    await sendBlob(driver, 0)
    await c1.waitFor('</setBLOBVector>')
    expect(received(c1.text)).toEqual({ ks: [0], intact: true })
    expect(server.blobBufferStats()).toBeUndefined()
  })

  it('over TCP: a fast and a paused client; the paused one resumes and what it gets is intact', async () => {
    const driver = await setup({ port: 0, stallTimeoutMs: 50 })
    const { port } = await server.listen()
    const fast = await tcpBlobClient(port)
    const paused = await tcpBlobClient(port)
    paused.sock.pause()
    for (let k = 0; k < 10; k++) {
      await sendBlob(driver, k)
      await fast.reader.waitFor('</setBLOBVector>', k + 1)
    }
    expect(received(fast.reader.text)).toEqual({ ks: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], intact: true })
    paused.sock.resume()
    // Older BLOBs queued for the paused client may have been conflated; the newest always arrives.
    await paused.reader.until(() => received(paused.reader.text).ks.includes(9), 'BLOB 9')
    const r = received(paused.reader.text)
    expect(r.intact).toBe(true)
    expect(r.ks).toEqual([...r.ks].sort((x, y) => x - y))
    expect(server.blobBufferStats()!.reused).toBeGreaterThan(0)
    fast.sock.destroy()
    paused.sock.destroy()
  })

  it('with acceptBinary (each TCP client sniffed first), an XML client still lets buffers be reused', async () => {
    const driver = await setup({ port: 0, acceptBinary: true })
    const { port } = await server.listen()
    const { sock, reader } = await tcpBlobClient(port)
    for (let k = 0; k < 6; k++) {
      await sendBlob(driver, k)
      await reader.waitFor('</setBLOBVector>', k + 1)
    }
    expect(received(reader.text)).toEqual({ ks: [0, 1, 2, 3, 4, 5], intact: true })
    expect(server.blobBufferStats()!.reused).toBeGreaterThan(0)
    sock.destroy()
  })
})
