import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { connect as netConnect, type Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canConnect, hasNatsServer, NatsServer, Reader } from '../helpers.js'

// Real components started the way users start them: Debian's nats-server, our indi-server CLI on
// two sites, indilib's C++ simulators and command-line clients. Ports 18220-18229.
const CLI = fileURLToPath(new URL('../../../indi-server/dist/cli.js', import.meta.url))
const execp = promisify(execFile)
const run = (cmd: string, args: string[]) => execp(cmd, args, { timeout: 60_000 })
const nats = new NatsServer(18220)
const PORT_A = 18221
const PORT_B = 18222
const procs: ChildProcess[] = []

function indiServer(port: number, args: string[]): ChildProcess {
  const p = spawn(process.execPath, [CLI, '-p', String(port), '--nats', nats.url, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  p.stderr!.resume()
  procs.push(p)
  return p
}

/**
 * Matches `xml` however its producer formatted it. We forward a driver's bytes unchanged, and
 * libindi writes `<defNumberVector\n  device='…'`: attributes quoted with ' and separated by a
 * newline and indentation. Only definitions the exporter rebuilt (`mergeDef`, after a set*) come
 * out as `<defNumberVector device="…"`, so a literal pattern would match some replies and not others.
 * Quotes match either kind; a space outside a quoted value matches any run of XML whitespace; text
 * inside a quoted value stays exact.
 */
const q = (xmlWithDoubleQuotes: string): RegExp =>
  new RegExp(
    xmlWithDoubleQuotes
      .split('"')
      .map((part, i) => {
        const escaped = part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
        return i % 2 === 0 ? escaped.replace(/ +/g, '\\s+') : escaped
      })
      .join(`["']`),
    'g',
  )
const seen = (r: Reader, xml: string, times = 1): Promise<void> =>
  r.until(() => (r.text.match(q(xml))?.length ?? 0) >= times, xml)

/** A raw INDI client on TCP that records everything (latin1: base64 and XML are ASCII). */
function client(port: number): Promise<{ socket: Socket; in: Reader; send(xml: string): void }> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port }, () =>
      resolve({ socket, in: reader, send: (xml) => void socket.write(xml) }),
    )
    const reader = new Reader()
    socket.on('data', (d) => reader.push(d))
    socket.on('close', () => reader.end())
    socket.on('error', reject)
  })
}

const hasIndi = await run('sh', ['-c', 'command -v indi_simulator_telescope && command -v indi_setprop'])
  .then(() => true)
  .catch(() => false)
if (!hasNatsServer || !hasIndi)
  console.warn('transport-nats interop: nats-server or indi-bin missing; skipping')

describe.skipIf(!hasNatsServer || !hasIndi)(
  'two indi-server sites over nats-server with indilib programs',
  () => {
    beforeAll(async () => {
      await nats.start()
      indiServer(PORT_A, [
        '--nats-site',
        'A',
        '--nats-export',
        '*',
        'indi_simulator_telescope',
        'indi_simulator_ccd',
      ])
      indiServer(PORT_B, ['--nats-site', 'B', '--nats-import', '*'])
      for (const port of [PORT_A, PORT_B]) {
        const deadline = performance.now() + 20_000
        while (!(await canConnect(port))) {
          if (performance.now() > deadline) throw new Error(`indi-server on ${port} did not start`)
          await new Promise((r) => setTimeout(r, 50))
        }
      }
    })
    afterAll(async () => {
      for (const p of procs.splice(0)) {
        if (p.exitCode !== null) continue
        const exited = new Promise((r) => p.once('exit', r))
        p.kill('SIGTERM')
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))])
        if (p.exitCode === null) p.kill('SIGKILL')
      }
      await nats.stop()
    })

    async function importedOnB(device: string): Promise<void> {
      const c = await client(PORT_B)
      try {
        c.send('<getProperties version="1.7"/>')
        await seen(c.in, `device="${device}"`)
      } finally {
        c.socket.destroy()
      }
    }

    it('lets indi_setprop on site B slew the C++ telescope simulator on site A', async () => {
      await importedOnB('Telescope Simulator')
      await run('indi_setprop', ['-p', String(PORT_B), 'Telescope Simulator.CONNECTION.CONNECT=On'])
      await run('indi_eval', [
        '-p',
        String(PORT_B),
        '-t',
        '20',
        '-w',
        '"Telescope Simulator.CONNECTION.CONNECT"==1',
      ])
      await run('indi_setprop', [
        '-p',
        String(PORT_B),
        'Telescope Simulator.EQUATORIAL_EOD_COORD.RA;DEC=10:30:00;45',
      ])
      await run('indi_eval', [
        '-p',
        String(PORT_B),
        '-t',
        '60',
        '-w',
        '"Telescope Simulator.EQUATORIAL_EOD_COORD._STATE"==1',
      ])
      const { stdout } = await run('indi_getprop', [
        '-p',
        String(PORT_B),
        '-t',
        '5',
        'Telescope Simulator.EQUATORIAL_EOD_COORD.*',
      ])
      const ra = Number(/RA=([-\d.]+)/.exec(stdout)?.[1])
      const dec = Number(/DEC=([-\d.]+)/.exec(stdout)?.[1])
      expect(Math.abs(ra - 10.5)).toBeLessThan(0.05)
      expect(Math.abs(dec - 45)).toBeLessThan(0.05)
    })

    it('carries a CCD simulator frame to site B byte for byte', async () => {
      await importedOnB('CCD Simulator')
      const a = await client(PORT_A)
      const b = await client(PORT_B)
      try {
        for (const c of [a, b]) {
          c.send('<getProperties version="1.7"/>')
          c.send('<enableBLOB device="CCD Simulator">Also</enableBLOB>')
        }
        await seen(b.in, 'device="CCD Simulator"')
        await run('indi_setprop', ['-p', String(PORT_B), 'CCD Simulator.CONNECTION.CONNECT=On'])
        await seen(b.in, 'name="CCD_EXPOSURE"')
        await run('indi_setprop', ['-p', String(PORT_B), 'CCD Simulator.CCD_EXPOSURE.CCD_EXPOSURE_VALUE=0.1'])
        await seen(a.in, '</setBLOBVector>')
        await seen(b.in, '</setBLOBVector>')
        const frame = (r: Reader): Buffer => {
          const m = /<setBLOBVector[^>]*>\s*<oneBLOB([^>]*)>([^<]*)<\/oneBLOB>/.exec(r.text)!
          const data = Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64')
          expect(data.length).toBe(Number(/size=["'](\d+)["']/.exec(m[1]!)![1]))
          return data
        }
        const fa = frame(a.in)
        const fb = frame(b.in)
        expect(fb.length).toBeGreaterThan(1024 * 1024) // above NATS's max_payload: it was chunked
        expect(createHash('sha256').update(fb).digest('hex')).toBe(
          createHash('sha256').update(fa).digest('hex'),
        )
      } finally {
        a.socket.destroy()
        b.socket.destroy()
      }
    })

    it('deletes the imported devices when nats-server dies, keeps site A serving, and defines them again after a restart', async () => {
      await importedOnB('Telescope Simulator')
      const b = await client(PORT_B)
      const a = await client(PORT_A)
      try {
        b.send('<getProperties version="1.7"/>')
        a.send('<getProperties version="1.7" device="Telescope Simulator"/>')
        await seen(b.in, '<defNumberVector device="Telescope Simulator"')
        await nats.stop()
        await seen(b.in, '<delProperty device="Telescope Simulator"')
        // Site A still serves its own drivers: a fresh getprop there works while NATS is down.
        const { stdout } = await run('indi_getprop', [
          '-p',
          String(PORT_A),
          '-t',
          '3',
          'Telescope Simulator.CONNECTION.*',
        ])
        expect(stdout).toContain('Telescope Simulator.CONNECTION.CONNECT=')
        const before = b.in.text.match(q('<defNumberVector device="Telescope Simulator"'))!.length
        await nats.start()
        await seen(b.in, '<defNumberVector device="Telescope Simulator"', before + 1)
      } finally {
        a.socket.destroy()
        b.socket.destroy()
      }
    })
  },
)
