/**
 * Interop: record a real session between indilib's indi_getprop and indiserver (running the C++
 * telescope simulator) through `recordProxy`, then serve the recording with `serveReplay` and
 * check indi_getprop sees the same properties and values from the replay as from the server.
 * Loopback ports 18145–18149 (this package's range); every process is stopped by its PID.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isReplayed, readRecording, recordProxy, SessionRecorder, serveReplay } from '../../src/index.js'

function which(program: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    if (d === '') continue
    try {
      accessSync(join(d, program), constants.X_OK)
      return join(d, program)
    } catch {
      // not here
    }
  }
  return undefined
}

const hasIndi = ['indiserver', 'indi_getprop', 'indi_simulator_telescope'].every(
  (p) => which(p) !== undefined,
)

/** Resolves once something accepts TCP connections on `port` (bounded by a deadline). */
async function listening(port: number, deadlineMs = 15_000): Promise<void> {
  const end = Date.now() + deadlineMs
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy()
        resolve(true)
      })
      s.on('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > end) throw new Error(`nothing listens on ${port}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** indi_getprop's `device.property.element=value` lines, sorted. */
function getprop(port: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile('indi_getprop', ['-p', String(port), '-t', '2'], { timeout: 30_000 }, (error, stdout) => {
      if (error && stdout === '') reject(error)
      else
        resolve(
          stdout
            .split('\n')
            .filter((l) => l.includes('='))
            .sort(),
        )
    })
  })
}

describe.skipIf(!hasIndi)('record a real indiserver session, replay it to indi_getprop', () => {
  let dir: string
  let server: ChildProcess | undefined
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'indi-msgpack-interop-'))
    server = spawn(
      'indiserver',
      ['-p', '18145', '-u', join(dir, 'indiserver.sock'), 'indi_simulator_telescope'],
      {
        stdio: 'ignore',
      },
    )
    await listening(18145)
  })
  afterAll(async () => {
    if (server?.pid !== undefined && server.exitCode === null) process.kill(server.pid)
    await rm(dir, { recursive: true, force: true })
  })

  it('indi_getprop sees the same properties from the replay as from indiserver', async () => {
    const path = join(dir, 'night.indirec')
    const recorder = await SessionRecorder.create(path)
    const proxy = await recordProxy({
      listen: { port: 18146 },
      upstream: { host: '127.0.0.1', port: 18145 },
      recorder,
    })
    const live = await getprop(18146)
    await proxy.close()
    await recorder.close()
    expect(live.length).toBeGreaterThan(20)
    expect(live.some((l) => l.startsWith('Telescope Simulator.CONNECTION.CONNECT='))).toBe(true)

    let replayable = 0
    for await (const r of readRecording(path)) if (isReplayed(r, 'server#1:')) replayable++
    expect(replayable).toBeGreaterThan(5)

    const replay = await serveReplay(path, { port: 18147, fast: true, peer: 'server#1:' })
    try {
      expect(await getprop(18147)).toEqual(live)
    } finally {
      await replay.close()
    }
  })
})
