import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildMessageBytes, type IndiMessage, IndiParser } from '@indi-ts/indi-xml'
import { connectionPair } from '@indi-ts/transport'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { isReplayed, type ReplayServer, replayTo, SessionRecorder, serveReplay } from '../src/index.js'

// Ports 18100–18149 belong to this package's tests.
// Messages are compared with toEqual: the XML parser may leave absent attributes as keys set to
// undefined, which the binary codec and the model treat as absent.
let nextPort = 18100
const port = (): number => nextPort++

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'indi-msgpack-replay-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const servers: ReplayServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

const DEV = 'Telescope Simulator'
const def: IndiMessage = {
  tag: 'defNumberVector',
  device: DEV,
  name: 'EQUATORIAL_EOD_COORD',
  state: 'Idle',
  perm: 'rw',
  label: 'Eq. Coordinates',
  group: 'Main Control',
  members: [
    { name: 'RA', label: 'RA (hh:mm:ss)', format: '%010.6m', min: '0', max: '24', step: '0', value: '0' },
    {
      name: 'DEC',
      label: 'DEC (dd:mm:ss)',
      format: '%010.6m',
      min: '-90',
      max: '90',
      step: '0',
      value: '90',
    },
  ],
}
const set = (ra: string): IndiMessage => ({
  tag: 'setNumberVector',
  device: DEV,
  name: 'EQUATORIAL_EOD_COORD',
  state: 'Busy',
  members: [
    { name: 'RA', value: ra },
    { name: 'DEC', value: '45' },
  ],
})
const note: IndiMessage = { tag: 'message', device: DEV, message: 'Slewing to RA 10:30 & DEC 45°' }
const blob: IndiMessage = {
  tag: 'setBLOBVector',
  device: 'CCD Simulator',
  name: 'CCD1',
  state: 'Ok',
  members: [{ name: 'CCD1', size: 5, format: '.fits', data: new TextEncoder().encode('SIMPL') }],
}

/** What a client parses from a message sent as XML (the builder adds enclen, for one). */
function viaXml(m: IndiMessage): IndiMessage {
  const events = new IndiParser().push(buildMessageBytes(m))
  const [ev] = events
  if (events.length !== 1 || ev?.kind !== 'message') throw new Error(`${m.tag} did not survive XML`)
  return ev.message
}

/**
 * A synthetic night: the driver's traffic ('in' from driver peers), the server's fan-out copies
 * to a client ('out'), and the client's own commands ('in' from the client).
 */
async function recordSession(path: string, gapMs = 1000): Promise<IndiMessage[]> {
  let t = 0
  const rec = await SessionRecorder.create(path, { now: () => t })
  const client = 'client:tcp:127.0.0.1:50000'
  rec.record('in', client, { tag: 'getProperties', version: '1.7' })
  rec.record('in', 'driver:indi_simulator_telescope', def)
  rec.record('out', client, def)
  t += gapMs
  rec.record('in', client, {
    tag: 'newNumberVector',
    device: DEV,
    name: 'EQUATORIAL_EOD_COORD',
    members: [{ name: 'RA', value: '10.5' }],
  })
  rec.record('in', 'driver:indi_simulator_telescope', set('5'))
  rec.record('out', client, set('5'))
  t += gapMs
  rec.record('in', 'driver:indi_simulator_telescope', note)
  rec.record('in', 'driver:indi_simulator_ccd', blob)
  t += gapMs
  rec.record('in', 'driver:indi_simulator_telescope', set('10.5'))
  await rec.close()
  return [def, set('5'), note, blob, set('10.5')].map(viaXml)
}

/** A raw TCP INDI client: sends text, parses what arrives. */
class RawClient {
  readonly messages: IndiMessage[] = []
  private readonly parser = new IndiParser()
  private waiters: Array<() => void> = []
  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const ev of this.parser.push(chunk)) if (ev.kind === 'message') this.messages.push(ev.message)
      for (const w of this.waiters.splice(0)) w()
    })
    socket.on('close', () => {
      for (const w of this.waiters.splice(0)) w()
    })
  }
  static open(p: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: p }, () => resolve(new RawClient(s)))
      s.once('error', reject)
    })
  }
  send(xml: string): void {
    this.socket.write(xml)
  }
  /** Resolves once `n` messages arrived (or the socket closed). */
  async waitFor(n: number): Promise<IndiMessage[]> {
    while (this.messages.length < n && !this.socket.closed) {
      await new Promise<void>((resolve) => this.waiters.push(resolve))
    }
    return this.messages
  }
  /** Resolves when the server closes the connection. */
  ended(): Promise<void> {
    return new Promise((resolve) =>
      this.socket.closed ? resolve() : this.socket.once('close', () => resolve()),
    )
  }
  close(): void {
    this.socket.destroy()
  }
}

describe('isReplayed', () => {
  it("replays only device-to-client messages received by the recorder ('in')", () => {
    const peer = 'driver:x'
    expect(isReplayed({ t: 0, dir: 'in', peer, msg: def })).toBe(true)
    expect(isReplayed({ t: 0, dir: 'out', peer, msg: def })).toBe(false)
    expect(isReplayed({ t: 0, dir: 'in', peer, msg: { tag: 'getProperties', version: '1.7' } })).toBe(false)
    expect(isReplayed({ t: 0, dir: 'in', peer, msg: { tag: 'pingRequest', uid: '1' } })).toBe(false)
  })

  it('sniffs the tag of raw XML records', () => {
    const raw = (s: string) => new TextEncoder().encode(s)
    expect(
      isReplayed({
        t: 0,
        dir: 'in',
        peer: 'd',
        raw: raw("<?xml version='1.0'?>\n<delProperty device='x'/>"),
      }),
    ).toBe(true)
    expect(isReplayed({ t: 0, dir: 'in', peer: 'd', raw: raw('<newTextVector device="x"/>') })).toBe(false)
  })
})

describe('replayTo', () => {
  it('drops a client that stops reading with ERR_INDI_SLOW_PEER', async () => {
    const path = join(dir, 'slow.indirec')
    await recordSession(path)
    const [server, client] = connectionPair({ highWaterMark: 16 })
    await expect(
      replayTo(path, server, { fast: true, startOn: 'connect', drainTimeoutMs: 20 }),
    ).rejects.toMatchObject({
      code: 'ERR_INDI_SLOW_PEER',
    })
    client.destroy()
  })

  it('stops with the abort reason', async () => {
    const path = join(dir, 'abort.indirec')
    await recordSession(path, 60_000)
    const [server, client] = connectionPair()
    const controller = new AbortController()
    const reason = new Error('stop')
    const replay = replayTo(path, server, { startOn: 'connect', signal: controller.signal })
    const first = client[Symbol.asyncIterator]().next()
    await first // the first record went out; the next is a minute away
    controller.abort(reason)
    await expect(replay).rejects.toBe(reason)
    client.destroy()
  })

  it('rejects at once when the signal is already aborted', async () => {
    const [server, client] = connectionPair()
    const reason = new Error('already')
    await expect(
      replayTo(join(dir, 'none.indirec'), server, { signal: AbortSignal.abort(reason) }),
    ).rejects.toBe(reason)
    client.destroy()
  })
})

describe('serveReplay', () => {
  it('sends a client the recorded device traffic in order, once, as XML', async () => {
    const path = join(dir, 'night.indirec')
    const expected = await recordSession(path)
    const p = port()
    servers.push(await serveReplay(path, { port: p, fast: true, closeAtEnd: true }))
    const client = await RawClient.open(p)
    client.send("<enableBLOB device='CCD Simulator'>Also</enableBLOB><getProperties version='1.7'/>")
    await client.ended()
    expect(client.messages).toEqual(expected)
  })

  it('keeps the recorded order at a scaled speed', async () => {
    const path = join(dir, 'speed.indirec')
    const expected = await recordSession(path, 500)
    const p = port()
    servers.push(await serveReplay(path, { port: p, speed: 50, closeAtEnd: true }))
    const client = await RawClient.open(p)
    client.send("<enableBLOB device='CCD Simulator'>Also</enableBLOB><getProperties version='1.7'/>")
    await client.ended()
    expect(client.messages).toEqual(expected)
  })

  it('holds BLOBs back from a client that did not enable them (default Never)', async () => {
    const path = join(dir, 'noblob.indirec')
    const expected = await recordSession(path)
    const p = port()
    servers.push(await serveReplay(path, { port: p, fast: true, closeAtEnd: true }))
    const client = await RawClient.open(p)
    client.send("<getProperties version='1.7'/>")
    await client.ended()
    expect(client.messages).toEqual(expected.filter((m) => m.tag !== 'setBLOBVector'))
  })

  it('waits for getProperties before starting', async () => {
    const path = join(dir, 'wait.indirec')
    await recordSession(path)
    const p = port()
    const seen: string[] = []
    servers.push(
      await serveReplay(path, { port: p, fast: true, onClientMessage: (_peer, m) => seen.push(m.tag) }),
    )
    const client = await RawClient.open(p)
    client.send("<pingRequest uid='before'/>")
    const [reply] = await client.waitFor(1)
    expect(reply).toEqual({ tag: 'pingReply', uid: 'before' })
    expect(seen).toEqual(['pingRequest'])
    client.send("<getProperties version='1.7'/>")
    const all = await client.waitFor(5)
    expect(all[1]).toEqual(viaXml(def))
    client.close()
  })

  it('answers pingRequest and reports client messages', async () => {
    const path = join(dir, 'ping.indirec')
    await recordSession(path)
    const p = port()
    const seen: IndiMessage[] = []
    servers.push(
      await serveReplay(path, { port: p, fast: true, onClientMessage: (_peer, m) => seen.push(m) }),
    )
    const client = await RawClient.open(p)
    client.send(
      "<getProperties version='1.7'/><newSwitchVector device='Telescope Simulator' name='ABORT'><oneSwitch name='ABORT'>On</oneSwitch></newSwitchVector><pingRequest uid='x1'/>",
    )
    // Four replayed messages (the BLOB is held back: no enableBLOB) and the pingReply.
    const got = await client.waitFor(5)
    expect(got.filter((m) => m.tag === 'pingReply')).toEqual([{ tag: 'pingReply', uid: 'x1' }])
    expect(seen.map((m) => m.tag)).toEqual(['getProperties', 'newSwitchVector', 'pingRequest'])
    client.close()
  })

  it('starts again at the end with loop', async () => {
    const path = join(dir, 'loop.indirec')
    const expected = await recordSession(path)
    const p = port()
    servers.push(await serveReplay(path, { port: p, fast: true, loop: true }))
    const client = await RawClient.open(p)
    client.send("<enableBLOB device='CCD Simulator'>Also</enableBLOB><getProperties version='1.7'/>")
    const got = await client.waitFor(expected.length * 2)
    expect(got.slice(0, expected.length * 2)).toEqual([...expected, ...expected])
    client.close()
  })

  it('serves each client its own replay from the start', async () => {
    const path = join(dir, 'two.indirec')
    const expected = await recordSession(path)
    const p = port()
    servers.push(await serveReplay(path, { port: p, fast: true, closeAtEnd: true }))
    const clients = await Promise.all([RawClient.open(p), RawClient.open(p)])
    for (const c of clients)
      c.send("<enableBLOB device='CCD Simulator'>Also</enableBLOB><getProperties version='1.7'/>")
    await Promise.all(clients.map((c) => c.ended()))
    for (const c of clients) expect(c.messages).toEqual(expected)
  })

  it('replays raw XML records (as a server records them) under the same BLOB rule', async () => {
    const path = join(dir, 'raw.indirec')
    const rec = await SessionRecorder.create(path)
    const xml = (m: IndiMessage) => Buffer.from(buildMessageBytes(m))
    rec.recordRaw('in', 'driver:indi_simulator_telescope', Buffer.from(`<?xml version='1.0'?>\n${xml(def)}`))
    rec.recordRaw('in', 'driver:indi_simulator_ccd', xml(blob))
    rec.recordRaw('in', 'client:tcp:127.0.0.1:5000', Buffer.from("<getProperties version='1.7'/>"))
    rec.recordRaw('in', 'driver:indi_simulator_telescope', xml(note))
    await rec.close()
    const p = port()
    servers.push(await serveReplay(path, { port: p, fast: true, closeAtEnd: true }))
    const client = await RawClient.open(p)
    client.send("<getProperties version='1.7'/>")
    await client.ended()
    expect(client.messages).toEqual([viaXml(def), viaXml(note)])
  })

  it('refuses a file that is not a recording before listening', async () => {
    await expect(serveReplay(join(dir, 'missing.indirec'), { port: port() })).rejects.toMatchObject({
      code: 'ENOENT',
    })
  })

  it('rejects a speed that is not positive before listening', async () => {
    const path = join(dir, 'badspeed.indirec')
    await recordSession(path)
    await expect(serveReplay(path, { port: port(), speed: 0 })).rejects.toMatchObject({
      code: 'ERR_INDI_USAGE',
    })
  })
})

describe('indi-replay command', () => {
  const cli = fileURLToPath(new URL('../dist/replay-cli.js', import.meta.url))
  let child: ChildProcess | undefined
  afterEach(() => {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null)
      process.kill(child.pid, 'SIGKILL')
    child = undefined
  })

  it('serves a recording on -p and logs what clients send', async () => {
    const path = join(dir, 'cli.indirec')
    const expected = await recordSession(path)
    const p = port()
    const proc = spawn(process.execPath, [cli, path, '-p', String(p), '--fast', '--close-at-end'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    child = proc
    let log = ''
    await new Promise<void>((resolve, reject) => {
      proc.stderr?.on('data', (d: Buffer) => {
        log += d.toString()
        if (log.includes('serving')) resolve()
      })
      proc.once('exit', (code) => reject(new Error(`indi-replay exited ${code}: ${log}`)))
    })
    const client = await RawClient.open(p)
    client.send("<enableBLOB device='CCD Simulator'>Also</enableBLOB><getProperties version='1.7'/>")
    await client.ended()
    expect(client.messages).toEqual(expected)
    await expect.poll(() => log, { timeout: 10_000 }).toMatch(/getProperties version="1\.7"/)
    const exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)))
    proc.kill('SIGTERM')
    expect(await exited).toBe(0)
  })

  it('exits 2 with usage on bad arguments', async () => {
    const proc = spawn(process.execPath, [cli, '--speed', '-1', 'x'], { stdio: ['ignore', 'ignore', 'pipe'] })
    child = proc
    let log = ''
    proc.stderr?.on('data', (d: Buffer) => {
      log += d.toString()
    })
    const code = await new Promise((resolve) => proc.once('exit', (c) => resolve(c)))
    expect(code).toBe(2)
    expect(log).toMatch(/usage: indi-replay/)
  })
})
