/**
 * BLOBs passed as shared-memory attachments. indiserver (≥ 1.9.7) hands a client's upload or a
 * snooped BLOB to a local driver as `<oneBLOB … size="N" attached="true"/>` plus an fd over its
 * socketpair (seen with indiserver 1.9.9 -vvv in packages/indi-server/test/interop). Node cannot
 * receive the fd, so the element has a size and no content: the driver must say so, never hand a
 * handler an empty payload as if the upload had worked.
 */
import { IndiError, type Message } from '@indi-ts/indi-xml'
import { describe, expect, it } from 'vitest'
import type { NewVectorEvent, RejectedEvent, SnoopEvent } from '../src/index.js'
import { makeDriver, start, TS, xml } from './harness.js'

function setup() {
  const d = makeDriver()
  d.dev.blob('BLOB').perm = 'rw'
  const s = start(d)
  const rejected: RejectedEvent[] = []
  const accepted: NewVectorEvent[] = []
  d.on('rejected', (e) => {
    rejected.push(e)
  })
  d.on('newVector', (e) => {
    accepted.push(e)
  })
  return { ...s, rejected, accepted }
}

const upload = (attrs: string): string =>
  `<newBLOBVector device='Dev' name='BLOB'><oneBLOB name='B1' ${attrs}/></newBLOBVector>`

const refusal = (size: number): Message => ({
  tag: 'message',
  device: 'Dev',
  timestamp: TS,
  message: `[ERROR] BLOB: Dev.BLOB.B1: ${size} bytes announced, no content; indiserver passed them as a shared-memory attachment, which this driver cannot receive (send it through @indi-ts/indi-server)`,
})

async function nextSnoop(it: AsyncIterator<SnoopEvent>): Promise<SnoopEvent> {
  const r = await it.next()
  if (r.done) throw new Error('subscription ended')
  return r.value
}

describe('BLOBs passed as shared-memory attachments', () => {
  it('refuses a client upload with attached="true" and no content, telling the client why', async () => {
    const { client, rejected, accepted } = setup()
    const out = await client.exchange(upload(`size='1000' format='.fits' len='1000' attached='true'`))
    expect(out).toBe(xml(refusal(1000)))
    expect(rejected.map((r) => r.name)).toEqual(['BLOB'])
    expect(accepted).toEqual([])
    client.conn.destroy()
  })

  it('refuses it for a zlib (.z) format too, where size is not the payload length', async () => {
    const { client, accepted } = setup()
    const out = await client.exchange(upload(`size='4096' format='.fits.z' attached='true'`))
    expect(out).toBe(xml(refusal(4096)))
    expect(accepted).toEqual([])
    client.conn.destroy()
  })

  it('still accepts an empty upload that says size="0"', async () => {
    const { client, rejected, accepted } = setup()
    await client.exchange(upload(`size='0' format='.fits'`))
    expect(rejected).toEqual([])
    const e = accepted[0]
    if (e?.type !== 'newBLOBVector') throw new Error('no newBLOBVector event')
    expect(e.values.get('B1')?.data.length).toBe(0)
    client.conn.destroy()
  })

  it('reports a snooped BLOB with attached="true" as a typed ERR_INDI_BLOB_ATTACHED error event', async () => {
    const { client, driver } = start(makeDriver())
    const it = driver.snoop({ device: 'CCD Simulator' })[Symbol.asyncIterator]()
    client.send(
      `<setBLOBVector device="CCD Simulator" name="CCD1" state="Ok"><oneBLOB name="CCD1" size="2626560" format=".fits" len="2626560" attached="true"/></setBLOBVector>`,
    )
    const ev = await nextSnoop(it)
    if (ev.type !== 'error') throw new Error(`expected an error event, got ${ev.type}`)
    expect([ev.tag, ev.device, ev.name]).toEqual(['setBLOBVector', 'CCD Simulator', 'CCD1'])
    expect(IndiError.is(ev.error, 'ERR_INDI_BLOB_ATTACHED')).toBe(true)
    expect(ev.error.message).toContain('CCD Simulator.CCD1.CCD1: 2626560 bytes announced, no content')
    expect(driver.running).toBe(true)
    client.conn.destroy()
  })

  it('delivers a snooped state-only BLOB (size="0") as a set event', async () => {
    const { client, driver } = start(makeDriver())
    const it = driver.snoop({ device: 'CCD Simulator' })[Symbol.asyncIterator]()
    client.send(
      `<setBLOBVector device="CCD Simulator" name="CCD1" state="Busy"><oneBLOB name="CCD1" size="0" format=".fits"/></setBLOBVector>`,
    )
    const ev = await nextSnoop(it)
    if (ev.type !== 'set') throw new Error(`expected a set event, got ${ev.type}`)
    expect((ev.values.get('CCD1') as Uint8Array).length).toBe(0)
    client.conn.destroy()
  })
})
