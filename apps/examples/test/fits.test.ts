import { describe, expect, it } from 'vitest'
import { fitsCard, makeFits } from '../src/fits.js'
import { hasCfitsio, readWithCfitsio } from './cfitsio.js'

const header = (bytes: Uint8Array): string[] => {
  const text = Buffer.from(bytes).toString('latin1')
  const cards: string[] = []
  for (let i = 0; i < text.length; i += 80) {
    const card = text.slice(i, i + 80)
    cards.push(card)
    if (card.startsWith('END     ')) break
  }
  return cards
}

describe('FITS writer', () => {
  const pixels = Uint16Array.from([0, 1, 2, 32767, 32768, 65535])
  const fits = makeFits({
    width: 3,
    height: 2,
    pixels,
    cards: [{ key: 'EXPTIME', value: 2.5, comment: 's' }],
  })

  it('is whole 2880-byte blocks: one header block and one data block here', () => {
    expect(fits.length).toBe(2 * 2880)
  })

  it('starts with the mandatory keywords in order, values in columns 11-30', () => {
    const cards = header(fits)
    expect(cards.slice(0, 5).map((c) => c.slice(0, 30))).toEqual([
      'SIMPLE  =                    T',
      'BITPIX  =                   16',
      'NAXIS   =                    2',
      'NAXIS1  =                    3',
      'NAXIS2  =                    2',
    ])
    expect(cards.at(-1)!.trimEnd()).toBe('END')
    expect(cards.every((c) => c.length === 80)).toBe(true)
  })

  it('pads the header with spaces and the data with zeros', () => {
    const headerEnd = header(fits).length * 80
    expect(fits.subarray(headerEnd, 2880).every((b) => b === 0x20)).toBe(true)
    expect(fits.subarray(2880 + pixels.length * 2).every((b) => b === 0)).toBe(true)
  })

  it('stores unsigned pixels as big-endian int16 with BZERO 32768', () => {
    const view = new DataView(fits.buffer, 2880)
    expect([0, 1, 2, 3, 4, 5].map((i) => view.getInt16(i * 2, false) + 32768)).toEqual([...pixels])
  })

  it('quotes strings (doubling quotes) and rejects bad keywords', () => {
    expect(fitsCard('OBSERVER', "O'Neil")).toBe(`OBSERVER= 'O''Neil '`.padEnd(80))
    expect(() => fitsCard('lower', 1)).toThrow(RangeError)
    expect(() => fitsCard('TOOLONGKEY', 1)).toThrow(RangeError)
  })

  it('rejects a pixel count that does not match the size', () => {
    expect(() => makeFits({ width: 2, height: 2, pixels: new Uint16Array(3) })).toThrow(RangeError)
  })

  it.skipIf(!hasCfitsio)('reads back identically with cfitsio', () => {
    const read = readWithCfitsio(fits, 'EXPTIME')
    expect(read).toMatchObject({ bitpix: 16, naxis: 2, naxes: [3, 2], first: [0, 1, 2, 32767], max: 65535 })
    expect(read.keys).toEqual({ EXPTIME: '2.5' })
  })
})
