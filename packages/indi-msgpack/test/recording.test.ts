import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { IndiMessage, SetBlobVector } from '@indi-ts/indi-xml'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  encodeRecord,
  RECORDING_MAGIC,
  readRecording,
  readRecordingHeader,
  type SessionRecord,
  SessionRecorder,
} from '../src/index.js'
import { anyText, messageArb } from './arbitraries.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'indi-msgpack-rec-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})
let n = 0
const file = (): string => join(dir, `r${n++}.indirec`)

async function readAll(path: string, options = {}): Promise<SessionRecord[]> {
  const out: SessionRecord[] = []
  for await (const r of readRecording(path, options)) out.push(r)
  return out
}

/** A clock the test advances by hand. */
function clock(): { now: () => number; set: (t: number) => void } {
  let t = 0
  return { now: () => t, set: (v) => (t = v) }
}

const ping = (uid: string): IndiMessage => ({ tag: 'pingRequest', uid })

describe('SessionRecorder and readRecording', () => {
  it('reads back what was recorded: time, direction, peer, message or raw XML', async () => {
    const path = file()
    const c = clock()
    const rec = await SessionRecorder.create(path, { now: c.now })
    const xml = Buffer.from('<weird a="1"/>')
    c.set(5)
    rec.record('in', 'driver:sim', ping('a'))
    c.set(12.5)
    rec.recordRaw('out', 'client:tcp:1', xml)
    await rec.close()
    expect(await readAll(path)).toEqual([
      { t: 5, dir: 'in', peer: 'driver:sim', msg: ping('a') },
      { t: 12.5, dir: 'out', peer: 'client:tcp:1', raw: xml },
    ])
  })

  it('round-trips random messages through a file', async () => {
    const path = file()
    const c = clock()
    const messages = fc.sample(messageArb(anyText), { numRuns: 200, seed: 42 })
    const rec = await SessionRecorder.create(path, { now: c.now })
    messages.forEach((m, i) => {
      c.set(i * 3)
      rec.record(i % 2 ? 'out' : 'in', `peer${i % 3}`, m)
    })
    await rec.close()
    const back = await readAll(path)
    expect(back.map((r) => r.msg)).toEqual(messages)
    expect(back.map((r) => r.t)).toEqual(messages.map((_, i) => i * 3))
  })

  it('stores the start time and meta in the header', async () => {
    const path = file()
    const rec = await SessionRecorder.create(path, { startTime: 1_790_000_000_123, meta: { host: 'obs1' } })
    await rec.close()
    expect(await readRecordingHeader(path)).toEqual({
      version: 1,
      startTime: 1_790_000_000_123,
      meta: { host: 'obs1' },
    })
  })

  it('starts the file with the recording magic', async () => {
    const path = file()
    await (await SessionRecorder.create(path)).close()
    const bytes = await readFile(path)
    expect(bytes.subarray(0, 8).equals(RECORDING_MAGIC)).toBe(true)
  })

  it('tolerates a truncated last record and reports its size', async () => {
    const path = file()
    const rec = await SessionRecorder.create(path)
    rec.record('in', 'd', ping('1'))
    rec.record('in', 'd', ping('2'))
    await rec.close()
    const bytes = await readFile(path)
    await writeFile(path, bytes.subarray(0, bytes.length - 3))
    const truncated = vi.fn()
    const back = await readAll(path, { onTruncated: truncated })
    expect(back.map((r) => r.msg)).toEqual([ping('1')])
    expect(truncated).toHaveBeenCalledTimes(1)
  })

  it('refuses a file that is not a recording with ERR_INDI_RECORDING', async () => {
    const path = file()
    await writeFile(path, "<getProperties version='1.7'/>")
    await expect(readAll(path)).rejects.toMatchObject({ code: 'ERR_INDI_RECORDING' })
  })

  it('refuses a recording cut inside its header', async () => {
    const path = file()
    await writeFile(path, RECORDING_MAGIC)
    await expect(readAll(path)).rejects.toMatchObject({ code: 'ERR_INDI_RECORDING' })
  })

  it('reports a corrupt record in the middle with ERR_INDI_RECORDING', async () => {
    const path = file()
    const rec = await SessionRecorder.create(path)
    rec.record('in', 'd', ping('1'))
    rec.record('in', 'd', ping('2'))
    await rec.close()
    const bytes = Buffer.from(await readFile(path))
    const first = encodeRecord({ t: 0, dir: 'in', peer: 'd', msg: ping('1') })
    // The last record's direction code (after the 4-byte length, array header and t).
    bytes[bytes.length - first.length + 4 + 2] = 7
    await writeFile(path, bytes)
    await expect(readAll(path)).rejects.toMatchObject({ code: 'ERR_INDI_RECORDING' })
  })

  it('drops and counts records beyond maxBufferedBytes instead of growing', async () => {
    const path = file()
    const rec = await SessionRecorder.create(path, { maxBufferedBytes: 100, flushBytes: 1 << 20 })
    const results = Array.from({ length: 20 }, (_, i) => rec.record('in', 'd', ping(`uid-${i}`)))
    expect(results.filter((r) => !r).length).toBe(rec.dropped)
    expect(rec.dropped).toBeGreaterThan(0)
    expect(rec.bufferedBytes).toBeLessThanOrEqual(100)
    await rec.close()
    expect((await readAll(path)).length).toBe(rec.recorded)
  })

  it('takes one record larger than the bound when nothing is buffered', async () => {
    const path = file()
    const rec = await SessionRecorder.create(path, { maxBufferedBytes: 100 })
    const data = new Uint8Array(10_000).fill(7)
    const m: SetBlobVector = {
      tag: 'setBLOBVector',
      device: 'CCD',
      name: 'CCD1',
      members: [{ name: 'CCD1', size: data.length, format: '.fits', data }],
    }
    expect(rec.record('in', 'd', m)).toBe(true)
    await rec.close()
    const [back] = await readAll(path)
    expect(Buffer.from((back?.msg as SetBlobVector | undefined)?.members[0]?.data ?? []).equals(data)).toBe(
      true,
    )
  })

  it('writes early once flushBytes are buffered', async () => {
    const path = file()
    const rec = await SessionRecorder.create(path, { flushBytes: 64, flushIntervalMs: 3_600_000 })
    const before = (await stat(path)).size
    for (let i = 0; i < 10; i++) rec.record('in', 'd', ping(`u${i}`))
    await rec.flush()
    expect((await stat(path)).size).toBeGreaterThan(before)
    expect(rec.bufferedBytes).toBe(0)
    await rec.close()
  })

  it('writes on its interval without any call', async () => {
    const path = file()
    const rec = await SessionRecorder.create(path, { flushIntervalMs: 5 })
    const before = (await stat(path)).size
    rec.record('in', 'd', ping('x'))
    await vi.waitFor(async () => expect((await stat(path)).size).toBeGreaterThan(before), { timeout: 10_000 })
    await rec.close()
  })

  it('refuses records after close', async () => {
    const rec = await SessionRecorder.create(file())
    await rec.close()
    expect(rec.record('in', 'd', ping('late'))).toBe(false)
    expect(rec.dropped).toBe(1)
  })

  it('refuses to overwrite an existing recording unless asked', async () => {
    const path = file()
    await (await SessionRecorder.create(path)).close()
    await expect(SessionRecorder.create(path)).rejects.toMatchObject({ code: 'EEXIST' })
    await (await SessionRecorder.create(path, { overwrite: true })).close()
  })

  it('rejects reading at once when the signal is already aborted', async () => {
    const path = file()
    await (await SessionRecorder.create(path)).close()
    const reason = new Error('already')
    await expect(readAll(path, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
  })

  it('stops reading with the abort reason', async () => {
    const path = file()
    const rec = await SessionRecorder.create(path)
    for (let i = 0; i < 10; i++) rec.record('in', 'd', ping(`${i}`))
    await rec.close()
    const controller = new AbortController()
    const reason = new Error('stop')
    const it = readRecording(path, { signal: controller.signal })
    await it.next()
    controller.abort(reason)
    await expect(it.next()).rejects.toBe(reason)
  })
})
