import { describe, expect, it } from 'vitest'
import { ClientInterest, crackBlob, SnoopTable } from '../src/interest.js'

describe('ClientInterest (indiserver ClInfo rules, §2.5–§2.7)', () => {
  it('a bare getProperties first makes the client all-devices', () => {
    const c = new ClientInterest()
    c.note('getProperties', '', '')
    expect(c.allprops).toBe(1)
    expect(c.wants('Anything', 'X')).toBe(true)
  })

  it('device="*" first marks a chained upstream server', () => {
    const c = new ClientInterest()
    c.note('getProperties', '*', '')
    expect(c.allprops).toBe(2)
    expect(c.wants('Any', 'X')).toBe(true)
  })

  it('a device-specific message first means never all-devices', () => {
    const c = new ClientInterest()
    c.note('enableBLOB', 'CCD', '')
    c.note('getProperties', '', '')
    expect(c.allprops).toBe(0)
    expect(c.wants('Telescope', 'X')).toBe(false)
    expect(c.wants('CCD', 'X')).toBe(true)
  })

  it('a (device, name) entry wants only that property, and not nameless device messages', () => {
    const c = new ClientInterest()
    c.note('getProperties', 'Tele', 'COORD')
    expect(c.wants('Tele', 'COORD')).toBe(true)
    expect(c.wants('Tele', 'OTHER')).toBe(false)
    expect(c.wants('Tele', '')).toBe(false)
  })

  it('global messages (no device) are wanted by everyone', () => {
    expect(new ClientInterest().wants('', '')).toBe(true)
  })

  it('BLOBs default to Never', () => {
    const c = new ClientInterest()
    c.note('getProperties', '', '')
    expect(c.accepts(true, 'CCD', 'CCD1')).toBe(false)
    expect(c.accepts(false, 'CCD', 'CCD1')).toBe(true)
  })

  it('enableBLOB without a name sets the client-wide policy regardless of device', () => {
    const c = new ClientInterest()
    c.note('getProperties', '', '')
    c.note('enableBLOB', 'CCD', '')
    c.enableBlob('CCD', '', 'Also')
    expect(c.blob).toBe('Also')
    // The entry for CCD got the policy too, and other devices fall back to the client-wide one.
    expect(c.accepts(true, 'Other', 'IMG')).toBe(true)
  })

  it('client-wide Only suppresses every non-BLOB message', () => {
    const c = new ClientInterest()
    c.note('getProperties', '', '')
    c.enableBlob('CCD', '', 'Only')
    expect(c.accepts(false, 'CCD', 'X')).toBe(false)
    expect(c.accepts(true, 'CCD', 'CCD1')).toBe(true)
  })

  it('a per-property policy applies to that property only; others use the client-wide one', () => {
    const c = new ClientInterest()
    c.note('getProperties', '', '')
    c.note('enableBLOB', 'CCD', 'CCD1')
    c.enableBlob('CCD', 'CCD1', 'Also')
    expect(c.accepts(true, 'CCD', 'CCD1')).toBe(true)
    expect(c.accepts(true, 'CCD', 'CCD2')).toBe(false)
  })

  it('a per-property Only does not suppress other traffic', () => {
    const c = new ClientInterest()
    c.note('getProperties', '', '')
    c.note('enableBLOB', 'CCD', 'CCD1')
    c.enableBlob('CCD', 'CCD1', 'Only')
    expect(c.accepts(false, 'CCD', 'CONNECTION')).toBe(true)
    expect(c.accepts(true, 'CCD', 'CCD1')).toBe(true)
  })

  it('crackBlob ignores anything but the three exact words', () => {
    expect(crackBlob('Always', 'Never')).toBe('Never')
    expect(crackBlob('Only', 'Never')).toBe('Only')
  })
})

describe('SnoopTable', () => {
  it('matches a device-wide record for any property, Never for BLOBs by default', () => {
    const t = new SnoopTable()
    expect(t.add('Tele', '')).toBe(true)
    expect(t.add('Tele', 'COORD')).toBe(false)
    expect(t.accepts(false, 'Tele', 'COORD')).toBe(true)
    expect(t.accepts(true, 'Tele', 'COORD')).toBe(false)
    expect(t.accepts(false, 'Other', 'COORD')).toBe(false)
  })

  it('Only passes BLOBs and nothing else', () => {
    const t = new SnoopTable()
    t.add('CCD', 'CCD1')
    t.find('CCD', 'CCD1')!.blob = 'Only'
    expect(t.accepts(true, 'CCD', 'CCD1')).toBe(true)
    expect(t.accepts(false, 'CCD', 'CCD1')).toBe(false)
  })
})
