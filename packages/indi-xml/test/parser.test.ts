import { Buffer } from 'node:buffer'
import { describe, expect, it } from 'vitest'
import { IndiError, type IndiMessage, XmlParseError } from '../src/index.js'
import { messages, parse, summary } from './helpers.js'

const one = (xml: string): IndiMessage => {
  const m = messages(xml)
  expect(m).toHaveLength(1)
  return m[0]!
}

describe('IndiParser: every element', () => {
  it('getProperties with version, device and name', () => {
    expect(one(`<getProperties version='1.7' device='Telescope Simulator' name='CONNECTION'/>`)).toEqual({
      tag: 'getProperties',
      version: '1.7',
      device: 'Telescope Simulator',
      name: 'CONNECTION',
    })
  })

  it('enableBLOB with its policy as content', () => {
    expect(one(`<enableBLOB device="CCD Simulator" name="CCD1">\n  Also\n</enableBLOB>`)).toEqual({
      tag: 'enableBLOB',
      device: 'CCD Simulator',
      name: 'CCD1',
      policy: 'Also',
    })
  })

  it('pingRequest and pingReply', () => {
    expect(messages(`<pingRequest uid='SetBLOB/1' /><pingReply uid="x"/>`)).toEqual([
      { tag: 'pingRequest', uid: 'SetBLOB/1' },
      { tag: 'pingReply', uid: 'x' },
    ])
  })

  it('defTextVector', () => {
    expect(
      one(
        `<defTextVector device="D" name="P" label="L" group="G" state="Idle" perm="ro" timeout="0" timestamp="2026-11-24T01:08:49" message="m"><defText name="a" label="A">\n  hello world \n</defText></defTextVector>`,
      ),
    ).toEqual({
      tag: 'defTextVector',
      device: 'D',
      name: 'P',
      label: 'L',
      group: 'G',
      state: 'Idle',
      perm: 'ro',
      timeout: '0',
      timestamp: '2026-11-24T01:08:49',
      message: 'm',
      members: [{ name: 'a', label: 'A', value: 'hello world' }],
    })
  })

  it('defNumberVector keeps numbers as wire text', () => {
    const m = one(
      `<defNumberVector device="D" name="EQ" state="Ok" perm="rw"><defNumber name="RA" format="%010.6m" min="0" max="24" step="0">\n23.350056755566775735\n</defNumber></defNumberVector>`,
    )
    expect(m).toMatchObject({
      tag: 'defNumberVector',
      members: [
        { name: 'RA', format: '%010.6m', min: '0', max: '24', step: '0', value: '23.350056755566775735' },
      ],
    })
  })

  it('defSwitchVector in the libindi driver layout of §1.8 (prologue, single quotes)', () => {
    const xml = `<?xml version='1.0'?>
<defSwitchVector
  device='Filter Simulator'
  name='CONNECTION'
  label='Connection'
  group='Main Control'
  state='Idle'
  perm='rw'
  rule='OneOfMany'
  timeout='60'
  timestamp='2026-11-24T01:28:21'
>
  <defSwitch
    name='CONNECT'
    label='Connect'>
      Off
  </defSwitch>
  <defSwitch
    name='DISCONNECT'
    label='Disconnect'>
      On
  </defSwitch>
</defSwitchVector>
`
    expect(one(xml)).toEqual({
      tag: 'defSwitchVector',
      device: 'Filter Simulator',
      name: 'CONNECTION',
      label: 'Connection',
      group: 'Main Control',
      state: 'Idle',
      perm: 'rw',
      rule: 'OneOfMany',
      timeout: '60',
      timestamp: '2026-11-24T01:28:21',
      message: undefined,
      members: [
        { name: 'CONNECT', label: 'Connect', value: 'Off' },
        { name: 'DISCONNECT', label: 'Disconnect', value: 'On' },
      ],
    })
  })

  it("defSwitchVector in indiserver's re-serialised layout of §1.8 (double quotes, content on its own line)", () => {
    const xml = `<defSwitchVector device="Telescope Simulator" name="CONNECTION" label="Connection" group="Main Control" state="Idle" perm="rw" rule="OneOfMany" timeout="60" timestamp="2026-11-24T01:08:49">
    <defSwitch name="CONNECT" label="Connect">
Off
    </defSwitch>
</defSwitchVector>
`
    expect(one(xml)).toMatchObject({
      device: 'Telescope Simulator',
      members: [{ name: 'CONNECT', value: 'Off' }],
    })
  })

  it('defLightVector (no perm)', () => {
    expect(
      one(
        `<defLightVector device="D" name="L" state="Alert"><defLight name="x">Busy</defLight></defLightVector>`,
      ),
    ).toMatchObject({
      tag: 'defLightVector',
      state: 'Alert',
      members: [{ name: 'x', value: 'Busy' }],
    })
  })

  it('defBLOBVector with empty members', () => {
    expect(
      one(
        `<defBLOBVector device="D" name="B" state="Idle" perm="ro"><defBLOB name="CCD1" label="Image"/></defBLOBVector>`,
      ),
    ).toMatchObject({
      tag: 'defBLOBVector',
      members: [{ name: 'CCD1', label: 'Image' }],
    })
  })

  it('setTextVector, setSwitchVector, setLightVector without state', () => {
    expect(
      messages(
        `<setTextVector device="D" name="T"><oneText name="a">x</oneText></setTextVector><setSwitchVector device="D" name="S" state="Ok"><oneSwitch name="a">On</oneSwitch></setSwitchVector><setLightVector device="D" name="L"><oneLight name="a">Ok</oneLight></setLightVector>`,
      ).map((m) => ({
        tag: m.tag,
        state: 'state' in m ? m.state : undefined,
        members: 'members' in m ? m.members : [],
      })),
    ).toEqual([
      { tag: 'setTextVector', state: undefined, members: [{ name: 'a', value: 'x' }] },
      { tag: 'setSwitchVector', state: 'Ok', members: [{ name: 'a', value: 'On' }] },
      { tag: 'setLightVector', state: undefined, members: [{ name: 'a', value: 'Ok' }] },
    ])
  })

  it('setNumberVector with the libindi min/max/step extension on oneNumber', () => {
    expect(
      one(
        `<setNumberVector device="D" name="N" state="Busy" timeout="60"><oneNumber name="x" min="-1" max="1" step="0.5">0.25</oneNumber></setNumberVector>`,
      ),
    ).toMatchObject({ members: [{ name: 'x', value: '0.25', min: '-1', max: '1', step: '0.5' }] })
  })

  it('new*Vector for text, number, switch', () => {
    expect(
      messages(
        `<newTextVector device="D" name="T" timestamp="2026-01-01T00:00:00"><oneText name="a">x</oneText></newTextVector><newNumberVector device="D" name="EQ"><oneNumber name="RA">10:30:00</oneNumber></newNumberVector><newSwitchVector device="D" name="C"><oneSwitch name="CONNECT">On</oneSwitch></newSwitchVector>`,
      ).map((m) => m.tag),
    ).toEqual(['newTextVector', 'newNumberVector', 'newSwitchVector'])
  })

  it('setBLOBVector: base64 with 72-column lines decoded to data, size/format/enclen parsed', () => {
    const data = Buffer.from(Array.from({ length: 200 }, (_, i) => i))
    const b64 = data.toString('base64').replace(/.{72}/g, '$&\n')
    const m = one(
      `<setBLOBVector device="CCD Simulator" name="CCD1" state="Ok"><oneBLOB name="CCD1" size="200" format=".fits" enclen="${data.toString('base64').length}">\n${b64}\n</oneBLOB></setBLOBVector>`,
    )
    if (m.tag !== 'setBLOBVector') throw new Error('wrong tag')
    const b = m.members[0]!
    expect([b.size, b.format, b.enclen, b.len]).toEqual([200, '.fits', 268, undefined])
    expect(Buffer.from(b.data).equals(data)).toBe(true)
  })

  it('newBLOBVector: base64 on one line, len attribute, size 0 with no data', () => {
    const m = one(
      `<newBLOBVector device="D" name="B"><oneBLOB name="a" size="3" format=".z" len="3">AAEC</oneBLOB><oneBLOB name="b" size="0" format=".fits"></oneBLOB></newBLOBVector>`,
    )
    if (m.tag !== 'newBLOBVector') throw new Error('wrong tag')
    expect(Buffer.from(m.members[0]!.data).equals(Buffer.from([0, 1, 2]))).toBe(true)
    expect(m.members[0]!.len).toBe(3)
    expect(m.members[1]!.data.length).toBe(0)
  })

  it('message and delProperty', () => {
    expect(
      messages(
        `<message device="D" timestamp="t" message="[INFO] hi"/><delProperty device="D"/><message message="global"/>`,
      ),
    ).toEqual([
      { tag: 'message', device: 'D', timestamp: 't', message: '[INFO] hi' },
      { tag: 'delProperty', device: 'D', name: undefined, timestamp: undefined, message: undefined },
      { tag: 'message', device: undefined, timestamp: undefined, message: 'global' },
    ])
  })
})

describe('IndiParser: XML details', () => {
  it('decodes the five named entities and numeric character references', () => {
    expect(one(`<message message="&amp;&lt;&gt;&quot;&apos; &#38;&#x26;&#176;"/>`)).toMatchObject({
      message: `&<>"' &&°`,
    })
  })

  it('skips <?xml?>, comments and <!…> between elements, and comments inside', () => {
    expect(
      messages(
        `<?xml version='1.0'?><!-- hi --><!DOCTYPE x>\n<pingRequest uid="a"/><?xml version="1.0"?><setTextVector device="D" name="T"><!-- c --><oneText name="a">x<!-- y -->z</oneText></setTextVector>`,
      ),
    ).toMatchObject([{ uid: 'a' }, { members: [{ value: 'xz' }] }])
  })

  it('accepts either quote style, each containing the other', () => {
    expect(one(`<message device='it"s' message="it's"/>`)).toMatchObject({ device: 'it"s', message: "it's" })
  })

  it('trims member text as lilxml does, keeping inner whitespace', () => {
    expect(
      one(
        `<setTextVector device="D" name="T"><oneText name="a">\n\t  two  words \r\n</oneText></setTextVector>`,
      ),
    ).toMatchObject({
      members: [{ value: 'two  words' }],
    })
  })

  it('decodes UTF-8 split across chunks inside a multi-byte character', () => {
    const xml = Buffer.from(`<message message="20 °C ✓ 😀"/>`)
    for (let cut = 1; cut < xml.length; cut++) {
      const ev = parse(xml, undefined, [cut])
      expect(ev).toMatchObject([{ kind: 'message', message: { message: '20 °C ✓ 😀' } }])
    }
  })

  it('replaces invalid UTF-8 with U+FFFD, never dropping it silently', () => {
    const xml = Buffer.concat([
      Buffer.from('<message message="a'),
      Buffer.from([0xff, 0xc3]),
      Buffer.from('b"/>'),
    ])
    expect(one(xml as unknown as string)).toMatchObject({ message: 'a\uFFFD\uFFFDb' })
  })

  it('parses many elements in one chunk, and one element fed byte by byte', () => {
    const xml = '<pingRequest uid="1"/><pingRequest uid="2"/>\n<pingRequest uid="3"/>'
    expect(messages(xml)).toHaveLength(3)
    const ev = parse(xml, undefined, Array(xml.length).fill(1))
    expect(summary(ev)).toEqual(['message:pingRequest', 'message:pingRequest', 'message:pingRequest'])
  })

  it('reads a switch whose content starts with On as On (libindi rule)', () => {
    expect(
      one(`<newSwitchVector device="D" name="S"><oneSwitch name="a">Onward</oneSwitch></newSwitchVector>`),
    ).toMatchObject({
      members: [{ value: 'On' }],
    })
  })

  it('reports unknown top-level elements as unknown events with their bytes', () => {
    const ev = parse(`<switchProtocol version='2.0'/><foo a="1"><bar/></foo><pingReply uid="x"/>`)
    expect(summary(ev)).toEqual(['unknown:switchProtocol', 'unknown:foo', 'message:pingReply'])
    const u = ev[1]!
    expect(u.kind === 'unknown' && Buffer.from(u.bytes).toString()).toBe('<foo a="1"><bar/></foo>')
  })
})

describe('IndiParser: bad input gives a typed error, then the next element still arrives', () => {
  const next = '<getProperties version="1.7"/>'
  const errorOf = (ev: ReturnType<typeof parse>) => {
    const e = ev.find((x) => x.kind === 'error')
    if (e?.kind !== 'error') throw new Error('no error event')
    return e.error
  }

  it('truncated element followed by a new one', () => {
    const ev = parse(`<setNumberVector device="D" name="N"><oneNumber name="a">1${next}`)
    expect(summary(ev)).toEqual(['error:ERR_INDI_XML_MALFORMED', 'message:getProperties'])
    expect(errorOf(ev).offset).toBe(0)
    expect(errorOf(ev).message).toMatch(/not closed before <getProperties>/)
  })

  it('truncated element at end of stream', () => {
    expect(summary(parse(`${next}<setTextVector device="D" name="T"><oneText`))).toEqual([
      'message:getProperties',
      'error:ERR_INDI_XML_MALFORMED',
    ])
  })

  it('mismatched tags, with the byte offset of the bad end tag', () => {
    const bad = `<setTextVector device="D" name="T"><oneText name="a">x</oneTxt></setTextVector>`
    const ev = parse(`${next}${bad}${next}`)
    expect(summary(ev)).toEqual([
      'message:getProperties',
      'error:ERR_INDI_XML_MALFORMED',
      'message:getProperties',
    ])
    const err = errorOf(ev)
    expect(err).toBeInstanceOf(XmlParseError)
    expect(err.offset).toBe(next.length + bad.indexOf('</oneTxt>'))
    expect(err.message).toMatch(/mismatched end tag: <oneText> closed by <\/oneTxt>/)
    expect(err.excerpt.startsWith('</oneTxt>')).toBe(true)
  })

  it('oversize element: TOO_LARGE, bytes discarded, not buffered', () => {
    const big = `<setTextVector device="D" name="T"><oneText name="a">${'x'.repeat(5000)}</oneText></setTextVector>`
    const ev = parse(`${big}${next}`, { maxElementBytes: 1000 }, Array(60).fill(100))
    expect(summary(ev)).toEqual(['error:ERR_INDI_XML_TOO_LARGE', 'message:getProperties'])
  })

  it('oversize BLOB element is bounded by maxBlobElementBytes, not maxElementBytes', () => {
    const blob = `<setBLOBVector device="D" name="B"><oneBLOB name="a" size="3000" format=".x">${'A'.repeat(4000)}</oneBLOB></setBLOBVector>`
    expect(summary(parse(blob, { maxElementBytes: 1000 }))).toEqual(['message:setBLOBVector'])
    expect(summary(parse(`${blob}${next}`, { maxBlobElementBytes: 1000 }))).toEqual([
      'error:ERR_INDI_XML_TOO_LARGE',
      'message:getProperties',
    ])
  })

  it('binary garbage (one error for the run, no crash)', () => {
    const garbage = Buffer.from(
      Array.from({ length: 3000 }, (_, i) => (i * 7919 + 13) % 256).filter((c) => c !== 60),
    )
    const ev = parse(Buffer.concat([garbage, Buffer.from(next)]))
    expect(summary(ev)).toEqual(['error:ERR_INDI_XML_MALFORMED', 'message:getProperties'])
  })

  it('NUL bytes and control characters inside an element', () => {
    expect(summary(parse(`<message message="a\u0000b"/>${next}`))).toEqual([
      'error:ERR_INDI_XML_MALFORMED',
      'message:getProperties',
    ])
  })

  it('endless attribute: TOO_LARGE, then the next element', () => {
    const ev = parse(
      `<setTextVector device="${'a'.repeat(3000)}${next}`,
      { maxElementBytes: 1000 },
      Array(40).fill(100),
    )
    expect(summary(ev)).toEqual(['error:ERR_INDI_XML_TOO_LARGE', 'message:getProperties'])
  })

  it('unquoted attribute (<bad attr=x/>)', () => {
    expect(summary(parse(`<bad attr=x/>${next}`))).toEqual([
      'error:ERR_INDI_XML_MALFORMED',
      'message:getProperties',
    ])
  })

  it('stray end tag and text outside elements', () => {
    expect(summary(parse(`</oops>${next}hello${next}`))).toEqual([
      'error:ERR_INDI_XML_MALFORMED',
      'message:getProperties',
      'error:ERR_INDI_XML_MALFORMED',
      'message:getProperties',
    ])
  })

  it('undefined entity and bare ampersand', () => {
    expect(summary(parse(`<message message="&foo;"/><message message="a & b"/>${next}`))).toEqual([
      'error:ERR_INDI_XML_MALFORMED',
      'error:ERR_INDI_XML_MALFORMED',
      'message:getProperties',
    ])
  })

  it('too many attributes, too deep', () => {
    const attrs = Array.from({ length: 5 }, (_, i) => ` a${i}="x"`).join('')
    expect(summary(parse(`<message${attrs}/>${next}`, { maxAttributes: 4 }))).toEqual([
      'error:ERR_INDI_XML_TOO_LARGE',
      'message:getProperties',
    ])
    expect(summary(parse(`<foo><a><b><c/></b></a></foo>${next}`, { maxDepth: 3 }))).toEqual([
      'error:ERR_INDI_XML_TOO_LARGE',
      'message:getProperties',
    ])
  })

  it('known element missing a required attribute: INVALID_MESSAGE naming it', () => {
    const ev = parse(`<setNumberVector device="D"><oneNumber name="a">1</oneNumber></setNumberVector>${next}`)
    expect(summary(ev)).toEqual(['error:ERR_INDI_XML_INVALID_MESSAGE', 'message:getProperties'])
    expect(errorOf(ev).message).toMatch(/missing required attribute name/)
  })

  it.each([
    ['bad state', `<setTextVector device="D" name="T" state="Fine"/>`],
    ['bad perm', `<defTextVector device="D" name="T" state="Ok" perm="rx"/>`],
    ['bad rule', `<defSwitchVector device="D" name="S" state="Ok" perm="rw" rule="Many"/>`],
    [
      'bad switch',
      `<newSwitchVector device="D" name="S"><oneSwitch name="a">off</oneSwitch></newSwitchVector>`,
    ],
    ['bad light', `<setLightVector device="D" name="L"><oneLight name="a">Green</oneLight></setLightVector>`],
    ['bad policy', `<enableBLOB device="D">Sometimes</enableBLOB>`],
    [
      'bad size',
      `<setBLOBVector device="D" name="B"><oneBLOB name="a" size="-1" format=".x"/></setBLOBVector>`,
    ],
    [
      'wrong member kind',
      `<setNumberVector device="D" name="N"><oneText name="a">1</oneText></setNumberVector>`,
    ],
  ])('%s: INVALID_MESSAGE', (_what, xml) => {
    expect(summary(parse(`${xml}${next}`))).toEqual([
      'error:ERR_INDI_XML_INVALID_MESSAGE',
      'message:getProperties',
    ])
  })

  it('errors are IndiErrors with stable codes', () => {
    const err = errorOf(parse('<a>'))
    expect(IndiError.is(err, 'ERR_INDI_XML_MALFORMED')).toBe(true)
  })

  it('rejects a limit that is not a positive integer', () => {
    expect(() => parse('', { maxDepth: 0 })).toThrow(/maxDepth/)
  })
})
