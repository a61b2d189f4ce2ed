import { execFileSync } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { type DriverProcess, spawnDriver } from '../../src/index.js'

function installed(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

const drivers: DriverProcess[] = []
afterEach(async () => {
  for (const d of drivers.splice(0)) {
    d.kill('SIGKILL')
    await d.exited
  }
})

/** Reads until `done(text)` is true; returns the text received so far. */
async function readUntil(d: DriverProcess, done: (text: string) => boolean): Promise<string> {
  let text = ''
  const it = d.connection[Symbol.asyncIterator]()
  try {
    while (!done(text)) {
      const r = await it.next()
      if (r.done === true) break
      text += Buffer.from(r.value).toString('utf8')
    }
  } finally {
    await it.return?.()
  }
  return text
}

describe.skipIf(!installed('indi_simulator_telescope'))('spawnDriver with indilib drivers', () => {
  it('indi_simulator_telescope answers getProperties with its definitions', async () => {
    const d = spawnDriver('indi_simulator_telescope', [], { onStderrLine: () => {} })
    drivers.push(d)
    d.connection.send(Buffer.from("<getProperties version='1.7'/>\n"))
    const text = await readUntil(d, (t) => /name=['"]CONNECTION['"][\s\S]*<\/defSwitchVector>/.test(t))
    // libindi 1.9 writes single-quoted attributes, one per line.
    expect(text).toMatch(/device=['"]Telescope Simulator['"]/)
    expect(text).toMatch(/<defSwitchVector[^>]+name=['"]CONNECTION['"]/)
  })

  it('indi_simulator_telescope exits when its stdin ends', async () => {
    const d = spawnDriver('indi_simulator_telescope', [], { onStderrLine: () => {} })
    drivers.push(d)
    const reading = readUntil(d, () => false)
    await d.connection.end()
    const exit = await d.exited
    await reading.catch(() => undefined)
    expect(exit.signal).toBeNull()
  })

  it('indi_simulator_ccd sends its BLOB inline as base64 over our pipes', async () => {
    const d = spawnDriver('indi_simulator_ccd', [], { onStderrLine: () => {} })
    drivers.push(d)
    const c = d.connection
    c.send(Buffer.from("<getProperties version='1.7'/>\n"))
    await readUntil(d, (t) => /name=['"]CONNECTION['"]/.test(t))
    c.send(
      Buffer.from(
        "<newSwitchVector device='CCD Simulator' name='CONNECTION'><oneSwitch name='CONNECT'>On</oneSwitch></newSwitchVector>\n",
      ),
    )
    await readUntil(d, (t) => /name=['"]CCD_EXPOSURE['"]/.test(t))
    c.send(Buffer.from("<enableBLOB device='CCD Simulator'>Also</enableBLOB>\n"))
    c.send(
      Buffer.from(
        "<newNumberVector device='CCD Simulator' name='CCD_EXPOSURE'><oneNumber name='CCD_EXPOSURE_VALUE'>0.1</oneNumber></newNumberVector>\n",
      ),
    )
    const text = await readUntil(d, (t) => /<oneBLOB[^>]*>[\s\S]*?<\/oneBLOB>/.test(t))
    const blob = /<oneBLOB([^>]*)>/.exec(text)?.[1] ?? ''
    expect(blob).toContain('enclen=')
    expect(blob).not.toContain('attached')
  })
})
