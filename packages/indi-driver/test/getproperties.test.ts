import { afterEach, describe, expect, it } from 'vitest'
import type { GetPropertiesEvent } from '../src/index.js'
import { ALL_DEFS, DEF_BLOB, DEF_LIGHT, DEF_NUM, DEF_POS, DEF_SW, DEF_TEXT } from './expected.js'
import { makeDriver, type RawClient, start, TS, xml } from './harness.js'

const open: RawClient[] = []
afterEach(() => {
  for (const c of open.splice(0)) c.conn.destroy()
})
function setup(options: Parameters<typeof makeDriver>[0] = {}) {
  const s = start(makeDriver(options))
  open.push(s.client)
  return s
}

describe('getProperties', () => {
  it('answers a bare getProperties with every enabled vector as def*, in device/vector order', async () => {
    const { client } = setup()
    expect(await client.exchange(`<getProperties version='1.7'/>`)).toBe(xml(...ALL_DEFS))
  })

  it('writes each of the five kinds exactly (Text)', async () => {
    const { client } = setup()
    expect(await client.exchange(`<getProperties version='1.7' device='Dev' name='TEXT'/>`)).toBe(
      xml(DEF_TEXT),
    )
  })

  it('writes each of the five kinds exactly (Number)', async () => {
    const { client } = setup()
    expect(await client.exchange(`<getProperties version='1.7' device='Dev' name='NUM'/>`)).toBe(xml(DEF_NUM))
  })

  it('writes each of the five kinds exactly (Switch)', async () => {
    const { client } = setup()
    expect(await client.exchange(`<getProperties version='1.7' device='Dev' name='SW'/>`)).toBe(xml(DEF_SW))
  })

  it('writes each of the five kinds exactly (Light)', async () => {
    const { client } = setup()
    expect(await client.exchange(`<getProperties version='1.7' device='Dev' name='LIGHT'/>`)).toBe(
      xml(DEF_LIGHT),
    )
  })

  it('writes each of the five kinds exactly (BLOB)', async () => {
    const { client } = setup()
    expect(await client.exchange(`<getProperties version='1.7' device='Dev' name='BLOB'/>`)).toBe(
      xml(DEF_BLOB),
    )
  })

  it('answers getProperties for one device with only that device', async () => {
    const { client } = setup()
    expect(await client.exchange(`<getProperties version='1.7' device='Other Device'/>`)).toBe(xml(DEF_POS))
  })

  it('answers nothing for an unknown device or an unknown property', async () => {
    const { client } = setup()
    expect(await client.exchange(`<getProperties version='1.7' device='Nope'/>`)).toBe('')
    expect(await client.exchange(`<getProperties version='1.7' device='Dev' name='NOPE'/>`)).toBe('')
  })

  it('accepts a version above 1.7 and a missing version, and keeps running (unlike libindi)', async () => {
    const { client, driver } = setup()
    expect(await client.exchange(`<getProperties version='2.0' device='Dev' name='TEXT'/>`)).toBe(
      xml(DEF_TEXT),
    )
    expect(await client.exchange(`<getProperties device='Dev' name='TEXT'/>`)).toBe(xml(DEF_TEXT))
    expect(driver.running).toBe(true)
  })

  it('treats device="*" (an upstream indiserver) as every device', async () => {
    const { client } = setup()
    expect(await client.exchange(`<getProperties version='1.7' device='*'/>`)).toBe(xml(...ALL_DEFS))
  })

  it('leaves out disabled vectors and deleted devices', async () => {
    const d = makeDriver()
    d.dev.vector('NUM')._setEnabled(false)
    const { client } = start(d)
    open.push(client)
    await d.other.delete()
    const out = await client.exchange(`<getProperties version='1.7'/>`)
    expect(out).not.toContain(`name="NUM"`)
    expect(out).toBe(
      xml(
        { tag: 'delProperty', device: 'Other Device', timestamp: TS },
        ...ALL_DEFS.filter((m) => m !== DEF_NUM && m !== DEF_POS),
      ),
    )
  })

  it('sends the current values and state in the definition', async () => {
    const d = makeDriver()
    const { client } = start(d)
    open.push(client)
    d.dev.number('NUM').set('X', 42).state = 'Busy'
    const out = await client.exchange(`<getProperties version='1.7' device='Dev' name='NUM'/>`)
    expect(out).toBe(
      xml({
        ...DEF_NUM,
        state: 'Busy',
        members: [{ ...DEF_NUM.members[0]!, value: '42' }, DEF_NUM.members[1]!],
      }),
    )
  })

  it('with autoDefine false gives a typed GetPropertiesEvent instead of replying', async () => {
    const d = makeDriver({ autoDefine: false })
    const seen: GetPropertiesEvent[] = []
    d.on('getProperties', (e) => {
      seen.push(e)
    })
    const { client } = start(d)
    open.push(client)
    expect(await client.exchange(`<getProperties version='1.7' device='Dev'/>`)).toBe('')
    expect(seen).toHaveLength(1)
    expect(seen[0]!.device).toBe('Dev')
    expect(seen[0]!.version).toBe('1.7')
    expect(seen[0]!.vectors.map((v) => v.name)).toEqual(['TEXT', 'NUM', 'SW', 'LIGHT', 'BLOB'])
    await seen[0]!.reply()
    expect(await client.exchange('')).toBe(xml(DEF_TEXT, DEF_NUM, DEF_SW, DEF_LIGHT, DEF_BLOB))
  })
})

describe('pingRequest', () => {
  it('answers pingRequest with a pingReply carrying the same uid', async () => {
    const { client } = setup()
    client.send(`<pingRequest uid='abc'/>`)
    const r = await client.next('pingReply')
    expect(r.uid).toBe('abc')
  })
})
