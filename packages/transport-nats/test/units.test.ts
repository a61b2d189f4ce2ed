import { createHash, randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { headers, type MsgHdrs } from 'nats'
import { describe, expect, it } from 'vitest'
import { mergeDef } from '../src/export.js'
import {
  CHUNK_HEADER,
  type ChunkLoss,
  decodeToken,
  encodeToken,
  globMatcher,
  publishChunked,
  Reassembler,
  Subjects,
} from '../src/index.js'

interface Sent {
  subject: string
  data: Uint8Array
  headers: MsgHdrs | undefined
}
function recorder(): {
  sent: Sent[]
  publish: (s: string, d?: Uint8Array, o?: { headers?: MsgHdrs }) => void
} {
  const sent: Sent[] = []
  return {
    sent,
    publish: (subject, data, o) =>
      void sent.push({ subject, data: data ?? new Uint8Array(), headers: o?.headers }),
  }
}

describe('subject tokens', () => {
  it('round-trips any device name through one token without NATS separators or wildcards', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1 }), (name) => {
        const t = encodeToken(name)
        expect(t).toMatch(/^[A-Za-z0-9_%]+$/)
        expect(decodeToken(t)).toBe(name)
      }),
    )
  })

  it('never encodes a name as the reserved "-" token', () => {
    expect(encodeToken('-')).toBe('%2D')
  })

  it('parses what it builds, device and property names with spaces and dots included', () => {
    const s = new Subjects('obs.indi')
    const subject = s.of('site.1', 'Telescope Simulator', 'EQUATORIAL_EOD_COORD', 'set')
    expect(subject).toBe('obs.indi.site%2E1.Telescope%20Simulator.EQUATORIAL_EOD_COORD.set')
    expect(s.parse(subject)).toEqual({
      site: 'site.1',
      device: 'Telescope Simulator',
      property: 'EQUATORIAL_EOD_COORD',
      kind: 'set',
    })
    expect(s.parse(s.of('A', 'D', undefined, 'del'))?.property).toBeUndefined()
  })
})

describe('globMatcher', () => {
  it('matches shell globs on whole device names', () => {
    const m = globMatcher(['Telescope*', 'CCD ?', '[AB]dome'])
    expect(m('Telescope Simulator')).toBe(true)
    expect(m('My Telescope')).toBe(false)
    expect(m('CCD 1')).toBe(true)
    expect(m('CCD 12')).toBe(false)
    expect(m('Adome')).toBe(true)
    expect(m('Cdome')).toBe(false)
  })

  it('treats regular-expression characters in a pattern literally', () => {
    expect(globMatcher(['a.b(c)'])('a.b(c)')).toBe(true)
    expect(globMatcher(['a.b(c)'])('axb(c)')).toBe(false)
  })

  it('matches nothing without patterns', () => {
    expect(globMatcher([])('anything')).toBe(false)
  })
})

describe('chunked payloads', () => {
  it('publishes a payload under max_payload as one message without headers', () => {
    const r = recorder()
    expect(publishChunked(r, 's', new Uint8Array(100), 1024 * 1024)).toBe(1)
    expect(r.sent[0]!.headers).toBeUndefined()
  })

  it('splits a large payload and reassembles it byte for byte', () => {
    const r = recorder()
    const data = randomBytes(300_000)
    const n = publishChunked(r, 's', data, 64 * 1024)
    expect(n).toBe(r.sent.length)
    expect(n).toBeGreaterThan(4)
    for (const m of r.sent) expect(m.data.byteLength).toBeLessThanOrEqual(64 * 1024)
    const re = new Reassembler()
    const out = r.sent.map((m) => re.push(m))
    expect(out.slice(0, -1).every((x) => x === undefined)).toBe(true)
    expect(Buffer.from(out.at(-1)!).equals(data)).toBe(true)
    expect(re.pending).toBe(0)
  })

  it('drops a payload with a missing chunk and reports the gap', () => {
    const r = recorder()
    publishChunked(r, 's', randomBytes(200_000), 64 * 1024)
    const losses: ChunkLoss[] = []
    const re = new Reassembler(16, 1 << 30, (why) => losses.push(why))
    const out = r.sent.filter((_, i) => i !== 1).map((m) => re.push(m))
    expect(out.every((x) => x === undefined)).toBe(true)
    expect(losses).toEqual(['gap'])
  })

  it('drops a payload whose SHA-256 does not match', () => {
    const data = randomBytes(10_000)
    const sha = createHash('sha256').update(data).digest('hex')
    const losses: ChunkLoss[] = []
    const re = new Reassembler(16, 1 << 30, (why) => losses.push(why))
    const bad = Buffer.from(data)
    bad[5]! ^= 1
    const h = headers()
    h.set(CHUNK_HEADER, `x1;0;1;${data.byteLength};${sha}`)
    expect(re.push({ subject: 's', data: bad, headers: h })).toBeUndefined()
    expect(losses).toEqual(['hash'])
  })

  it('refuses a payload announced above maxBytes before buffering any of it', () => {
    const losses: ChunkLoss[] = []
    const re = new Reassembler(16, 1000, (why) => losses.push(why))
    const h = headers()
    h.set(CHUNK_HEADER, 'x2;0;2;5000;00')
    expect(re.push({ subject: 's', data: new Uint8Array(10), headers: h })).toBeUndefined()
    expect(re.pending).toBe(0)
    expect(losses).toEqual(['size'])
  })
})

describe('mergeDef', () => {
  it('answers getProperties with the latest values, state and number range, not the stale definition', () => {
    const def = Buffer.from(
      '<defNumberVector device="D" name="N" state="Idle" perm="rw" timeout="0"><defNumber name="X" format="%g" min="0" max="10" step="1">1</defNumber></defNumberVector>',
    )
    const set = Buffer.from(
      '<setNumberVector device="D" name="N" state="Ok" message="moved"><oneNumber name="X" max="20">15</oneNumber></setNumberVector>',
    )
    const out = Buffer.from(mergeDef(def, set)).toString()
    expect(out).toMatch(/^<defNumberVector [^>]*state="Ok"/)
    expect(out).toMatch(/max="20"/)
    expect(out).toMatch(/>\s*15\s*</)
    expect(out).not.toContain('moved')
  })

  it('keeps both messages when they do not belong together', () => {
    const def = Buffer.from(
      '<defTextVector device="D" name="T" state="Idle" perm="ro"><defText name="a">x</defText></defTextVector>',
    )
    const set = Buffer.from(
      '<setNumberVector device="D" name="T"><oneNumber name="a">1</oneNumber></setNumberVector>',
    )
    expect(Buffer.from(mergeDef(def, set)).equals(Buffer.concat([def, set]))).toBe(true)
  })
})
