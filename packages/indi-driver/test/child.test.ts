import { type ChildProcess, spawn } from 'node:child_process'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { IndiMessage } from '@indi-ts/indi-xml'
import { IndiParser } from '@indi-ts/indi-xml'
import ts from 'typescript'
import { afterEach, describe, expect, it } from 'vitest'

const FIXTURE = fileURLToPath(new URL('./fixtures/thermo-driver.mjs', import.meta.url))

/** The fixture driver as a child process, read with a raw client over its stdio. */
function spawnDriver(script = FIXTURE) {
  const child = spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', 'pipe'] })
  const parser = new IndiParser()
  const messages: IndiMessage[] = []
  let stderr = ''
  let waiters: Array<() => void> = []
  child.stdout!.on('data', (b: Buffer) => {
    for (const ev of parser.push(b)) if (ev.kind === 'message') messages.push(ev.message)
    for (const w of waiters.splice(0)) w()
  })
  child.stderr!.on('data', (b: Buffer) => {
    stderr += b.toString()
  })
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
  const stdoutEnded = new Promise<void>((r) => child.stdout!.on('end', () => r()))
  const waitFor = async (pred: (ms: IndiMessage[]) => boolean): Promise<void> => {
    while (!pred(messages)) {
      if (child.exitCode !== null) throw new Error(`driver exited: ${stderr}`)
      await new Promise<void>((r) => waiters.push(r))
    }
  }
  return {
    child,
    messages,
    exited,
    stdoutEnded,
    waitFor,
    stderr: () => stderr,
    send: (xml: string) => child.stdin!.write(xml),
    clear: () => {
      messages.length = 0
      waiters = []
    },
  }
}

const children: ChildProcess[] = []
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL')
})

describe('a driver as a child process over stdio', () => {
  it('answers getProperties, handles new*, and exits cleanly at end of input', async () => {
    const d = spawnDriver()
    children.push(d.child)
    d.send(`<?xml version='1.0'?>\n<getProperties version='1.7'/>\n`)
    await d.waitFor((ms) => ms.filter((m) => m.tag.startsWith('def')).length === 3)
    expect(d.messages.map((m) => `${m.tag} ${'name' in m ? m.name : ''}`)).toEqual([
      'defNumberVector TARGET',
      'defSwitchVector MODE',
      'defTextVector NOTE',
    ])
    d.clear()
    d.send(
      `<newNumberVector device="Thermo" name="TARGET"><oneNumber name="TEMP">\n12.5\n</oneNumber><oneNumber name="HA">-1:30</oneNumber></newNumberVector>`,
    )
    await d.waitFor((ms) => ms.some((m) => m.tag === 'setNumberVector'))
    const set = d.messages.find((m) => m.tag === 'setNumberVector')
    expect(set).toMatchObject({ device: 'Thermo', name: 'TARGET', state: 'Ok' })
    expect(set?.tag === 'setNumberVector' && set.members.map((m) => Number(m.value))).toEqual([12.5, -1.5])
    d.child.stdin!.end()
    expect(await d.exited).toBe(0)
    await d.stdoutEnded
    expect(d.stderr()).toContain('thermo: shut down')
  })

  it('answers a getProperties sent just before end of input (flushes on shutdown)', async () => {
    const d = spawnDriver()
    children.push(d.child)
    d.child.stdin!.end(`<getProperties version='1.7' device='Thermo' name='NOTE'/>`)
    expect(await d.exited).toBe(0)
    await d.stdoutEnded
    expect(d.messages.map((m) => m.tag)).toEqual(['defTextVector'])
  })

  it('shuts down on SIGTERM', async () => {
    const d = spawnDriver()
    children.push(d.child)
    d.send(`<pingRequest uid='up'/>`)
    await d.waitFor((ms) => ms.some((m) => m.tag === 'pingReply'))
    d.child.kill('SIGTERM')
    expect(await d.exited).toBe(0)
    expect(d.stderr()).toContain('thermo: shut down')
  })
})

describe('the README example', () => {
  it('runs as written: defines its vector, answers a new value, exits at end of input', async () => {
    const readme = await readFile(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8')
    const code = /```ts\n([\s\S]*?)```/.exec(readme)?.[1]
    expect(code).toContain('new Thermostat')
    const file = fileURLToPath(new URL(`./fixtures/readme-example-${process.pid}.mjs`, import.meta.url))
    // Transpiled, not type-checked here: the block is TypeScript; the test proves it runs.
    await writeFile(
      file,
      ts.transpileModule(code!, {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      }).outputText,
    )
    try {
      const d = spawnDriver(file)
      children.push(d.child)
      d.send(`<getProperties version='1.7'/>`)
      await d.waitFor((ms) => ms.some((m) => m.tag === 'defNumberVector'))
      d.send(
        `<newNumberVector device='Thermostat' name='TEMPERATURE'><oneNumber name='CELSIUS'>30</oneNumber></newNumberVector>`,
      )
      await d.waitFor((ms) =>
        ms.some((m) => m.tag === 'setNumberVector' && m.state === 'Ok' && Number(m.members[0]?.value) === 30),
      )
      d.child.stdin!.end()
      expect(await d.exited).toBe(0)
    } finally {
      await rm(file, { force: true })
    }
  })

  it('type-checks under strict settings', async () => {
    const readme = await readFile(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8')
    const code = /```ts\n([\s\S]*?)```/.exec(readme)?.[1]
    const file = fileURLToPath(new URL(`./fixtures/readme-example-${process.pid}.mts`, import.meta.url))
    await writeFile(file, code!)
    try {
      const program = ts.createProgram([file], {
        strict: true,
        noEmit: true,
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        target: ts.ScriptTarget.ES2022,
        types: ['node'],
        skipLibCheck: true,
      })
      const problems = ts
        .getPreEmitDiagnostics(program)
        .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))
      expect(problems).toEqual([])
    } finally {
      await rm(file, { force: true })
    }
  })
})
