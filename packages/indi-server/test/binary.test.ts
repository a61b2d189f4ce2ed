import { IndiParser, type SetBlobVector } from '@indi-ts/indi-xml'
import type { Connection } from '@indi-ts/transport'
import { connectTcp } from '@indi-ts/transport-tcp'
import { afterEach, describe, expect, it } from 'vitest'
import type { IndiServer, LogEntry } from '../src/index.js'
// @ts-expect-error: a plain .mjs fixture without types
import { frameBytes } from './fixtures/blob-camera.mjs'
import { freePort, readInto, testServer } from './helpers.js'

const CAMERA = new URL('./fixtures/blob-camera.mjs', import.meta.url).pathname
const GP = '<getProperties version="1.7"/>'

const servers: IndiServer[] = []
const conns: Connection[] = []
afterEach(async () => {
  for (const c of conns.splice(0)) c.destroy()
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

async function start(
  options: Parameters<typeof testServer>[0] = {},
): Promise<{ server: IndiServer; logs: LogEntry[]; port: number }> {
  const port = await freePort()
  const t = { ...testServer({ port, ...options }), port }
  servers.push(t.server)
  return t
}

/** A raw XML TCP client: enableBLOB Also for the camera, then one exposure; returns the BLOB it got. */
async function exposeOverXml(port: number): Promise<{ blob: SetBlobVector; text: string }> {
  const conn = await connectTcp({ host: '127.0.0.1', port })
  conns.push(conn)
  const reader = readInto(conn)
  conn.send(Buffer.from(GP))
  // enableBLOB once the device is known: before that a server has nowhere to route it (§0.5).
  await reader.waitFor('<defBLOBVector device="Binary Camera"')
  conn.send(
    Buffer.from(
      '<enableBLOB device="Binary Camera">Also</enableBLOB><newSwitchVector device="Binary Camera" name="EXPOSE"><oneSwitch name="GO">On</oneSwitch></newSwitchVector>',
    ),
  )
  await reader.waitFor('</setBLOBVector>')
  const start = reader.text.indexOf('<setBLOBVector')
  const element = reader.text.slice(
    start,
    reader.text.indexOf('</setBLOBVector>') + '</setBLOBVector>'.length,
  )
  const events = new IndiParser().push(Buffer.from(element))
  const blob = events.flatMap((e) => (e.kind === 'message' ? [e.message] : []))[0] as SetBlobVector
  return { blob, text: element }
}

describe('binary link to an executable driver', () => {
  it('delivers the BLOB of a binary camera to an XML client as standard base64, byte-exact', async () => {
    const { server, logs, port } = await start()
    await server.listen()
    server.addExecutable({ command: process.execPath, args: [CAMERA], name: 'camera', binary: true })
    const { blob, text } = await exposeOverXml(port)
    const expected = frameBytes(1, 1048576)
    expect(blob.members[0]?.size).toBe(expected.length)
    expect(Buffer.from(blob.members[0]?.data ?? []).equals(expected)).toBe(true)
    expect(text).toMatch(/<oneBLOB name="CCD1" size="1048576" format=".fits">/)
    expect(logs.some((l) => l.text.includes('Driver camera: link: binary'))).toBe(true)
  })

  it('leaves other executables on XML, without INDI_TS_BINARY even if the server has it', async () => {
    const saved = process.env.INDI_TS_BINARY
    process.env.INDI_TS_BINARY = '1'
    try {
      const { server, logs, port } = await start()
      await server.listen()
      server.addExecutable({ command: process.execPath, args: [CAMERA], name: 'camera' })
      const { blob } = await exposeOverXml(port)
      expect(Buffer.from(blob.members[0]?.data ?? []).equals(frameBytes(1, 1048576))).toBe(true)
      expect(logs.some((l) => l.text.includes('Driver camera: link: xml'))).toBe(true)
    } finally {
      if (saved === undefined) delete process.env.INDI_TS_BINARY
      else process.env.INDI_TS_BINARY = saved
    }
  })
})

describe('binary link between two indi-ts servers', () => {
  it('chains a remote over the binary link; its listener also serves XML clients', async () => {
    const downstream = await start({ acceptBinary: true })
    await downstream.server.listen()
    downstream.server.addExecutable({
      command: process.execPath,
      args: [CAMERA],
      name: 'camera',
      binary: true,
    })
    const upstream = await start()
    await upstream.server.listen()
    upstream.server.addRemote({ host: '127.0.0.1', port: downstream.port, binary: true })
    const viaChain = await exposeOverXml(upstream.port)
    expect(Buffer.from(viaChain.blob.members[0]?.data ?? []).equals(frameBytes(1, 1048576))).toBe(true)
    expect(downstream.logs.some((l) => l.text.includes('binary link peer'))).toBe(true)
    // The same port still serves a plain XML client.
    const direct = await exposeOverXml(downstream.port)
    expect(Buffer.from(direct.blob.members[0]?.data ?? []).equals(frameBytes(2, 1048576))).toBe(true)
  })
})
