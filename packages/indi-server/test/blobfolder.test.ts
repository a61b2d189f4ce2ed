import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connectionPair } from '@indi-ts/transport'
import { afterEach, describe, expect, it } from 'vitest'
import { blobFileName, IndiServer, type LogEntry, type SavedBlob, saveBlobs } from '../src/index.js'
import { RawDriver } from './helpers.js'

// Ports 18320–18329 are this file's.
const CLI = fileURLToPath(new URL('../dist/getblobs-cli.js', import.meta.url))
const CAM_DEF =
  '<defBLOBVector device="Cam" name="CCD1" state="Idle" perm="ro"><defBLOB name="CCD1"/></defBLOBVector>'
const b64 = (s: string): string => Buffer.from(s).toString('base64')
const blob = (payload: string, ts = '2026-11-26T10:30:00', format = '.fits'): string =>
  `<setBLOBVector device="Cam" name="CCD1" state="Ok" timestamp="${ts}"><oneBLOB name="CCD1" size="${payload.length}" format="${format}">${b64(payload)}</oneBLOB></setBLOBVector>`

const cleanup: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'indi-getblobs-'))
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/**
 * A server with a camera driver. `enabled` resolves once a client's enableBLOB was read; `traced`
 * once a trace line matching `text` was logged (clients are traced, so this sees what is queued).
 */
function cameraServer(port = 0): {
  server: IndiServer
  cam: RawDriver
  enabled: Promise<void>
  traced: (text: string) => Promise<void>
} {
  const waiters: { test: (e: LogEntry) => boolean; resolve: () => void }[] = []
  const traced = (text: string): Promise<void> =>
    new Promise((resolve) => waiters.push({ test: (e) => e.text.includes(text), resolve }))
  const enabled = new Promise<void>((resolve) =>
    waiters.push({ test: (e) => e.fields?.tag === 'enableBLOB', resolve }),
  )
  const logger = (e: LogEntry): void => {
    if (e.scope !== 'indi:server:trace') return
    for (const w of waiters.splice(0)) {
      if (w.test(e)) w.resolve()
      else waiters.push(w)
    }
  }
  const server = new IndiServer({ port, logger })
  // Trace every client so the enableBLOB it sends is seen as a log event (no polling, no sleeps).
  server.on('client', (info) => server.setTrace({ client: info.id }))
  cleanup.push(() => server.close())
  const cam = new RawDriver(['Cam'], () => CAM_DEF)
  server.addDriver(cam, { name: 'cam' })
  return { server, cam, enabled, traced }
}

describe('client BLOB folder (parity §7)', () => {
  it('names files member_timestamp[_n].ext with portable characters', () => {
    expect(blobFileName('CCD1', '2026-11-26T10:30:00', '.fits')).toBe('CCD1_2026-11-26T10-30-00.fits')
    expect(blobFileName('CCD1', '2026-11-26T10:30:00.5', '.fits.z', 2)).toBe(
      'CCD1_2026-11-26T10-30-00.5_2.fits.z',
    )
    expect(blobFileName('a/b c', '2026-11-26T10:30:00', 'jpg')).toBe('a_b_c_2026-11-26T10-30-00.jpg')
  })

  it('sets the device to BLOBs Also and writes each BLOB to member_timestamp.ext', async () => {
    const dir = tempDir()
    const { server, cam, enabled } = cameraServer()
    const [a, b] = connectionPair()
    server.addClient(a)
    const saved: SavedBlob[] = []
    const done = saveBlobs({ connection: b, dir, maxFiles: 1, onSaved: (s) => saved.push(s) })
    await enabled
    cam.send(blob('SIMPLE  = T'))
    expect(await done).toBe(1)
    expect(saved[0]).toMatchObject({
      device: 'Cam',
      vector: 'CCD1',
      member: 'CCD1',
      bytes: 11,
      format: '.fits',
    })
    expect(readdirSync(dir)).toEqual(['CCD1_2026-11-26T10-30-00.fits'])
    expect(readFileSync(join(dir, 'CCD1_2026-11-26T10-30-00.fits'), 'utf8')).toBe('SIMPLE  = T')
  })

  it('never overwrites: a second BLOB with the same timestamp gets _1', async () => {
    const dir = tempDir()
    const { server, cam, enabled } = cameraServer()
    const [a, b] = connectionPair()
    server.addClient(a)
    const done = saveBlobs({ connection: b, dir, maxFiles: 2 })
    await enabled
    cam.send(blob('first'))
    cam.send(blob('second'))
    expect(await done).toBe(2)
    expect(readdirSync(dir).sort()).toEqual([
      'CCD1_2026-11-26T10-30-00.fits',
      'CCD1_2026-11-26T10-30-00_1.fits',
    ])
    expect(readFileSync(join(dir, 'CCD1_2026-11-26T10-30-00_1.fits'), 'utf8')).toBe('second')
  })

  it('skips size-0 members (state-only BLOB updates) and resolves when the connection ends', async () => {
    const dir = tempDir()
    const { server, cam, enabled, traced } = cameraServer()
    const [a, b] = connectionPair()
    server.addClient(a)
    const done = saveBlobs({ connection: b, dir })
    await enabled
    cam.send(
      '<setBLOBVector device="Cam" name="CCD1" state="Busy"><oneBLOB name="CCD1" size="0" format=".fits"></oneBLOB></setBLOBVector>',
    )
    cam.send(blob('data', '2026-11-26T10:31:00'))
    const last = traced('message="last"')
    cam.send('<message device="Cam" message="last"/>')
    await last
    // close() flushes what is queued to the client, then ends its connection.
    await server.close()
    expect(await done).toBe(1)
    expect(readdirSync(dir)).toEqual(['CCD1_2026-11-26T10-31-00.fits'])
  })

  it('indi-getblobs saves BLOBs from a TCP server, prints each path, and exits after -n files', async () => {
    const dir = join(tempDir(), 'new-folder')
    const { server, cam, enabled } = cameraServer(18320)
    await server.listen()
    const child = spawn(process.execPath, [CLI, '-p', '18320', '-d', dir, '-n', '2', 'Cam'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    cleanup.push(() => {
      if (child.exitCode === null) child.kill('SIGKILL')
    })
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
    await enabled
    cam.send(blob('one', '2026-11-26T10:32:00'))
    cam.send(blob('two', '2026-11-26T10:33:00', '.jpg'))
    expect(await exited).toBe(0)
    expect(out.trim().split('\n')).toEqual([
      join(dir, 'CCD1_2026-11-26T10-32-00.fits'),
      join(dir, 'CCD1_2026-11-26T10-33-00.jpg'),
    ])
    expect(readFileSync(join(dir, 'CCD1_2026-11-26T10-33-00.jpg'), 'utf8')).toBe('two')
  })

  it('indi-getblobs exits 1 when it cannot connect and 2 on a usage error', async () => {
    const run = (args: string[]): Promise<number | null> =>
      new Promise((r) => spawn(process.execPath, [CLI, ...args], { stdio: 'ignore' }).on('exit', (c) => r(c)))
    expect(await run(['-p', '18321', '-d', tempDir()])).toBe(1)
    expect(await run(['-p', 'nope'])).toBe(2)
  })
})
