import { createHash, randomBytes } from 'node:crypto'
import { IndiError } from '@indi-ts/indi-xml'
import { collect, writeAll } from '@indi-ts/transport'
import { afterEach, describe, expect, it } from 'vitest'
import { type DriverProcess, type SpawnDriverOptions, spawnDriver } from '../src/index.js'
import { fixture } from './pair.js'

const started: DriverProcess[] = []
afterEach(async () => {
  for (const d of started.splice(0)) {
    d.kill('SIGKILL')
    await d.exited
  }
})

function start(command: string, args: string[] = [], options: SpawnDriverOptions = {}): DriverProcess {
  const d = spawnDriver(command, args, { onStderrLine: () => {}, ...options })
  started.push(d)
  return d
}

const node = (script: string, args: string[] = [], options: SpawnDriverOptions = {}) =>
  start(process.execPath, [fixture(script), ...args], options)

/** A child that reports on stderr what kind of file its fds 0 and 1 are. */
const FD_KINDS = `const fs = require('fs')
const kind = (fd) => { const s = fs.fstatSync(fd); return s.isFIFO() ? 'fifo' : s.isSocket() ? 'socket' : 'other' }
process.stderr.write(kind(0) + ' ' + kind(1) + '\\n')`

describe('spawnDriver', () => {
  it('echoes 4 MiB through cat and reports a clean exit', async () => {
    const d = start('cat')
    const data = randomBytes(4 << 20)
    const got = collect(d.connection)
    await writeAll(d.connection, [data])
    await d.connection.end()
    expect(Buffer.concat(await got).equals(data)).toBe(true)
    expect(await d.exited).toEqual({ code: 0, signal: null })
    expect(await d.connection.closed).toBeUndefined()
  })

  it('labels the connection exec:<command> unless told otherwise', () => {
    expect(start('cat').connection.label).toBe('exec:cat')
    expect(start('cat', [], { label: 'driver:cat' }).connection.label).toBe('driver:cat')
  })

  it('gives the driver real pipes, not a socket pair, for stdin and stdout', async () => {
    const lines: string[] = []
    const d = start(process.execPath, ['-e', FD_KINDS], { onStderrLine: (l) => lines.push(l) })
    await d.exited
    await collect(d.connection)
    expect(lines).toEqual(['fifo fifo'])
  })

  it("uses Node's socket pairs when asked to", async () => {
    const lines: string[] = []
    const d = start(process.execPath, ['-e', FD_KINDS], {
      stdio: 'socketpair',
      onStderrLine: (l) => lines.push(l),
    })
    await d.exited
    await collect(d.connection)
    expect(lines).toEqual(['socket socket'])
  })

  it('reports a missing executable as ERR_INDI_SPAWN on closed, iteration and exited', async () => {
    const d = start('/nonexistent/indi_driver_xyz')
    const closed = await d.connection.closed
    expect(IndiError.is(closed, 'ERR_INDI_SPAWN')).toBe(true)
    expect((closed as Error).cause).toMatchObject({ code: 'ENOENT' })
    await expect(collect(d.connection)).rejects.toSatisfy((e) => IndiError.is(e, 'ERR_INDI_SPAWN'))
    const exit = await d.exited
    expect(exit.code).toBeNull()
    expect(IndiError.is(exit.error, 'ERR_INDI_SPAWN')).toBe(true)
    expect(d.pid).toBeUndefined()
  })

  it('delivers the last output of a crashing driver, then fails with ERR_INDI_CONNECTION_RESET', async () => {
    const d = node('exit.mjs', ['3'])
    const chunks: Uint8Array[] = []
    const e = await (async () => {
      for await (const c of d.connection) chunks.push(c)
    })().catch((x: unknown) => x)
    expect(Buffer.concat(chunks).toString()).toBe('<message message="bye"/>\n')
    expect(IndiError.is(e, 'ERR_INDI_CONNECTION_RESET')).toBe(true)
    expect((e as Error).message).toContain('exited with code 3')
    expect(await d.exited).toEqual({ code: 3, signal: null })
    expect(IndiError.is(await d.connection.closed, 'ERR_INDI_CONNECTION_RESET')).toBe(true)
  })

  it('ends the iteration cleanly when the driver exits with 0', async () => {
    const d = node('exit.mjs', ['0'])
    expect(Buffer.concat(await collect(d.connection)).toString()).toBe('<message message="bye"/>\n')
    expect(await d.connection.closed).toBeUndefined()
  })

  it('splits stderr into lines for onStderrLine', async () => {
    const lines: string[] = []
    const d = start('sh', ['-c', 'printf "one\\ntwo\\r\\nthree" >&2'], { onStderrLine: (l) => lines.push(l) })
    await d.exited
    await collect(d.connection)
    await new Promise((r) => setImmediate(r))
    expect(lines).toEqual(['one', 'two', 'three'])
  })

  it('connection.close() ends stdin so a well-behaved driver exits', async () => {
    const d = start('cat')
    await d.connection.close()
    expect(await d.exited).toEqual({ code: 0, signal: null })
  })

  it('connection.destroy() terminates the driver with SIGTERM', async () => {
    const d = start('sleep', ['30'])
    d.connection.destroy(new Error('stop'))
    expect(await d.exited).toEqual({ code: null, signal: 'SIGTERM' })
  })

  it('kill() sends the given signal and returns false once the driver is gone', async () => {
    const d = start('sleep', ['30'])
    expect(d.pid).toBeGreaterThan(0)
    expect(d.kill('SIGKILL')).toBe(true)
    expect(await d.exited).toEqual({ code: null, signal: 'SIGKILL' })
    expect(d.kill()).toBe(false)
    expect(IndiError.is(await d.connection.closed, 'ERR_INDI_CONNECTION_RESET')).toBe(true)
  })
})

describe('stdioConnection (in a child process)', () => {
  it('echoes 8 MiB with backpressure in both directions', async () => {
    const d = node('echo.mjs')
    const data = randomBytes(8 << 20)
    const hash = (await (async () => {
      const got = (async () => {
        const h = createHash('sha256')
        for await (const c of d.connection) h.update(c)
        return h.digest('hex')
      })()
      await writeAll(d.connection, [data])
      await d.connection.end()
      return got
    })()) as string
    expect(hash).toBe(createHash('sha256').update(data).digest('hex'))
    expect(await d.exited).toEqual({ code: 0, signal: null })
  })

  it('never blocks the event loop when the reader stalls: send() turns false instead', async () => {
    const lines: string[] = []
    let ticked: () => void = () => {}
    const tick = new Promise<void>((r) => {
      ticked = r
    })
    const d = node('flood.mjs', [], {
      onStderrLine: (l) => {
        lines.push(l)
        if (l === 'tick') ticked()
      },
    })
    // We read nothing until the child's timer fired: with blocking writes it never would.
    await tick
    const total = (await collect(d.connection)).reduce((s, c) => s + c.length, 0)
    await d.exited
    expect(total).toBe(4 * 1024 * 1024)
    expect(lines).toEqual(['tick', `total ${total}`])
  })
})
