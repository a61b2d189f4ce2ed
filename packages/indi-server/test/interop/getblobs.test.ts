/**
 * The client BLOB folder against real libindi output: `indi-getblobs` connected to a server running
 * indilib's CCD simulator writes each frame to `CCD1_<timestamp>.fits`, byte for byte what a raw
 * client decodes from the same server (72-column base64 over pipes, `enclen`, indiserver's
 * re-encoding of attached BLOBs).
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  CCD,
  connectDevices,
  expose,
  type Frame,
  hasIndi,
  type RawClient,
  type RunningServer,
  repoRoot,
  serverKinds,
  startServer,
  stopAllServers,
  waitForDevices,
} from './harness.js'

// Ports 18330–18331: this parity work's range, outside the interop harness's portBlock range.
let port = 18330
const nextPort = (): number => port++
const CLI = join(repoRoot, 'packages/indi-server/dist/getblobs-cli.js')

describe.skipIf(!hasIndi).each(serverKinds)('interop on %s: indi-getblobs saves CCD frames', (kind) => {
  let server: RunningServer
  let client: RawClient
  let dir: string

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'indi-getblobs-interop-'))
    server = await startServer({ kind, port: nextPort(), drivers: ['indi_simulator_ccd'] })
    client = await waitForDevices(server.port, [CCD])
    await connectDevices(client, [CCD])
    client.send(`<enableBLOB device="${CCD}">Also</enableBLOB>`)
  })
  afterAll(async () => {
    client?.close()
    await server?.stop()
    await stopAllServers()
    rmSync(dir, { recursive: true, force: true })
  })

  it('writes a frame to CCD1_<timestamp>.fits identical to the one a raw client decodes', async () => {
    const child = spawn(process.execPath, [CLI, '-p', String(server.port), '-d', dir, '-n', '1', CCD], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    let exited = false
    const exit = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => {
        exited = true
        resolve(code)
      }),
    )
    try {
      // The command enables BLOBs on its own connection once it sees the CCD's definitions; keep
      // exposing until it has saved one (each frame is also decoded here, for comparison).
      const frames: Frame[] = []
      while (!exited && frames.length < 10) frames.push(await expose(client))
      expect(await exit).toBe(0)
      const files = readdirSync(dir)
      expect(files).toHaveLength(1)
      expect(files[0]).toMatch(/^CCD1_\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d(\.\d+)?(_\d+)?\.fits$/)
      expect(out.trim()).toBe(join(dir, files[0]!))
      const saved = readFileSync(join(dir, files[0]!))
      expect(saved.subarray(0, 9).toString('latin1')).toBe('SIMPLE  =')
      expect(frames.some((f) => f.bytes.equals(saved))).toBe(true)
    } finally {
      if (!exited) child.kill('SIGKILL')
    }
  })
})
