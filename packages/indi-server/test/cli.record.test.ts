import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readRecording, readRecordingHeader } from '@indi-ts/indi-msgpack'
import { afterEach, describe, expect, it } from 'vitest'
import { freePort, Reader } from './helpers.js'

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const CAMERA = fileURLToPath(new URL('./fixtures/blob-camera.mjs', import.meta.url))

const children: ChildProcess[] = []
const dirs: string[] = []
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL')
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

describe('indi-server --binary --record', () => {
  it('runs a binary camera executable and records the session to a file until SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'indi-cli-record-'))
    dirs.push(dir)
    const file = join(dir, 'night.indirec')
    const port = await freePort()
    const child = spawn(
      process.execPath,
      [CLI, '-v', '-p', String(port), '--record', file, '--binary', CAMERA],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, CAMERA_BYTES: '4096' },
      },
    )
    children.push(child)
    const log = new Reader()
    child.stderr?.on('data', (d: Buffer) => log.push(d))
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    await log.waitFor('listening to port')
    const sock = connect({ host: '127.0.0.1', port })
    children.push({ exitCode: null, kill: () => sock.destroy() } as unknown as ChildProcess)
    const got = new Reader()
    sock.on('data', (d: Buffer) => got.push(d))
    sock.write('<getProperties version="1.7"/>')
    await got.waitFor('<defBLOBVector device="Binary Camera"')
    sock.write(
      '<enableBLOB device="Binary Camera">Also</enableBLOB><newSwitchVector device="Binary Camera" name="EXPOSE"><oneSwitch name="GO">On</oneSwitch></newSwitchVector>',
    )
    await got.waitFor('</setBLOBVector>')
    child.kill('SIGTERM')
    expect(await exit).toBe(0)
    expect(log.text).toContain('link: binary')

    const header = await readRecordingHeader(file)
    expect(header.meta.command).toContain('--record')
    const tags: string[] = []
    for await (const r of readRecording(file)) {
      if (r.raw !== undefined && r.peer === `driver:${CAMERA}`) {
        tags.push(/^<(\w+)/.exec(Buffer.from(r.raw).toString('latin1'))?.[1] ?? '?')
      }
    }
    expect(tags).toContain('defBLOBVector')
    expect(tags).toContain('setBLOBVector')
  })
})
