// BLOB throughput: the binary link (msgpack frames, raw bytes) against INDI XML (base64), both
// encoding and decoding an 8 MiB BLOB, fed to the decoder in 64 KiB chunks as a socket would.
// Run after a build: `npm run build && npm run bench -w @indi-ts/indi-msgpack`.
// Options: BLOB_MIB (default 8), ROUNDS (default 12), CHUNK_KIB (default 64).
import { execSync } from 'node:child_process'
import { cpus } from 'node:os'
import { BinaryDecoder, encodeFrame, LINK_PREAMBLE } from '@indi-ts/indi-msgpack'
import { buildMessageBytes, IndiParser } from '@indi-ts/indi-xml'

const MIB = 1024 * 1024
const blobBytes = Number(process.env.BLOB_MIB ?? 8) * MIB
const rounds = Number(process.env.ROUNDS ?? 12)
const chunk = Number(process.env.CHUNK_KIB ?? 64) * 1024

// Pseudo-random, incompressible payload (a FITS frame of noise).
const data = new Uint8Array(blobBytes)
let x = 0x12345678
for (let i = 0; i < data.length; i++) {
  x ^= x << 13
  x ^= x >>> 17
  x ^= x << 5
  data[i] = x & 0xff
}
const message = {
  tag: 'setBLOBVector',
  device: 'CCD Simulator',
  name: 'CCD1',
  state: 'Ok',
  timestamp: '2026-11-24T01:09:21',
  members: [{ name: 'CCD1', size: data.length, format: '.fits', data }],
}

function feed(bytes, push) {
  let out = []
  for (let i = 0; i < bytes.length; i += chunk) out = out.concat(push(bytes.subarray(i, i + chunk)))
  return out
}

const codecs = {
  binary: {
    encode: () => encodeFrame(message),
    decode: (bytes) => {
      const d = new BinaryDecoder()
      d.push(LINK_PREAMBLE)
      return feed(bytes, (c) => d.push(c))
    },
  },
  'xml/base64': {
    encode: () => buildMessageBytes(message),
    decode: (bytes) => {
      const p = new IndiParser()
      return feed(bytes, (c) => p.push(c))
        .filter((e) => e.kind === 'message')
        .map((e) => e.message)
    },
  },
}

function check(decoded) {
  const got = decoded[0]?.members?.[0]?.data
  if (decoded.length !== 1 || !got || !Buffer.from(got).equals(data)) throw new Error('decoded BLOB differs')
}

function run(name, codec) {
  // Warm up (and verify the round trip once, outside the timed loop).
  let wire = codec.encode()
  check(codec.decode(wire))
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < rounds; i++) {
    wire = codec.encode()
    const out = codec.decode(wire)
    if (out.length !== 1) throw new Error('lost a message')
  }
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6
  const cpu = process.cpuUsage(cpu0)
  const cpuMs = (cpu.user + cpu.system) / 1000
  return {
    codec: name,
    'wire bytes': wire.length,
    'overhead %': Number(((wire.length / data.length - 1) * 100).toFixed(2)),
    'MB/s': Number(((blobBytes * rounds) / MIB / (wallMs / 1000)).toFixed(1)),
    'CPU ms/BLOB': Number((cpuMs / rounds).toFixed(2)),
  }
}

let sha = 'unknown'
try {
  sha = execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] })
    .toString()
    .trim()
} catch {}
console.log(
  `indi-msgpack BLOB bench: git ${sha}, node ${process.version}, ${cpus()[0]?.model ?? '?'} x${cpus().length}, ` +
    `BLOB ${blobBytes / MIB} MiB, ${rounds} rounds, ${chunk / 1024} KiB chunks (encode + decode per round)`,
)
const rows = [run('binary', codecs.binary)]
try {
  rows.push(run('xml/base64', codecs['xml/base64']))
} catch (error) {
  console.log(`xml/base64 unavailable: ${error.message}`)
}
console.table(rows)
if (rows.length === 2) {
  const [b, xml] = rows
  console.log(
    `binary vs XML: ${(b['MB/s'] / xml['MB/s']).toFixed(1)}x throughput, ` +
      `${(xml['CPU ms/BLOB'] / b['CPU ms/BLOB']).toFixed(1)}x less CPU per BLOB, ` +
      `${((1 - b['wire bytes'] / xml['wire bytes']) * 100).toFixed(1)}% fewer bytes`,
  )
}

// Small messages: a mount's setNumberVector, as sent several times a second per property.
const small = {
  tag: 'setNumberVector',
  device: 'Telescope Simulator',
  name: 'EQUATORIAL_EOD_COORD',
  state: 'Busy',
  timestamp: '2026-11-24T01:09:21.250',
  members: [
    { name: 'RA', value: '10.508333333333333' },
    { name: 'DEC', value: '45.000000000000001' },
  ],
}
const count = Number(process.env.SMALL_COUNT ?? 100_000)
function runSmall(name, encode, decoder) {
  const batch = 1000
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  let bytes = 0
  for (let i = 0; i < count; i += batch) {
    const parts = []
    for (let j = 0; j < batch; j++) parts.push(encode())
    const wire = Buffer.concat(parts)
    bytes += wire.length
    if (decoder(wire).length !== batch) throw new Error('lost messages')
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9
  const cpu = process.cpuUsage(cpu0)
  return {
    codec: name,
    'bytes/msg': Math.round(bytes / count),
    'msgs/s': Math.round(count / s),
    'CPU µs/msg': Number(((cpu.user + cpu.system) / count).toFixed(2)),
  }
}
const smallRows = [
  runSmall(
    'binary',
    () => encodeFrame(small),
    (() => {
      const d = new BinaryDecoder()
      d.push(LINK_PREAMBLE)
      return (w) => d.push(w)
    })(),
  ),
]
try {
  smallRows.push(
    runSmall(
      'xml',
      () => buildMessageBytes(small),
      (() => {
        const p = new IndiParser()
        return (w) => p.push(w).filter((e) => e.kind === 'message')
      })(),
    ),
  )
} catch (error) {
  console.log(`xml unavailable for small messages: ${error.message}`)
}
console.log(`${count} setNumberVector messages, encoded in batches of 1000 and decoded:`)
console.table(smallRows)
