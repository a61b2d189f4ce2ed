import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildMessageBytes, type IndiMessage, IndiParser } from '@indi-ts/indi-xml'
import { listenTcp, type TcpListener } from '@indi-ts/transport-tcp'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { readRecording, recordProxy, SessionRecorder, serveReplay } from '../src/index.js'

// Ports 18140–18144 and 18148–18149 of this package's range.
let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'indi-msgpack-proxy-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const def: IndiMessage = {
  tag: 'defSwitchVector',
  device: 'Dome',
  name: 'CONNECTION',
  state: 'Idle',
  perm: 'rw',
  rule: 'OneOfMany',
  members: [
    { name: 'CONNECT', value: 'Off' },
    { name: 'DISCONNECT', value: 'On' },
  ],
}
const note: IndiMessage = { tag: 'message', device: 'Dome', message: 'ready' }

/** An upstream INDI server that answers getProperties with a def and a message. */
async function upstream(port: number): Promise<TcpListener> {
  const l = await listenTcp({ host: '127.0.0.1', port })
  void (async () => {
    for await (const conn of l) {
      void (async () => {
        const parser = new IndiParser()
        try {
          for await (const chunk of conn) {
            for (const ev of parser.push(chunk)) {
              if (ev.kind === 'message' && ev.message.tag === 'getProperties') {
                conn.send(buildMessageBytes(def))
                conn.send(buildMessageBytes(note))
              }
            }
          }
        } catch {
          // the proxy closed the session
        } finally {
          // As indiserver does: a client's end closes its connection.
          conn.destroy()
        }
      })()
    }
  })()
  return l
}

/** Sends getProperties, reads until `n` messages arrived, returns them and the raw bytes. */
function session(port: number, n: number): Promise<{ messages: IndiMessage[]; bytes: Buffer }> {
  return new Promise((resolve, reject) => {
    const parser = new IndiParser()
    const messages: IndiMessage[] = []
    const chunks: Buffer[] = []
    const s: Socket = connect({ host: '127.0.0.1', port }, () => s.write("<getProperties version='1.7'/>"))
    s.on('error', reject)
    s.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      for (const ev of parser.push(chunk)) if (ev.kind === 'message') messages.push(ev.message)
      if (messages.length >= n) {
        s.destroy()
        resolve({ messages, bytes: Buffer.concat(chunks) })
      }
    })
  })
}

it('forwards a session unchanged, records both sides, and the recording replays', async () => {
  const server = await upstream(18140)
  const path = join(dir, 'proxy.indirec')
  const recorder = await SessionRecorder.create(path)
  const proxy = await recordProxy({
    listen: { port: 18141 },
    upstream: { host: '127.0.0.1', port: 18140 },
    recorder,
  })
  const seen = await session(18141, 2)
  expect(seen.bytes.equals(Buffer.concat([buildMessageBytes(def), buildMessageBytes(note)]))).toBe(true)
  await proxy.close()
  await server.close()
  await recorder.close()

  const records = []
  for await (const r of readRecording(path)) records.push({ dir: r.dir, peer: r.peer, tag: r.msg?.tag })
  expect(records).toEqual([
    { dir: 'in', peer: expect.stringMatching(/^client#1:/), tag: 'getProperties' },
    { dir: 'in', peer: 'server#1:127.0.0.1:18140', tag: 'defSwitchVector' },
    { dir: 'in', peer: 'server#1:127.0.0.1:18140', tag: 'message' },
  ])

  const replay = await serveReplay(path, { port: 18142, fast: true, peer: 'server#1:' })
  try {
    const again = await session(18142, 2)
    expect(again.messages).toEqual(seen.messages)
  } finally {
    await replay.close()
  }
})

it('closes a client whose upstream cannot be reached', async () => {
  const path = join(dir, 'nobody.indirec')
  const recorder = await SessionRecorder.create(path)
  const events: string[] = []
  const proxy = await recordProxy({
    listen: { port: 18143 },
    upstream: { host: '127.0.0.1', port: 18144 },
    recorder,
    onSession: (e, _n, _c, error) => events.push(`${e}${error ? ' failed' : ''}`),
  })
  const closed = new Promise<void>((resolve) => {
    const s = connect({ host: '127.0.0.1', port: 18143 })
    s.on('error', () => {})
    s.on('close', () => resolve())
  })
  await closed
  await proxy.close()
  await recorder.close()
  expect(events).toEqual(['open', 'close failed'])
})

it('indi-record records until SIGTERM and exits 0', async () => {
  const cli = fileURLToPath(new URL('../dist/record-cli.js', import.meta.url))
  const server = await upstream(18148)
  const path = join(dir, 'cli.indirec')
  const proc = spawn(process.execPath, [cli, path, '--server', '127.0.0.1:18148', '-p', '18149'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  try {
    let log = ''
    await new Promise<void>((resolve, reject) => {
      proc.stderr?.on('data', (d: Buffer) => {
        log += d.toString()
        if (log.includes('listening')) resolve()
      })
      proc.once('exit', (code) => reject(new Error(`indi-record exited ${code}: ${log}`)))
    })
    await session(18149, 2)
    const exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)))
    proc.kill('SIGTERM')
    expect(await exited).toBe(0)
    const tags: string[] = []
    for await (const r of readRecording(path)) if (r.msg) tags.push(r.msg.tag)
    expect(tags).toEqual(['getProperties', 'defSwitchVector', 'message'])
  } finally {
    if (proc.exitCode === null && proc.signalCode === null && proc.pid !== undefined)
      process.kill(proc.pid, 'SIGKILL')
    await server.close()
  }
})
