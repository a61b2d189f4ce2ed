// The benchmark's driver: a 3-member NumberVector updated and sent in a tight loop over stdout.
// Reports its own figure (time until every message was handed to stdout) on stderr as JSON.
import { Device, Driver, NumberVector, silentLogger } from '@indi-ts/indi-driver'

const count = Number(process.argv[2] ?? 1_000_000)
const eq = new NumberVector({
  name: 'EQUATORIAL_EOD_COORD',
  members: [
    { name: 'RA', format: '%010.6m', min: 0, max: 24, value: 0 },
    { name: 'DEC', format: '%010.6m', min: -90, max: 90, value: 0 },
    { name: 'ALT', format: '%g', value: 0 },
  ],
})

class Emitter extends Driver {
  async hardware() {
    const t0 = process.hrtime.bigint()
    const cpu0 = process.cpuUsage()
    for (let i = 0; i < count; i++) {
      eq.set('RA', (i % 86400) / 3600)
        .set('DEC', (i % 180) - 90 + 0.25)
        .set('ALT', i)
      // Synchronous fast path; await only when the bounded writer queue is full (backpressure).
      if (!eq.trySendSet()) await eq.sendSet()
    }
    await this.flush()
    const s = Number(process.hrtime.bigint() - t0) / 1e9
    const cpu = process.cpuUsage(cpu0)
    const cpuSeconds = (cpu.user + cpu.system) / 1e6
    // Per CPU-second too: on a loaded 2-core machine the wall-clock figure mostly measures the load.
    const out = {
      messages: count,
      seconds: s,
      perSecond: Math.round(count / s),
      perCpuSecond: Math.round(count / cpuSeconds),
    }
    process.stderr.write(`${JSON.stringify(out)}\n`)
    void this.close()
  }
}

await new Emitter({ devices: [new Device({ name: 'Bench', vectors: [eq] })], logger: silentLogger }).run()
