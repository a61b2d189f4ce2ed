import { IndiError, type IndiMessage, type SetBlobVector } from '@indi-ts/indi-xml'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BinaryFormatError, decodeMessage, encodeMessage, TAG_CODES } from '../src/index.js'
import { anyText, messageArb } from './arbitraries.js'

describe('encodeMessage / decodeMessage', () => {
  it('round-trips every message kind with any Unicode text', () => {
    fc.assert(
      fc.property(messageArb(anyText), (m) => {
        expect(decodeMessage(encodeMessage(m))).toEqual(m)
      }),
      { numRuns: 2000 },
    )
  })

  it('keeps a leading byte-order mark in text', () => {
    const m: IndiMessage = { tag: 'message', device: 'd', message: '\uFEFFhello' }
    expect(decodeMessage(encodeMessage(m))).toEqual(m)
  })

  it('covers all 20 INDI tags with stable codes', () => {
    expect(TAG_CODES).toHaveLength(20)
    expect(TAG_CODES[0]).toBe('getProperties')
    expect(TAG_CODES[13]).toBe('setBLOBVector')
    expect(TAG_CODES[19]).toBe('delProperty')
  })

  it('reads absent optional attributes as undefined, with one key set per tag', () => {
    const bare: IndiMessage = {
      tag: 'setNumberVector',
      device: 'Mount',
      name: 'EQ',
      members: [{ name: 'RA', value: '1' }],
    }
    const full: IndiMessage = {
      ...bare,
      state: 'Ok',
      timestamp: '2026-11-24T01:09:21',
      message: 'm',
      timeout: '5',
      members: [{ name: 'RA', value: '1', min: '0', max: '24', step: '1' }],
    }
    const a = decodeMessage(encodeMessage(bare)) as typeof bare
    const b = decodeMessage(encodeMessage(full)) as typeof full
    expect(a.timestamp).toBeUndefined()
    expect(a.state).toBeUndefined()
    expect(Object.keys(a)).toEqual(Object.keys(b))
    expect(Object.keys(a.members[0] ?? {})).toEqual(Object.keys(b.members[0] ?? {}))
  })

  it('carries BLOB payloads as raw bytes, not base64', () => {
    const data = new Uint8Array(100_000).map((_, i) => (i * 7) & 0xff)
    const m: SetBlobVector = {
      tag: 'setBLOBVector',
      device: 'CCD',
      name: 'CCD1',
      state: 'Ok',
      members: [{ name: 'CCD1', size: data.length, format: '.fits', data }],
    }
    const bytes = encodeMessage(m)
    expect(bytes.length).toBeLessThan(data.length + 64)
    const back = decodeMessage(bytes) as SetBlobVector
    expect(Buffer.from(back.members[0]?.data ?? []).equals(data)).toBe(true)
  })

  it('encodes a typical setNumberVector in under 70 bytes (its XML takes about 230)', () => {
    const m: IndiMessage = {
      tag: 'setNumberVector',
      device: 'Telescope Simulator',
      name: 'EQUATORIAL_EOD_COORD',
      state: 'Busy',
      members: [
        { name: 'RA', value: '10.5' },
        { name: 'DEC', value: '45' },
      ],
    }
    expect(encodeMessage(m).length).toBeLessThan(70)
  })

  it('is plain msgpack: tag code first in an array', () => {
    const bytes = encodeMessage({ tag: 'pingRequest', uid: 'SetBLOB/1' })
    expect([...bytes.subarray(0, 3)]).toEqual([0x92, 2, 0xa9])
    expect(Buffer.from(bytes.subarray(3)).toString()).toBe('SetBLOB/1')
  })

  it('rejects an invalid enum value with ERR_INDI_INVALID_VALUE', () => {
    const m = { tag: 'setSwitchVector', device: 'd', name: 'n', members: [{ name: 'x', value: 'on' }] }
    expect(() => encodeMessage(m as unknown as IndiMessage)).toThrow(
      expect.objectContaining({ code: 'ERR_INDI_INVALID_VALUE' }),
    )
  })

  it('rejects an unknown tag with ERR_INDI_INVALID_VALUE', () => {
    expect(() => encodeMessage({ tag: 'bogus' } as unknown as IndiMessage)).toThrow(
      expect.objectContaining({ code: 'ERR_INDI_INVALID_VALUE' }),
    )
  })
})

describe('decodeMessage on bad input', () => {
  const malformed = (bytes: Uint8Array): BinaryFormatError => {
    try {
      decodeMessage(bytes)
    } catch (error) {
      expect(IndiError.is(error, 'ERR_INDI_BINARY_MALFORMED')).toBe(true)
      return error as BinaryFormatError
    }
    throw new Error('decodeMessage accepted bad input')
  }

  it('rejects an empty buffer', () => {
    malformed(new Uint8Array(0))
  })

  it('rejects an unknown tag code and says where', () => {
    const e = malformed(Uint8Array.of(0x92, 20, 0xa1, 0x78))
    expect(e.path).toBe('[0]')
    expect(e.message).toMatch(/tag code 20/)
  })

  it('rejects an out-of-range state code', () => {
    const good = encodeMessage({ tag: 'setLightVector', device: 'd', name: 'n', state: 'Ok', members: [] })
    const bad = Uint8Array.from(good)
    bad[bad.length - 2] = 9 // the state code precedes the (empty) member array
    expect(malformed(bad).message).toMatch(/state code 9/)
  })

  it('rejects trailing bytes after the message', () => {
    const good = encodeMessage({ tag: 'pingReply', uid: 'x' })
    malformed(Uint8Array.from([...good, 0xc0]))
  })

  it('decodes invalid UTF-8 leniently, as msgpackr does, into a string', () => {
    // Our encoder never writes invalid UTF-8; another encoder's bad bytes must not kill the link.
    const m = decodeMessage(Uint8Array.of(0x92, 2, 0xa2, 0xc3, 0x28))
    expect(m.tag).toBe('pingRequest')
    expect(typeof (m as { uid: unknown }).uid).toBe('string')
  })

  it('rejects a message array with an item too many', () => {
    // [pingReply, 'x', nil]
    expect(malformed(Uint8Array.of(0x93, 3, 0xa1, 0x78, 0xc0)).message).toMatch(/pingReply has 3 items/)
  })

  it('rejects a msgpack map where a message array belongs', () => {
    expect(malformed(Uint8Array.of(0x81, 0xa1, 0x61, 0x01)).message).toMatch(/expected an array/)
  })

  it('rejects msgpackr extensions (records, typed arrays) where the schema has none', () => {
    // fixext1 type 0 (msgpackr's undefined) as a device name.
    malformed(Uint8Array.of(0x92, 2, 0xd4, 0x00, 0x00))
  })

  it('rejects a hostile array count without allocating it', () => {
    malformed(Uint8Array.of(0x95, 17, 0xa1, 0x64, 0xa1, 0x6e, 0xc0, 0xdd, 0xff, 0xff, 0xff, 0xff))
  })

  it('rejects every truncation of a valid message', () => {
    const good = encodeMessage({
      tag: 'defNumberVector',
      device: 'Mount',
      name: 'EQ',
      state: 'Idle',
      perm: 'rw',
      members: [{ name: 'RA', format: '%010.6m', min: '0', max: '24', step: '0', value: '1' }],
    })
    for (let n = 0; n < good.length; n++) malformed(good.subarray(0, n))
  })

  it('never throws anything but BinaryFormatError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodeMessage(bytes)
        } catch (error) {
          expect(error).toBeInstanceOf(BinaryFormatError)
        }
      }),
      { numRuns: 5000 },
    )
  })

  it('never throws anything but BinaryFormatError on mutated valid messages', () => {
    fc.assert(
      fc.property(messageArb(anyText), fc.nat(), fc.integer({ min: 0, max: 255 }), (m, pos, byte) => {
        const bytes = Uint8Array.from(encodeMessage(m))
        bytes[pos % bytes.length] = byte
        try {
          decodeMessage(bytes)
        } catch (error) {
          expect(error).toBeInstanceOf(BinaryFormatError)
        }
      }),
      { numRuns: 2000 },
    )
  })
})
