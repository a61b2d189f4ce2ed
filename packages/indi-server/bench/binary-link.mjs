#!/usr/bin/env node
// The binary link beside the XML link, in one run: an @indi-ts/indi-driver BLOB camera (an
// executable, test/fixtures/blob-camera.mjs) sends BLOB_MIB MiB frames through IndiServer to one
// raw XML TCP client, once over XML (base64 from the driver) and once over the binary link (raw
// bytes from the driver, base64 built once by the server for the XML client). Prints BLOB MB/s at
// the client and CPU ms per BLOB in the driver process and in this process (server + client).
// Usage (after `npx tsc -b packages/indi-server`): node bench/binary-link.mjs
// Env: BLOB_MIB (8), FRAMES (12), PORT (18290, this package's bench port in 18250–18299).
import { execSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import { IndiServer } from '../dist/index.js'

const MIB = 1024 * 1024
const size = Number(process.env.BLOB_MIB ?? 8) * MIB
const frames = Number(process.env.FRAMES ?? 12)
const port = Number(process.env.PORT ?? 18290)
const camera = fileURLToPath(new URL('../test/fixtures/blob-camera.mjs', import.meta.url))
const TICK_MS = 10 // /proc/<pid>/stat counts clock ticks of 1/100 s on Linux

function procCpuMs(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(f[11]) + Number(f[12])) * TICK_MS // utime, stime
}

/** Waits for `marker` in the socket's data, scanning chunk by chunk (no big string). */
function until(sock, marker) {
  const m = Buffer.from(marker)
  let tail = Buffer.alloc(0)
  return new Promise((resolve) => {
    const onData = (chunk) => {
      const b = tail.length ? Buffer.concat([tail, chunk.subarray(0, m.length)]) : undefined
      if ((b && b.indexOf(m) >= 0) || chunk.indexOf(m) >= 0) {
        sock.off('data', onData)
        resolve()
      } else tail = chunk.subarray(Math.max(0, chunk.length - m.length))
    }
    sock.on('data', onData)
  })
}

async function run(binary) {
  const server = new IndiServer({ port, verbosity: 0, logger: () => {} })
  await server.listen()
  const info = server.addExecutable({
    command: process.execPath,
    args: [camera],
    name: 'camera',
    binary,
    env: { CAMERA_BYTES: String(size), CAMERA_REUSE: '1' },
  })
  const sock = connect({ host: '127.0.0.1', port })
  await new Promise((r) => sock.once('connect', r))
  const defined = until(sock, '<defBLOBVector device="Binary Camera"')
  sock.write('<getProperties version="1.7"/>')
  await defined
  sock.write('<enableBLOB device="Binary Camera">Also</enableBLOB>')
  const expose = async () => {
    const done = until(sock, '<setSwitchVector device="Binary Camera" name="EXPOSE"')
    sock.write(
      '<newSwitchVector device="Binary Camera" name="EXPOSE"><oneSwitch name="GO">On</oneSwitch></newSwitchVector>',
    )
    await done
  }
  await expose() // warm-up
  const pid = server.driverStats().find((d) => d.id === info.id)?.pid
  const d0 = procCpuMs(pid)
  const c0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < frames; i++) await expose()
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6
  const c = process.cpuUsage(c0)
  const driverMs = procCpuMs(pid) - d0
  sock.destroy()
  await server.close()
  const serverMs = (c.user + c.system) / 1000
  return {
    link: binary ? 'binary' : 'xml/base64',
    'BLOB MB/s': Number(((size * frames) / MIB / (wallMs / 1000)).toFixed(1)),
    'driver CPU ms/BLOB': Number((driverMs / frames).toFixed(1)),
    'server+client CPU ms/BLOB': Number((serverMs / frames).toFixed(1)),
    'total CPU ms/BLOB': Number(((driverMs + serverMs) / frames).toFixed(1)),
  }
}

let sha = 'unknown'
try {
  sha = execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] })
    .toString()
    .trim()
} catch {}
console.log(
  `indi-server binary-link bench: git ${sha}, node ${process.version}, ${cpus()[0]?.model} x${cpus().length}, ` +
    `BLOB ${size / MIB} MiB, ${frames} frames, driver executable -> IndiServer -> raw XML TCP client`,
)
const rows = [await run(false), await run(true)]
console.table(rows)
const [x, b] = rows
console.log(
  `binary vs XML: ${(b['BLOB MB/s'] / x['BLOB MB/s']).toFixed(2)}x throughput, driver CPU ${(
    x['driver CPU ms/BLOB'] / Math.max(0.1, b['driver CPU ms/BLOB'])
  ).toFixed(1)}x less, total CPU ${(x['total CPU ms/BLOB'] / b['total CPU ms/BLOB']).toFixed(2)}x less`,
)
