import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import type { SetBlobVector } from '@indi-ts/indi-xml'
import { connectTcp } from '@indi-ts/transport-tcp'
import { afterEach, describe, expect, it } from 'vitest'
import { inferBlobFormat } from '../src/index.js'
import { makeDriver, RawClient, start, TS, xml } from './harness.js'

const FRAME = Buffer.from('SIMPLE  =                    T / a FITS header, more or less')

const setBlob = (data: Uint8Array, format = '.fits', extra: Partial<SetBlobVector> = {}): SetBlobVector => ({
  tag: 'setBLOBVector',
  device: 'Dev',
  name: 'BLOB',
  timestamp: TS,
  state: 'Ok',
  timeout: '0',
  members: [{ name: 'B1', size: data.length, format, data }],
  ...extra,
})

describe('BLOB sending to a server', () => {
  it('sends setBLOBVector from bytes, then a pingRequest', async () => {
    const { client, driver } = start(makeDriver())
    const v = driver.dev.blob('BLOB')
    expect(await v.set('B1', FRAME).sendSet({ state: 'Ok' })).toBe(true)
    expect(await client.exchange('')).toBe(xml(setBlob(FRAME), { tag: 'pingRequest', uid: 'SetBLOB/1' }))
    client.conn.destroy()
  })

  it('waits for the pingReply before sending the next BLOB', async () => {
    const { client, driver } = start(makeDriver())
    const v = driver.dev.blob('BLOB')
    await v.set('B1', FRAME).sendSet({ state: 'Ok' })
    let second = false
    const p = v
      .set('B1', Buffer.from('second'))
      .sendSet({ state: 'Ok' })
      .then(() => {
        second = true
      })
    const first = await client.exchange('')
    expect(first.split('<setBLOBVector').length - 1).toBe(1)
    expect(second).toBe(false)
    client.send(`<pingReply uid='SetBLOB/1'/>`)
    await p
    expect(await client.exchange('')).toBe(
      xml(setBlob(Buffer.from('second')), { tag: 'pingRequest', uid: 'SetBLOB/2' }),
    )
    client.conn.destroy()
  })

  it('sends no ping with blobPing false', async () => {
    const { client, driver } = start(makeDriver({ blobPing: false }))
    await driver.dev.blob('BLOB').set('B1', FRAME).sendSet({ state: 'Ok' })
    expect(await client.exchange('')).toBe(xml(setBlob(FRAME)))
    client.conn.destroy()
  })

  it('reads a file path, sets size and infers the format from the suffix', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'indi-driver-'))
    try {
      const path = join(dir, 'frame.fits.fz')
      const data = Buffer.alloc(100_000, 7)
      await writeFile(path, data)
      const { client, driver } = start(makeDriver({ blobPing: false }))
      await driver.dev.blob('BLOB').set('B1', path).sendSet({ state: 'Ok' })
      const out = await client.exchange('')
      expect(out).toBe(xml(setBlob(data, '.fits.fz')))
      client.conn.destroy()
    } finally {
      await rm(dir, { recursive: true })
    }
  })

  it('streams a large BLOB in pieces, its base64 on one line without enclen by default', async () => {
    // One line: indi_getprop 1.9.9 counts line breaks as data (200 000 bytes in 72-column lines
    // became a 202 776-byte file). No enclen: indiserver 1.9.9 stops reading a driver whose BLOB
    // carries enclen unless its lines are libindi's 72 columns.
    const { client, driver } = start(makeDriver({ blobPing: false }))
    const big = Buffer.alloc(3 * 1024 * 1024)
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 0xff
    await driver.dev.blob('BLOB').set('B1', big).sendSet({ state: 'Ok' })
    const out = await client.exchange('')
    expect(out.length).toBe(xml(setBlob(big)).length)
    expect(out === xml(setBlob(big))).toBe(true)
    expect(out).toContain(
      `<oneBLOB name="B1" size="${big.length}" format=".fits">\n${big.toString('base64')}\n`,
    )
    client.conn.destroy()
  })

  it("with blobLineLength 72 writes libindi's layout: 72-column lines and enclen", async () => {
    const { client, driver } = start(makeDriver({ blobPing: false, blobLineLength: 72 }))
    const data = Buffer.alloc(1000, 5)
    await driver.dev.blob('BLOB').set('B1', data).sendSet({ state: 'Ok' })
    const out = await client.exchange('')
    expect(out).toContain('<oneBLOB name="B1" size="1000" format=".fits" enclen="1336">\n')
    const lines = out.split('\n').filter((l) => /^[A-Za-z0-9+/=]+$/.test(l))
    expect(lines.map((l) => l.length)).toEqual([...Array(18).fill(72), 40])
    expect(Buffer.from(lines.join(''), 'base64').equals(data)).toBe(true)
    client.conn.destroy()
  })

  it('uses an explicit format and size (pre-compression size for .z)', async () => {
    const { client, driver } = start(makeDriver({ blobPing: false }))
    await driver.dev
      .blob('BLOB')
      .set('B1', { data: FRAME, format: '.fits.z', size: 2880 })
      .sendSet({ state: 'Ok' })
    expect(await client.exchange('')).toBe(
      xml({ ...setBlob(FRAME), members: [{ name: 'B1', size: 2880, format: '.fits.z', data: FRAME }] }),
    )
    client.conn.destroy()
  })

  it('sends a bare setBLOBVector (state only) when no member has a value', async () => {
    const { client, driver } = start(makeDriver())
    await driver.dev.blob('BLOB').sendSet({ state: 'Busy' })
    expect(await client.exchange('')).toBe(xml({ ...setBlob(FRAME), state: 'Busy', members: [] }))
    client.conn.destroy()
  })

  it('reads a stream to its end and sends it', async () => {
    const { client, driver } = start(makeDriver({ blobPing: false }))
    const stream = Readable.from([FRAME.subarray(0, 10), FRAME.subarray(10)])
    await driver.dev.blob('BLOB').set('B1', { stream, format: '.fits' }).sendSet({ state: 'Ok' })
    expect(await client.exchange('')).toBe(xml(setBlob(FRAME)))
    client.conn.destroy()
  })

  it('infers formats from file names', () => {
    expect(inferBlobFormat('/a/b/image.fits')).toBe('.fits')
    expect(inferBlobFormat('image.FITS.fz')).toBe('.FITS.fz')
    expect(inferBlobFormat('my.image.jpg')).toBe('.jpg')
    expect(inferBlobFormat('noext')).toBe('')
  })
})

describe('BLOB policies on a TCP-listening driver', () => {
  const clients: RawClient[] = []
  let close: (() => Promise<void>) | undefined
  afterEach(async () => {
    for (const c of clients.splice(0)) c.conn.destroy()
    await close?.()
    close = undefined
  })

  async function listening() {
    const driver = makeDriver()
    const { address } = await driver.listen({ host: '127.0.0.1', port: 0 })
    close = () => driver.close()
    const connect = async (): Promise<RawClient> => {
      const c = new RawClient(await connectTcp({ host: '127.0.0.1', port: address.port }))
      clients.push(c)
      return c
    }
    /** One BLOB and one number update from the driver. */
    const publish = async (): Promise<void> => {
      await driver.dev.blob('BLOB').set('B1', FRAME).sendSet({ state: 'Ok' })
      await driver.dev.number('NUM').sendSet()
    }
    return { driver, connect, publish }
  }

  const count = (text: string, tag: string): number => text.split(`<${tag}`).length - 1

  it('sends no BLOB to a client that never enabled them (Never is the default)', async () => {
    const { connect, publish } = await listening()
    const c = await connect()
    await c.exchange('')
    await publish()
    const out = await c.exchange('')
    expect(count(out, 'setBLOBVector')).toBe(0)
    expect(count(out, 'setNumberVector')).toBe(1)
    expect(count(out, 'pingRequest')).toBe(0)
  })

  it('sends BLOBs and everything else under Also', async () => {
    const { connect, publish } = await listening()
    const c = await connect()
    await c.exchange(`<enableBLOB device='Dev'>Also</enableBLOB>`)
    await publish()
    expect(await c.exchange('')).toBe(
      xml(setBlob(FRAME), {
        tag: 'setNumberVector',
        device: 'Dev',
        name: 'NUM',
        timestamp: TS,
        state: 'Idle',
        timeout: '5',
        members: [
          { name: 'X', value: '1.5' },
          { name: 'Y', value: '-0.5' },
        ],
      }),
    )
  })

  it("sends only the device's BLOBs under Only", async () => {
    const { connect, publish, driver } = await listening()
    const c = await connect()
    await c.exchange(`<enableBLOB device='Dev'>Only</enableBLOB>`)
    await publish()
    await driver.other.number('POS').sendSet()
    const out = await c.exchange('')
    expect(out.startsWith(xml(setBlob(FRAME)))).toBe(true)
    expect(count(out, 'setNumberVector device="Dev"') + count(out, "setNumberVector device='Dev'")).toBe(0)
    expect(count(out, 'setNumberVector')).toBe(1) // Other Device is not affected by Dev's Only
  })

  it('still sends BLOB definitions under Never', async () => {
    const { connect } = await listening()
    const c = await connect()
    const out = await c.exchange(
      `<enableBLOB device='Dev'>Never</enableBLOB><getProperties version='1.7' device='Dev' name='BLOB'/>`,
    )
    expect(count(out, 'defBLOBVector')).toBe(1)
  })

  it('keeps one policy per client and per vector', async () => {
    const { connect, publish } = await listening()
    const a = await connect()
    const b = await connect()
    await a.exchange(`<enableBLOB device='Dev' name='BLOB'>Also</enableBLOB>`)
    await b.exchange(`<enableBLOB device='Dev' name='OTHER'>Also</enableBLOB>`)
    await publish()
    expect(count(await a.exchange(''), 'setBLOBVector')).toBe(1)
    expect(count(await b.exchange(''), 'setBLOBVector')).toBe(0)
  })

  it('answers getProperties only to the client that asked', async () => {
    const { connect } = await listening()
    const a = await connect()
    const b = await connect()
    await b.exchange('')
    const defs = (text: string) => text.match(/<def\w+Vector /g)?.length ?? 0
    expect(defs(await a.exchange(`<getProperties version='1.7' device='Dev'/>`))).toBe(5)
    expect(defs(await b.exchange(''))).toBe(0)
  })

  it('keeps serving other clients when one disconnects', async () => {
    const { connect, driver } = await listening()
    const a = await connect()
    const b = await connect()
    await a.exchange('')
    a.conn.destroy()
    await a.done
    await driver.dev.number('NUM').sendSet()
    expect(count(await b.exchange(''), 'setNumberVector')).toBe(1)
    expect(driver.running).toBe(true)
  })

  it("emits a typed 'enableBLOB' event for each client's request", async () => {
    const { connect, driver } = await listening()
    const seen: string[] = []
    driver.on('enableBLOB', (e) => {
      seen.push(`${e.device}/${e.name ?? '*'}=${e.policy}`)
    })
    const c = await connect()
    await c.exchange(
      `<enableBLOB device='Dev' name='BLOB'>Only</enableBLOB><enableBLOB device='Dev'>Also</enableBLOB>`,
    )
    expect(seen).toEqual(['Dev/BLOB=Only', 'Dev/*=Also'])
  })
})
