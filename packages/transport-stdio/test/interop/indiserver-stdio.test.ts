import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fixture } from '../pair.js'

const run = promisify(execFile)
const PORT = 17701 // this package's interop range: 17700–17749
const SOCK = `/tmp/indi-ts-stdio-${PORT}`

function installed(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

describe.skipIf(!installed('indiserver') || !installed('indi_getprop'))(
  'stdioConnection under indiserver',
  () => {
    let server: ChildProcess | undefined
    const log: string[] = []

    beforeAll(async () => {
      rmSync(SOCK, { force: true })
      server = spawn('indiserver', ['-v', '-p', String(PORT), '-u', SOCK, fixture('indi-echo-driver.mjs')], {
        stdio: ['ignore', 'ignore', 'pipe'],
      })
      server.stderr?.on('data', (d: Buffer) => log.push(d.toString()))
      // Ready once the port accepts a getprop (retry: indiserver binds after forking the driver).
      for (let i = 0; i < 50; i++) {
        try {
          await run('indi_getprop', ['-p', String(PORT), '-t', '2', 'TS Echo.INFO.HELLO'])
          return
        } catch {
          await new Promise((r) => setTimeout(r, 100))
        }
      }
    })

    afterAll(() => {
      if (server?.pid !== undefined) process.kill(server.pid, 'SIGTERM')
      rmSync(SOCK, { force: true })
    })

    it('indi_getprop reads the value the driver defined', async () => {
      const { stdout } = await run('indi_getprop', ['-p', String(PORT), '-t', '3', 'TS Echo.INFO.HELLO'])
      expect(stdout.trim()).toBe('TS Echo.INFO.HELLO=world')
    })

    it('a burst larger than the socket buffer arrives whole', async () => {
      const { stdout } = await run('indi_getprop', ['-p', String(PORT), '-t', '2', 'TS Echo.*.*'], {
        maxBuffer: 16 << 20,
      })
      const lines = stdout.trim().split('\n')
      expect(lines).toContain('TS Echo.N1999.V=1999')
      // Every vector, each intact. The driver answers each getProperties with the whole burst and
      // indiserver sends defs to every client of the device, so the tail of the burst answering
      // the previous test's indi_getprop may arrive too: count distinct lines.
      const distinct = new Set(lines)
      expect(distinct.size).toBe(2001)
      for (let i = 0; i < 2000; i++) expect(distinct.has(`TS Echo.N${i}.V=${i}`)).toBe(true)
    })
  },
)
