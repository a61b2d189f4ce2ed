import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { once as onceEvent } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { Reader } from './helpers.js'

// The built command (run `npx tsc -b packages/indi-server` first, as for every cross-package test).
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const FIXTURE = fileURLToPath(new URL('./fixtures/raw-driver.mjs', import.meta.url))

const children: ChildProcess[] = []
const dirs: string[] = []
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL')
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function run(args: string[]): { child: ChildProcess; err: Reader; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  const err = new Reader()
  child.stderr!.on('data', (d) => err.push(d))
  child.stdout!.on('data', (d) => err.push(d))
  const exit = onceEvent(child, 'exit').then(([code]) => code as number | null)
  return { child, err, exit }
}

async function client(port: number): Promise<Reader> {
  for (;;) {
    const sock = connect({ host: '127.0.0.1', port })
    try {
      await onceEvent(sock, 'connect')
    } catch {
      await new Promise((r) => setTimeout(r, 50))
      continue
    }
    const r = new Reader()
    sock.on('data', (d) => r.push(d))
    sock.on('close', () => r.end())
    sock.write('<getProperties version="1.7"/>')
    children.push({ exitCode: null, kill: () => sock.destroy() } as unknown as ChildProcess)
    return r
  }
}

describe('indi-server command', () => {
  it('prints the usage and exits 2 with no driver and no -f', async () => {
    const { err, exit } = run([])
    expect(await exit).toBe(2)
    expect(err.text).toContain('Usage: indi-server')
  })

  it('prints the usage on --help and exits 0', async () => {
    const { err, exit } = run(['--help'])
    expect(await exit).toBe(0)
    expect(err.text).toContain('--allow')
  })

  it('exits 2 on a bad option', async () => {
    const { err, exit } = run(['-p', 'x', 'drv'])
    expect(await exit).toBe(2)
    expect(err.text).toContain('not a whole number')
  })

  it('serves drivers given as arguments and stops gracefully on SIGTERM', async () => {
    const { child, err, exit } = run(['-v', '-p', '17820', FIXTURE])
    const c = await client(17820)
    await c.waitFor("<defSwitchVector device='Raw'")
    child.kill('SIGTERM')
    expect(await exit).toBe(0)
    expect(err.text).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d: startup: indi-server -v -p 17820 /m)
    expect(err.text).toMatch(/: Driver .*raw-driver\.mjs: env INDIDEV=/)
  })

  it('exits 1 like indiserver when its last driver is gone and there is no FIFO', async () => {
    const { err, exit } = run(['-r', '0', '-p', '17821', 'false'])
    expect(await exit).toBe(1)
    expect(err.text).toContain('Driver false: Terminated after #0 restarts.')
    expect(err.text).toContain('good bye')
  })

  it('keeps running with zero drivers when -f is given, and starts drivers from the FIFO', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'indi-server-cli-'))
    dirs.push(dir)
    const fifo = join(dir, 'fifo')
    execFileSync('mkfifo', [fifo])
    const { child, exit } = run(['-p', '17822', '-f', fifo])
    const c = await client(17822)
    writeFileSync(fifo, `start ${FIXTURE} -n "Fifo Dev"\n`)
    await c.waitFor("<defSwitchVector device='Fifo Dev'")
    child.kill('SIGINT')
    expect(await exit).toBe(0)
  })
})
