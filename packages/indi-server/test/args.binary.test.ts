import { describe, expect, it } from 'vitest'
import { parseArgs, USAGE } from '../src/index.js'

describe('--binary, --xml, --accept-binary, --record', () => {
  it('marks the drivers after --binary as binary, until --xml', () => {
    const o = parseArgs(['indi_simulator_ccd', '--binary', './ts-camera', '@host2:7625', '--xml', 'x'])
    expect(o.drivers).toEqual([
      { kind: 'exec', command: 'indi_simulator_ccd' },
      { kind: 'exec', command: './ts-camera', binary: true },
      { kind: 'remote', host: 'host2', port: 7625, binary: true },
      { kind: 'exec', command: 'x' },
    ])
  })

  it('reads --accept-binary and --record FILE', () => {
    const o = parseArgs(['--accept-binary', '--record', 'night.indirec', 'drv'])
    expect(o.acceptBinary).toBe(true)
    expect(o.record).toBe('night.indirec')
    expect(parseArgs(['drv']).acceptBinary).toBe(false)
  })

  it('refuses --record without a file', () => {
    expect(() => parseArgs(['--record'])).toThrow(expect.objectContaining({ code: 'ERR_INDI_USAGE' }))
  })

  it('documents the flags in --help', () => {
    for (const flag of ['--binary', '--accept-binary', '--record']) expect(USAGE).toContain(flag)
  })
})
