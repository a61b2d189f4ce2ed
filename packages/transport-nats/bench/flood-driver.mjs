#!/usr/bin/env node
// The benchmark's INDI driver (run by indi-server over pipes). It defines device "Flood" and, on
// a command line from the benchmark's control socket (loopback port BENCH_CTL_PORT), emits:
//   warm SEQ                  one 1 KiB BLOB (index 0) then END=SEQ
//   sets COUNT SEQ            COUNT setNumberVector P0 (values continue from the last run) then END=SEQ
//   blobs COUNT BYTES SEQ     COUNT BLOBs of BYTES (indexes 1..COUNT) then END=SEQ
// END is the marker the clients wait for. Writes respect stdout backpressure; exits on stdin EOF.
import { createConnection } from 'node:net'
import { blobPayload } from './payload.mjs'

const out = process.stdout
const write = (s) => (out.write(s) ? undefined : new Promise((r) => out.once('drain', r)))
const num = (name, v) =>
  `<setNumberVector device="Flood" name="${name}" state="Ok"><oneNumber name="V">${v}</oneNumber></setNumberVector>\n`
const blob = (index, size) =>
  `<setBLOBVector device="Flood" name="IMG" state="Ok"><oneBLOB name="FRAME" size="${size}" format=".bin">${blobPayload(index, size).toString('base64')}</oneBLOB></setBLOBVector>\n`
const defs =
  '<defNumberVector device="Flood" name="P0" state="Idle" perm="ro"><defNumber name="V" format="%g" min="0" max="0" step="0">0</defNumber></defNumberVector>\n' +
  '<defNumberVector device="Flood" name="END" state="Idle" perm="ro"><defNumber name="V" format="%g" min="0" max="0" step="0">0</defNumber></defNumberVector>\n' +
  '<defBLOBVector device="Flood" name="IMG" state="Idle" perm="ro"><defBLOB name="FRAME"/></defBLOBVector>\n'

let p0 = 0
let busy = Promise.resolve()
async function run(cmd) {
  const [op, ...a] = cmd.trim().split(/\s+/)
  const n = a.map(Number)
  if (op === 'warm') {
    await write(blob(0, 1024))
    await write(num('END', n[0]))
  } else if (op === 'sets') {
    for (let sent = 0; sent < n[0]; ) {
      let batch = ''
      for (let k = 0; k < 500 && sent < n[0]; k++, sent++) batch += num('P0', ++p0)
      await write(batch)
    }
    await write(num('END', n[1]))
  } else if (op === 'blobs') {
    for (let i = 1; i <= n[0]; i++) await write(blob(i, n[1]))
    await write(num('END', n[2]))
  }
}

process.stdin.on('data', (d) => {
  // indi-server asks with getProperties on start and for every new interested peer.
  if (String(d).includes('<getProperties')) busy = busy.then(() => write(defs))
})
process.stdin.on('end', () => process.exit(0))
const ctl = createConnection({ host: '127.0.0.1', port: Number(process.env.BENCH_CTL_PORT) }, () =>
  ctl.write(`pid ${process.pid}\n`),
)
let line = ''
ctl.on('data', (d) => {
  line += d
  for (let nl = line.indexOf('\n'); nl >= 0; nl = line.indexOf('\n')) {
    const cmd = line.slice(0, nl)
    line = line.slice(nl + 1)
    busy = busy.then(() => run(cmd))
  }
})
ctl.on('error', () => process.exit(1))
ctl.on('close', () => process.exit(0))
