import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Device, Driver, NumberVector, silentLogger } from '@indi-ts/indi-driver'
import { readRecording, SessionRecorder } from '@indi-ts/indi-msgpack'
import { type IndiMessage, IndiParser } from '@indi-ts/indi-xml'
import type { Connection } from '@indi-ts/transport'
import { connectTcp } from '@indi-ts/transport-tcp'
import { afterEach, describe, expect, it } from 'vitest'
import type { IndiServer } from '../src/index.js'
import { freePort, readInto, testServer } from './helpers.js'

const CAMERA = fileURLToPath(new URL('./fixtures/blob-camera.mjs', import.meta.url))
const REPLAY_CLI = fileURLToPath(import.meta.resolve('@indi-ts/indi-msgpack/package.json')).replace(
  /package\.json$/,
  'dist/replay-cli.js',
)
const HELLO = '<getProperties version="1.7"/><enableBLOB device="Binary Camera">Also</enableBLOB>'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** Parses what a client received. */
function messages(text: string): IndiMessage[] {
  return new IndiParser().push(Buffer.from(text)).flatMap((e) => (e.kind === 'message' ? [e.message] : []))
}

function thermostat(): { driver: Driver; temp: NumberVector } {
  const temp = new NumberVector({
    name: 'TEMPERATURE',
    perm: 'ro',
    members: [{ name: 'T', format: '%.1f', min: -50, max: 50, step: 0, value: 18 }],
  })
  const driver = new Driver({
    devices: [new Device({ name: 'Thermo', vectors: [temp] })],
    logger: silentLogger,
  })
  return { driver, temp }
}

describe('--record and indi-replay', () => {
  it('records a session and replays it to a raw client: same messages, same order', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'indi-record-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const file = join(dir, 'night.indirec')

    // 1. A server recording, a raw XML client that asked for everything before any driver ran.
    const recorder = await SessionRecorder.create(file)
    const PORT = await freePort()
    let server: IndiServer | undefined = testServer({ port: PORT, recorder }).server
    cleanups.push(async () => {
      await server?.close()
      await recorder.close().catch(() => {})
    })
    await server.listen()
    const live: Connection = await connectTcp({ host: '127.0.0.1', port: PORT })
    cleanups.push(() => live.destroy())
    const liveIn = readInto(live)
    // The pingReply says the server has read HELLO (it answers behind what it read before).
    live.send(Buffer.from(`${HELLO}<pingRequest uid="ready"/>`))
    await liveIn.waitFor('<pingReply uid="ready"/>')

    // 2. The example-like drivers: a binary BLOB camera executable and an in-process thermostat.
    server.addExecutable({
      command: process.execPath,
      args: [CAMERA],
      name: 'camera',
      binary: true,
      env: { CAMERA_BYTES: '65536' },
    })
    const { driver, temp } = thermostat()
    server.addDriver(driver, { name: 'thermo' })
    await liveIn.waitFor('<defBLOBVector device="Binary Camera"')
    await liveIn.waitFor('<defNumberVector device="Thermo"')
    live.send(
      Buffer.from(
        '<newSwitchVector device="Binary Camera" name="EXPOSE"><oneSwitch name="GO">On</oneSwitch></newSwitchVector>',
      ),
    )
    await liveIn.waitFor('<setSwitchVector device="Binary Camera" name="EXPOSE"')
    await temp.set('T', 21.5).sendSet({ state: 'Ok' })
    await liveIn.waitFor('<setNumberVector device="Thermo"')
    live.destroy()
    await server.close()
    server = undefined
    await recorder.close()
    // What the drivers sent this client (the server's own pingReply is not a device message).
    const seen = messages(liveIn.text).filter((m) => m.tag !== 'pingReply')
    expect(seen.map((m) => m.tag)).toContain('setBLOBVector')

    // The recording holds each driver's messages under its peer name, and the client's commands.
    const peers = new Set<string>()
    for await (const r of readRecording(file)) peers.add(r.peer)
    const [client, ...drivers] = [...peers].sort()
    expect(client).toMatch(/^client:tcp:127\.0\.0\.1:\d+$/)
    expect(drivers).toEqual(['driver:camera', 'driver:thermo'])

    // 2. indi-replay serves the file; a raw client gets the same device messages in the same order.
    const replayPort = await freePort()
    const proc: ChildProcess = spawn(
      process.execPath,
      [REPLAY_CLI, file, '-p', String(replayPort), '--fast', '--close-at-end'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    )
    cleanups.push(() => {
      if (proc.exitCode === null) proc.kill('SIGKILL')
    })
    await new Promise<void>((resolve, reject) => {
      let err = ''
      proc.stderr?.on('data', (d: Buffer) => {
        err += d.toString()
        if (err.includes('serving')) resolve()
      })
      proc.once('exit', () => reject(new Error(`indi-replay exited: ${err}`)))
    })
    const replay = await connectTcp({ host: '127.0.0.1', port: replayPort })
    cleanups.push(() => replay.destroy())
    const replayIn = readInto(replay)
    replay.send(Buffer.from(HELLO))
    await replayIn.until(() => replayIn.ended, 'the end of the replay')
    proc.kill('SIGTERM')

    const replayed = messages(replayIn.text)
    const names = (ms: IndiMessage[]) => ms.map((m) => `${m.tag} ${'device' in m ? m.device : ''}`)
    expect(names(replayed)).toEqual(names(seen))
    for (let i = 0; i < seen.length; i++) {
      const a = seen[i]!
      const b = replayed[i]!
      if (a.tag === 'setBLOBVector' && b.tag === 'setBLOBVector') {
        expect(Buffer.from(b.members[0]!.data).equals(Buffer.from(a.members[0]!.data))).toBe(true)
        expect({ ...b, members: [] }).toEqual({ ...a, members: [] })
      } else expect(b).toEqual(a)
    }
  })
})
