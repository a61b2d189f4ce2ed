import { IndiError, type IndiErrorCode } from '@indi-ts/indi-xml'
import { describe, expect, it } from 'vitest'
import {
  BlobVector,
  Device,
  Driver,
  LightVector,
  NumberVector,
  SwitchVector,
  silentLogger,
  TextVector,
} from '../src/index.js'
import { makeDevices } from './harness.js'

const code = (c: IndiErrorCode) => (e: unknown) => IndiError.is(e, c)
const throwsCode = (fn: () => unknown, c: IndiErrorCode): void => {
  let caught: unknown
  try {
    fn()
  } catch (e) {
    caught = e
  }
  expect(caught, `expected ${c}`).toSatisfy(code(c))
}

describe('model', () => {
  it('builds every kind from plain options with every attribute', () => {
    const n = new NumberVector({
      name: 'N',
      label: 'Lbl',
      group: 'Grp',
      perm: 'ro',
      state: 'Busy',
      timeout: 3,
      members: [{ name: 'm', label: 'M', format: '%6.2f', min: 1, max: 2, step: 0.5, value: 1.25 }],
    })
    expect([n.name, n.label, n.group, n.perm, n.state, n.timeout]).toEqual([
      'N',
      'Lbl',
      'Grp',
      'ro',
      'Busy',
      3,
    ])
    const m = n.member('m')
    expect([m.label, m.format, m.min, m.max, m.step, m.value]).toEqual(['M', '%6.2f', 1, 2, 0.5, 1.25])
    const s = new SwitchVector({ name: 'S', rule: 'AtMostOne', members: [{ name: 'a' }] })
    expect([s.rule, s.perm, s.get('a'), s.label]).toEqual(['AtMostOne', 'rw', 'Off', 'S'])
    expect(new LightVector({ name: 'L', members: [{ name: 'l' }] }).get('l')).toBe('Idle')
    expect(new TextVector({ name: 'T', members: [{ name: 't' }] }).get('t')).toBe('')
    expect(new BlobVector({ name: 'B', members: [{ name: 'b', format: '.jpg' }] }).member('b').format).toBe(
      '.jpg',
    )
  })

  it('throws ERR_INDI_DUPLICATE for duplicate member, vector and device names', () => {
    throwsCode(
      () => new TextVector({ name: 'T', members: [{ name: 'a' }, { name: 'a' }] }),
      'ERR_INDI_DUPLICATE',
    )
    const v = () => new TextVector({ name: 'T', members: [{ name: 'a' }] })
    throwsCode(() => new Device({ name: 'D', vectors: [v(), v()] }), 'ERR_INDI_DUPLICATE')
    throwsCode(
      () =>
        new Driver({ devices: [new Device({ name: 'D' }), new Device({ name: 'D' })], logger: silentLogger }),
      'ERR_INDI_DUPLICATE',
    )
  })

  it('throws ERR_INDI_INVALID_NAME for empty, markup, control-character or over-long names', () => {
    for (const bad of ['', 'a<b', 'x&y', "it's", 'tab\there', ' lead', 'x'.repeat(64)]) {
      throwsCode(() => new TextVector({ name: bad, members: [{ name: 'a' }] }), 'ERR_INDI_INVALID_NAME')
    }
    throwsCode(() => new Device({ name: '' }), 'ERR_INDI_INVALID_NAME')
    throwsCode(() => new TextVector({ name: 'T', members: [{ name: 'a"b' }] }), 'ERR_INDI_INVALID_NAME')
    expect(new Device({ name: 'Telescope Simulator' }).name).toBe('Telescope Simulator')
  })

  it('throws ERR_INDI_INVALID_VALUE for bad enums', () => {
    throwsCode(
      () => new TextVector({ name: 'T', state: 'Fine' as never, members: [{ name: 'a' }] }),
      'ERR_INDI_INVALID_VALUE',
    )
    throwsCode(
      () => new TextVector({ name: 'T', perm: 'rx' as never, members: [{ name: 'a' }] }),
      'ERR_INDI_INVALID_VALUE',
    )
    throwsCode(
      () => new SwitchVector({ name: 'S', rule: 'Any' as never, members: [{ name: 'a' }] }),
      'ERR_INDI_INVALID_VALUE',
    )
    throwsCode(
      () => new SwitchVector({ name: 'S', members: [{ name: 'a', value: 'on' as never }] }),
      'ERR_INDI_INVALID_VALUE',
    )
    throwsCode(
      () => new LightVector({ name: 'L', members: [{ name: 'a', value: 'Green' as never }] }),
      'ERR_INDI_INVALID_VALUE',
    )
    const v = new TextVector({ name: 'T', members: [{ name: 'a' }] })
    throwsCode(() => {
      v.state = 'Bad' as never
    }, 'ERR_INDI_INVALID_VALUE')
  })

  it('reads and sets members through the vector; unknown member is ERR_INDI_UNKNOWN_MEMBER', () => {
    const { dev } = makeDevices()
    const num = dev.number('NUM')
    expect(num.get('X')).toBe(1.5)
    num.set('X', 2).set('Y', '-1:30')
    expect(num.get('Y')).toBe(-1.5)
    num.update({ X: 3, Y: 4 })
    expect([num.get('X'), num.get('Y')]).toEqual([3, 4])
    throwsCode(() => num.get('Z'), 'ERR_INDI_UNKNOWN_MEMBER')
    throwsCode(() => num.set('Z', 1), 'ERR_INDI_UNKNOWN_MEMBER')
    throwsCode(() => dev.switch('SW').set('A', 'Yes' as never), 'ERR_INDI_INVALID_VALUE')
    throwsCode(() => num.set('X', 'abc'), 'ERR_INDI_NUMBER')
  })

  it('update checks every name before changing anything', () => {
    const num = makeDevices().dev.number('NUM')
    throwsCode(() => num.update({ X: 9, Z: 1 }), 'ERR_INDI_UNKNOWN_MEMBER')
    expect(num.get('X')).toBe(1.5)
  })

  it('tracks real changes only', () => {
    const num = makeDevices().dev.number('NUM')
    expect(num.changed).toBe(false)
    num.set('X', 1.5)
    expect(num.changed).toBe(false)
    num.set('X', 1.75)
    expect(num.member('X').changed).toBe(true)
    expect(num.member('Y').changed).toBe(false)
  })

  it('formats number members with their display format', () => {
    const num = makeDevices().dev.number('NUM')
    num.update({ X: 3.14259, Y: 1.0341666667 })
    expect(num.member('X').formatted).toBe('  3.14')
    expect(num.formatted('Y')).toBe('  1:02:03')
    expect(num.member('X').numeric).toBe(3.14259)
  })

  it('looks vectors up by name and kind; a wrong kind is ERR_INDI_INVALID_VALUE', () => {
    const { dev } = makeDevices()
    expect(dev.vectors().map((v) => v.name)).toEqual(['TEXT', 'NUM', 'SW', 'LIGHT', 'BLOB'])
    expect([...dev].length).toBe(5)
    expect(dev.get('NOPE')).toBeUndefined()
    throwsCode(() => dev.number('SW'), 'ERR_INDI_INVALID_VALUE')
    throwsCode(() => dev.vector('NOPE'), 'ERR_INDI_UNKNOWN_MEMBER')
  })

  it('carries typed context on driver and device', () => {
    const dev = new Device<{ port: string }>({ name: 'D', context: { port: '/dev/ttyUSB0' } })
    const d = new Driver<{ site: string }>({
      devices: [dev],
      context: { site: 'home' },
      logger: silentLogger,
    })
    expect(d.context.site).toBe('home')
    expect(dev.context.port).toBe('/dev/ttyUSB0')
    expect(d.device('D')).toBe(dev)
  })

  it('disables a vector created with enabled: false until restore()', async () => {
    const v = new TextVector({ name: 'T', enabled: false, members: [{ name: 'a' }] })
    const dev = new Device({ name: 'D', vectors: [v] })
    expect(v.enabled).toBe(false)
    await v.restore()
    expect(v.enabled).toBe(true)
    await dev.delete()
    expect(v.enabled).toBe(false)
    await dev.restore()
    expect(v.enabled).toBe(true)
  })

  it('refuses a vector or device that already belongs elsewhere', () => {
    const v = new TextVector({ name: 'T', members: [{ name: 'a' }] })
    new Device({ name: 'D1', vectors: [v] })
    throwsCode(() => new Device({ name: 'D2', vectors: [v] }), 'ERR_INDI_DUPLICATE')
    const dev = new Device({ name: 'D' })
    new Driver({ devices: [dev], logger: silentLogger })
    throwsCode(() => new Driver({ devices: [dev], logger: silentLogger }), 'ERR_INDI_DUPLICATE')
  })

  it('needs at least one member', () => {
    throwsCode(() => new TextVector({ name: 'T', members: [] }), 'ERR_INDI_INVALID_VALUE')
  })
})
