import { afterEach, describe, expect, it } from 'vitest'
import type { IndiServer } from '../src/index.js'
import { addClient, once, RawDriver, testServer } from './helpers.js'

const GP = '<getProperties version="1.7"/>'
const blob = (name: string, dev = 'CCD') =>
  `<setBLOBVector device="${dev}" name="${name}" state="Ok"><oneBLOB name="${name}" size="3" format=".fits" enclen="4">AAEC</oneBLOB></setBLOBVector>`
const defs = (d: string) =>
  `<defBLOBVector device="${d}" name="CCD1" state="Idle" perm="ro"><defBLOB name="CCD1"/></defBLOBVector>` +
  `<defBLOBVector device="${d}" name="CCD2" state="Idle" perm="ro"><defBLOB name="CCD2"/></defBLOBVector>` +
  `<defNumberVector device="${d}" name="TEMP" state="Idle" perm="ro"><defNumber name="T" format="%g" min="0" max="0" step="0">1</defNumber></defNumberVector>`

let server: IndiServer
afterEach(async () => {
  await server?.close()
})

async function setup() {
  server = testServer().server
  const ccd = new RawDriver(['CCD'], defs)
  const other = new RawDriver(['Guider'], defs)
  const known = new Promise<void>((resolve) => {
    let n = 0
    server.on('device', () => {
      if (++n === 2) resolve()
    })
  })
  server.addDriver(ccd, { name: 'ccd' })
  server.addDriver(other, { name: 'guider' })
  await known
  return { ccd, other, c: addClient(server, 'C') }
}

/** The driver emits two BLOBs, a number and a global message, then a final BLOB marker. */
function emit(ccd: RawDriver): void {
  ccd.send(blob('CCD1'))
  ccd.send(blob('CCD2'))
  ccd.send(
    '<setNumberVector device="CCD" name="TEMP" state="Ok"><oneNumber name="T">2</oneNumber></setNumberVector>',
  )
  ccd.send('<message message="hello"/>')
  ccd.send(blob('CCD1').replace('state="Ok"', 'state="Idle"'))
}

describe('BLOB policy per client (indiserver §2.7)', () => {
  it('Never is the default: everything but setBLOBVector', async () => {
    const { ccd, c } = await setup()
    c.send(GP)
    await c.in.waitFor('<defBLOBVector', 4)
    emit(ccd)
    await c.in.waitFor('hello')
    await c.sync()
    expect(c.in.has('setBLOBVector')).toBe(false)
    expect(c.in.has('<setNumberVector')).toBe(true)
  })

  it('Also: BLOBs mixed with everything else', async () => {
    const { ccd, c } = await setup()
    c.send(GP)
    c.send('<enableBLOB device="CCD">Also</enableBLOB>')
    await c.in.waitFor('<defBLOBVector', 4)
    await c.sync()
    emit(ccd)
    await c.in.waitFor('<setBLOBVector', 3)
    expect(c.in.has('<setNumberVector')).toBe(true)
    expect(c.in.has('hello')).toBe(true)
  })

  it('Only: BLOBs and nothing else, not even defs or global messages', async () => {
    const { ccd, c } = await setup()
    c.send(GP)
    c.send('<enableBLOB device="CCD">Only</enableBLOB>')
    await c.sync()
    emit(ccd)
    await c.in.until(() => c.in.has('state="Idle"'))
    expect(c.in.count('<setBLOBVector')).toBe(3)
    expect(c.in.has('<def')).toBe(false)
    expect(c.in.has('setNumberVector')).toBe(false)
    expect(c.in.has('hello')).toBe(false)
  })

  it('per property: Also for CCD1 does not forward CCD2 (DontForwardOtherBlobDefToClient)', async () => {
    const { ccd, c } = await setup()
    c.send(GP)
    c.send('<enableBLOB device="CCD" name="CCD1">Also</enableBLOB>')
    await c.sync()
    emit(ccd)
    await c.in.waitFor('<setBLOBVector device="CCD" name="CCD1"', 2)
    await c.sync()
    expect(c.in.has('<setBLOBVector device="CCD" name="CCD2"')).toBe(false)
  })

  it('per device without a name sets the client-wide policy, so other devices BLOBs come too (indiserver quirk)', async () => {
    const { other, c } = await setup()
    c.send(GP)
    c.send('<enableBLOB device="CCD">Also</enableBLOB>')
    await c.sync()
    other.send(blob('CCD1', 'Guider'))
    await c.in.waitFor('<setBLOBVector device="Guider"')
  })

  it('a device-only client with a per-device Also gets that device BLOBs only', async () => {
    const { ccd, other, c } = await setup()
    c.send('<getProperties version="1.7" device="CCD"/>')
    c.send('<enableBLOB device="CCD">Also</enableBLOB>')
    await c.in.waitFor('<defBLOBVector', 2)
    other.send(blob('CCD1', 'Guider'))
    ccd.send(blob('CCD1'))
    await c.in.waitFor('<setBLOBVector device="CCD"')
    await c.sync()
    expect(c.in.has('device="Guider"')).toBe(false)
  })

  it('echoes a newBLOBVector upload to Never clients but not to Only clients', async () => {
    const { ccd, c } = await setup()
    const never = addClient(server, 'never')
    never.send(GP)
    c.send(GP)
    c.send('<enableBLOB device="CCD">Only</enableBLOB>')
    await never.in.waitFor('<defBLOBVector', 4)
    await c.sync()
    const uploader = addClient(server, 'up')
    uploader.send(
      '<newBLOBVector device="CCD" name="CCD1"><oneBLOB name="CCD1" size="3" format=".fits">AAEC</oneBLOB></newBLOBVector>',
    )
    await ccd.in.waitFor('<newBLOBVector')
    await never.in.waitFor('<newBLOBVector')
    await c.sync()
    expect(c.in.has('newBLOBVector')).toBe(false)
  })
})

describe('BLOB policy for snooping drivers (§2.5, §2.8)', () => {
  it('a snooping driver gets no BLOBs until it sends enableBLOB, then gets them inline', async () => {
    const { ccd, other, c } = await setup()
    other.send('<getProperties version="1.7" device="CCD"/>')
    await other.in.waitFor('<defBLOBVector device="CCD"')
    ccd.send(blob('CCD1'))
    ccd.send(
      '<setNumberVector device="CCD" name="TEMP" state="Ok"><oneNumber name="T">3</oneNumber></setNumberVector>',
    )
    await other.in.waitFor('<setNumberVector device="CCD"')
    expect(other.in.has('setBLOBVector')).toBe(false)
    other.send('<enableBLOB device="CCD">Also</enableBLOB>')
    await c.sync()
    ccd.send(blob('CCD2'))
    await other.in.waitFor('<setBLOBVector device="CCD" name="CCD2"')
  })

  it('a snooping driver with Only gets BLOBs and no other snooped traffic', async () => {
    const { ccd, other, c } = await setup()
    other.send('<getProperties version="1.7" device="CCD" name="CCD1"/>')
    other.send('<enableBLOB device="CCD" name="CCD1">Only</enableBLOB>')
    await c.sync()
    ccd.send('<setBLOBVector device="CCD" name="CCD1" state="Busy"/>')
    ccd.send(
      '<setNumberVector device="CCD" name="CCD1" state="Ok"><oneNumber name="T">3</oneNumber></setNumberVector>',
    )
    ccd.send(blob('CCD1'))
    await other.in.waitFor('<setBLOBVector device="CCD" name="CCD1" state="Ok"')
    expect(other.in.has('state="Busy"')).toBe(true)
    expect(other.in.has('setNumberVector')).toBe(false)
  })

  it('enableBLOB from a client is consumed, never forwarded to local drivers', async () => {
    const { ccd, c } = await setup()
    c.send('<enableBLOB device="CCD">Also</enableBLOB>')
    c.send('<getProperties version="1.7" device="CCD"/>')
    await ccd.in.waitFor('<getProperties', 2)
    expect(ccd.in.has('enableBLOB')).toBe(false)
  })
})

describe('BLOB line breaks', () => {
  const payload = Buffer.from(Array.from({ length: 200 }, (_, i) => i))
  const b64 = payload.toString('base64')
  const lines = b64.match(/.{1,72}/g)!.join('\n')
  const libindiBlob = (name: string) =>
    `<setBLOBVector device='CCD' name='${name}' state='Ok'>\n  <oneBLOB name='${name}' size='200' format='.bin' enclen='${b64.length}'>\n${lines}\n  </oneBLOB>\n</setBLOBVector>`

  it('sends a driver base64 as one line, as indiserver does for local drivers (indi_getprop needs it)', async () => {
    const { ccd, c } = await setup()
    c.send(GP)
    c.send('<enableBLOB device="CCD">Also</enableBLOB>')
    await c.sync()
    ccd.send(libindiBlob('CCD1'))
    await c.in.waitFor('</setBLOBVector>')
    // enclen goes with the line breaks: indiserver 1.9.9 stalls on enclen with one-line base64.
    expect(c.in.text).toContain(`<oneBLOB name='CCD1' size='200' format='.bin'>${b64}</oneBLOB>`)
    expect(c.in.text).toContain("<setBLOBVector device='CCD' name='CCD1' state='Ok'>\n  <oneBLOB")
  })

  it('compacts every member of a multi-member BLOB and keeps one-line and empty members as they are', async () => {
    const { ccd, c } = await setup()
    c.send(GP)
    c.send('<enableBLOB device="CCD">Also</enableBLOB>')
    await c.sync()
    const member = (n: string, body: string, enclen = true) =>
      `\n  <oneBLOB name='${n}' size='200' format='.bin'${enclen ? ` enclen='${b64.length}'` : ''}>${body}</oneBLOB>`
    const head = "<setBLOBVector device='CCD' name='CCD1' state='Ok'>"
    const empty = "\n  <oneBLOB name='E' size='0' format='.bin'/>"
    ccd.send(
      `${head}${member('A', `\n${lines}\n  `)}${member('B', b64)}${empty}${member('C', `\n${lines}\n`)}\n</setBLOBVector>`,
    )
    await c.in.waitFor('</setBLOBVector>')
    expect(c.in.text).toContain(
      `${head}${member('A', b64, false)}${member('B', b64)}${empty}${member('C', b64, false)}\n</setBLOBVector>`,
    )
  })

  it('compacts lines whose width changes, CRLF line ends and indented lines after regular ones', async () => {
    const { ccd, c } = await setup()
    c.send(GP)
    c.send('<enableBLOB device="CCD">Also</enableBLOB>')
    await c.sync()
    // 72-column lines (predicted after the first), then 60, 64 with CRLF, indented, and 72 again.
    const widths = [72, 72, 60, 60, 64, 64, 72]
    const big = Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 7) & 255)).toString('base64')
    let rest = big
    const body: string[] = []
    for (const [k, w] of widths.entries()) {
      const line = rest.slice(0, w)
      rest = rest.slice(w)
      body.push(k === 4 || k === 5 ? `${line}\r` : k === 3 ? `    ${line} ` : line)
    }
    body.push(rest)
    ccd.send(
      `<setBLOBVector device='CCD' name='CCD1' state='Ok'><oneBLOB name='CCD1' size='600' format='.bin'>\n${body.join('\n')}\n</oneBLOB></setBLOBVector>`,
    )
    await c.in.waitFor('</setBLOBVector>')
    expect(c.in.text).toContain(`<oneBLOB name='CCD1' size='600' format='.bin'>${big}</oneBLOB>`)
  })

  it('keeps the bytes unchanged with compactBlobs: false', async () => {
    server = testServer({ compactBlobs: false }).server
    const ccd = new RawDriver(['CCD'], defs)
    const known = once(server, 'device')
    server.addDriver(ccd, { name: 'ccd' })
    await known
    const c = addClient(server, 'C')
    c.send(GP)
    c.send('<enableBLOB device="CCD">Also</enableBLOB>')
    await c.sync()
    ccd.send(libindiBlob('CCD2'))
    await c.in.waitFor('</setBLOBVector>')
    expect(c.in.text).toContain(libindiBlob('CCD2'))
  })

  it('logs BLOBs at -vvv by their head and size only', async () => {
    const t = testServer({ verbosity: 3 })
    server = t.server
    const ccd = new RawDriver(['CCD'], defs)
    const known = once(server, 'device')
    server.addDriver(ccd, { name: 'ccd' })
    await known
    const c = addClient(server, 'C')
    c.send(GP)
    c.send('<enableBLOB device="CCD">Also</enableBLOB>')
    await c.sync()
    ccd.send(
      `<setBLOBVector device="CCD" name="CCD1"><oneBLOB name="CCD1" size="30000" format=".fits">${'Q'.repeat(40000)}</oneBLOB></setBLOBVector>`,
    )
    await c.in.waitFor('</setBLOBVector>')
    const lines = t.logs.filter((l) => l.text.includes('<setBLOBVector'))
    expect(lines.length).toBeGreaterThan(0)
    for (const l of lines) {
      expect(l.text).toMatch(/… \(\d+ bytes\)$/)
      expect(l.text.length).toBeLessThan(700)
    }
  })
})
