/**
 * Harness for the interop suite: starts indilib's `indiserver` or our `indi-server` CLI on loopback,
 * runs indilib's command-line tools, and talks raw INDI over TCP.
 *
 * Every process is started here and stopped by its PID (never by name). Waits are bounded by
 * deadlines and driven by events (bytes, log lines, exits); nothing sleeps to "let things settle",
 * because the telescope simulator emits every 250 ms and a "read until quiet" loop never ends
 * (indi-protocol.md §4.2).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach } from 'vitest'

const here = dirname(fileURLToPath(import.meta.url))

/** Repository root (packages/indi-server/test/interop → ../../../..). */
export const repoRoot = resolve(here, '../../../..')

/** Our server's CLI, built by `npx tsc -b packages/indi-server`. */
export const ourCli = resolve(repoRoot, 'packages/indi-server/dist/cli.js')

/** Folder of fixture drivers (executables with a `#!/usr/bin/env node` shebang). */
export const fixturesDir = resolve(here, 'fixtures')

/** Absolute path of a program on PATH, or undefined. */
export function which(program: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    const candidate = join(dir, program)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // not in this directory
    }
  }
  return undefined
}

/** indilib's reference server; the whole suite is skipped without it (CI installs indi-bin). */
export const indiserverPath = which('indiserver')
export const hasIndi =
  indiserverPath !== undefined &&
  which('indi_getprop') !== undefined &&
  which('indi_simulator_telescope') !== undefined &&
  which('indi_simulator_ccd') !== undefined

export type ServerKind = 'indiserver' | 'ours'

/**
 * Which servers the scenarios run on. `INDI_INTEROP_SERVERS=indiserver` limits a local run to
 * the reference (useful while our server is being written); CI runs both.
 */
export const serverKinds: ServerKind[] = (process.env.INDI_INTEROP_SERVERS ?? 'indiserver,ours')
  .split(',')
  .map((s) => s.trim())
  .filter((s): s is ServerKind => s === 'indiserver' || s === 'ours')

/**
 * Port allocator for one test file. The suite owns loopback ports 18000–18099; each file gets its
 * own block so files never reuse a port that may still be in TIME_WAIT from another file.
 */
export function portBlock(first: number, size = 10): () => number {
  let next = first
  return () => {
    if (next >= first + size || next > 18099) throw new Error(`port block ${first}+${size} exhausted`)
    return next++
  }
}

/** Resolves when `predicate()` is true, polling `intervalMs`; rejects at the deadline with `what`. */
export async function until(
  predicate: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await predicate()) return
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}

// ---------------------------------------------------------------------------------------------
// Processes

/** Direct children of `pid` (from /proc), e.g. the drivers a server forked. */
export function childPids(pid: number): number[] {
  const out: number[] = []
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim()
      if (text !== '') out.push(...text.split(/\s+/).map(Number))
    }
  } catch {
    // the process is gone: no children to report
  }
  return [...new Set(out)]
}

/** argv of a process, or undefined once it has gone. */
export function cmdline(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)
  } catch {
    return undefined
  }
}

/** True while `pid` exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // state is the field after "(comm)"; comm may contain spaces, so split at the last ')'
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state !== 'Z' && state !== 'X'
  } catch {
    return false
  }
}

/**
 * A child or grandchild of `pid` (a server may spawn drivers through a shell) whose argv holds
 * `name` or a path ending in `/name` (e.g. 'indi_simulator_ccd').
 */
export function childNamed(pid: number, name: string): number | undefined {
  const kids = childPids(pid)
  return [...kids, ...kids.flatMap(childPids)].find((c) =>
    (cmdline(c) ?? []).some((a) => a === name || a.endsWith(`/${name}`)),
  )
}

function killPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal)
  } catch {
    // already gone
  }
}

/**
 * Stops `pid` and the processes it forked (found before the kill, so they are still ours):
 * SIGTERM first, SIGKILL after `graceMs`. Drivers also exit by themselves on EOF of stdin.
 */
export async function killTree(pid: number, graceMs = 3000): Promise<void> {
  const kids = childPids(pid)
  const grandKids = kids.flatMap(childPids)
  const all = [pid, ...kids, ...grandKids]
  killPid(pid, 'SIGTERM')
  try {
    await until(() => all.every((p) => !isAlive(p)), 'processes to exit', graceMs)
  } catch {
    for (const p of all) if (isAlive(p)) killPid(p, 'SIGKILL')
    await until(() => all.every((p) => !isAlive(p)), 'processes to die after SIGKILL', 5000).catch(() => {})
  }
}

// ---------------------------------------------------------------------------------------------
// Servers

export interface ServerOptions {
  kind: ServerKind
  port: number
  /** Driver executables and `dev@host:port` remotes, as positional arguments. */
  drivers: string[]
  /** Extra options placed before the drivers (e.g. ['-r', '0']). */
  args?: string[]
  env?: NodeJS.ProcessEnv
  /**
   * Runs this instead of a server CLI (e.g. a script using IndiServer as a library), given the
   * port as its last argument. `drivers` and `args` are ignored then.
   */
  script?: string
}

export interface RunningServer {
  readonly kind: ServerKind
  readonly port: number
  readonly pid: number
  readonly process: ChildProcess
  /** stdout + stderr lines so far (indiserver logs on stderr). */
  readonly log: string[]
  /** Settles when the server process exits. */
  readonly exited: Promise<{ code: number | null; signal: string | null }>
  /** Resolves once a log line matches, or rejects at the deadline. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>
  stop(): Promise<void>
}

/** Command line for a server of `kind`; ours gets `--host 127.0.0.1`, indiserver its own `-u`. */
export function serverCommand(o: ServerOptions): { command: string; args: string[] } {
  if (o.script !== undefined) return { command: process.execPath, args: [o.script, String(o.port)] }
  const common = ['-v', '-p', String(o.port), ...(o.args ?? [])]
  if (o.kind === 'indiserver') {
    return {
      command: indiserverPath ?? 'indiserver',
      args: [...common, '-u', `/tmp/indi-interop-${o.port}`, ...o.drivers],
    }
  }
  if (!existsSync(ourCli)) {
    throw new Error(`${ourCli} is missing: build it with \`npx tsc -b packages/indi-server\``)
  }
  return { command: process.execPath, args: [ourCli, ...common, '--host', '127.0.0.1', ...o.drivers] }
}

/** Resolves once a TCP connect to 127.0.0.1:port succeeds. */
export async function waitForPort(port: number, timeoutMs = 10_000, alive: () => boolean = () => true) {
  await until(
    () => {
      if (!alive()) throw new Error(`server for port ${port} exited before listening`)
      return new Promise<boolean>((res) => {
        const s = net.connect({ host: '127.0.0.1', port })
        s.once('connect', () => {
          s.destroy()
          res(true)
        })
        s.once('error', () => res(false))
      })
    },
    `port ${port} to accept`,
    timeoutMs,
    100,
  )
}

/** All servers started and not yet stopped, so afterAll can stop whatever a failing test left. */
const running = new Set<RunningServer>()

/** Starts a server and waits until its port accepts connections. */
export async function startServer(o: ServerOptions): Promise<RunningServer> {
  const { command, args } = serverCommand(o)
  const child = spawn(command, args, {
    cwd: repoRoot,
    env: { ...process.env, ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const log: string[] = []
  const watchers = new Set<(line: string) => void>()
  let exitInfo: { code: number | null; signal: string | null } | undefined
  const exited = new Promise<{ code: number | null; signal: string | null }>((res) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal }
      res(exitInfo)
    })
  })
  for (const stream of [child.stdout, child.stderr]) {
    let partial = ''
    stream?.setEncoding('utf8')
    stream?.on('data', (text: string) => {
      const lines = (partial + text).split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) {
        log.push(line)
        if (process.env.INDI_INTEROP_DEBUG) console.log(`[${o.kind}:${o.port}] ${line}`)
        for (const w of watchers) w(line)
      }
    })
  }
  if (child.pid === undefined) throw new Error(`could not start ${command}`)
  const pid = child.pid
  const server: RunningServer = {
    kind: o.kind,
    port: o.port,
    pid,
    process: child,
    log,
    exited,
    waitForLog(pattern, timeoutMs = 10_000) {
      const found = log.find((l) => pattern.test(l))
      if (found !== undefined) return Promise.resolve(found)
      return new Promise((res, rej) => {
        const timer = setTimeout(() => {
          watchers.delete(w)
          rej(new Error(`no log line matching ${pattern} within ${timeoutMs} ms (${o.kind}:${o.port})`))
        }, timeoutMs)
        const w = (line: string): void => {
          if (!pattern.test(line)) return
          clearTimeout(timer)
          watchers.delete(w)
          res(line)
        }
        watchers.add(w)
      })
    },
    async stop() {
      running.delete(server)
      if (exitInfo === undefined) await killTree(pid)
    },
  }
  running.add(server)
  startedThisTest.push(server)
  try {
    await waitForPort(o.port, 15_000, () => exitInfo === undefined)
  } catch (err) {
    await server.stop()
    throw new Error(`${o.kind} did not listen on ${o.port}; log:\n${log.join('\n')}`, { cause: err })
  }
  return server
}

/** Servers started by the current test, whose logs are printed if it fails. */
const startedThisTest: RunningServer[] = []
beforeEach(() => {
  startedThisTest.length = 0
})
afterEach((ctx) => {
  if (ctx.task.result?.state !== 'fail') return
  for (const s of new Set([...startedThisTest, ...running])) {
    console.log(`[interop] last log lines of ${s.kind} on port ${s.port}:\n${s.log.slice(-40).join('\n')}`)
  }
})

/** Stops every server still running (for afterAll / afterEach). */
export async function stopAllServers(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop()))
}

// ---------------------------------------------------------------------------------------------
// CLI tools

export interface ToolResult {
  code: number | null
  signal: string | null
  stdout: string
  stderr: string
}

/** Runs a program to completion (killed by PID after `timeoutMs`) and captures its output. */
export function runTool(
  command: string,
  args: string[],
  timeoutMs = 30_000,
  cwd = repoRoot,
): Promise<ToolResult> {
  return new Promise((res, rej) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (t: string) => {
      stdout += t
    })
    child.stderr.setEncoding('utf8').on('data', (t: string) => {
      stderr += t
    })
    const timer = setTimeout(() => {
      if (child.pid !== undefined) killPid(child.pid, 'SIGKILL')
    }, timeoutMs)
    child.once('error', (err) => {
      clearTimeout(timer)
      rej(err)
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      res({ code, signal, stdout, stderr })
    })
  })
}

/** `indi_getprop -p port -t seconds [specs]`: the `device.property.element=value` lines. */
export async function getprop(port: number, specs: string[] = [], seconds = 2): Promise<ToolResult> {
  return runTool('indi_getprop', ['-h', '127.0.0.1', '-p', String(port), '-t', String(seconds), ...specs])
}

/**
 * `indi_getprop -t 20 <property>` run in a fresh directory, where it writes the BLOB it receives,
 * while `takeFrame()` keeps making the driver send one: indi_getprop asks for BLOBs only once it
 * is connected, so the first frames may pass it by. Returns the tool's result, the files it wrote
 * (name → bytes) and the value of the last `takeFrame()`; the directory is removed.
 */
export async function getpropDownload<T>(
  port: number,
  property: string,
  takeFrame: () => Promise<T>,
): Promise<{ result: ToolResult; files: Map<string, Buffer>; last: T | undefined }> {
  const dir = mkdtempSync(join(tmpdir(), 'indi-interop-getprop-'))
  try {
    const tool = runTool(
      'indi_getprop',
      ['-h', '127.0.0.1', '-p', String(port), '-t', '20', property],
      30_000,
      dir,
    )
    let done = false
    void tool.finally(() => {
      done = true
    })
    let last: T | undefined
    while (!done && readdirSync(dir).length === 0) last = await takeFrame()
    const result = await tool
    const files = new Map(readdirSync(dir).map((name) => [name, readFileSync(join(dir, name))]))
    return { result, files, last }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The set of `device.property.element` names in indi_getprop output (values dropped). */
export function propertyNames(stdout: string): Set<string> {
  const names = new Set<string>()
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=')
    if (eq > 0) names.add(line.slice(0, eq))
  }
  return names
}

/** `name=value` pairs of indi_getprop output as a map. */
export function propertyValues(stdout: string): Map<string, string> {
  const values = new Map<string, string>()
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=')
    if (eq > 0) values.set(line.slice(0, eq), line.slice(eq + 1))
  }
  return values
}

/** `indi_setprop -p port specs…` */
export async function setprop(port: number, specs: string[]): Promise<ToolResult> {
  return runTool('indi_setprop', ['-h', '127.0.0.1', '-p', String(port), ...specs])
}

// ---------------------------------------------------------------------------------------------
// Raw INDI client

/** One parsed XML element: enough structure to check INDI messages. */
export interface Element {
  tag: string
  attrs: Record<string, string>
  children: Element[]
  /** Own text content, entity-decoded and trimmed (lilxml trims, indi-protocol.md §0.3). */
  text: string
}

const entities: Record<string, string> = { amp: '&', lt: '<', gt: '>', apos: "'", quot: '"' }
const decode = (s: string): string => s.replace(/&(amp|lt|gt|apos|quot);/g, (_, e: string) => entities[e]!)

/** XML-escapes a value for an attribute or text. */
export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/**
 * A small, independent splitter for a stream of top-level INDI elements. The interop suite keeps
 * its own reader on purpose: it is the oracle for what the servers put on the wire, so it must not
 * share code with the parser under test. It accepts `<?xml?>` prologues, comments, either quote
 * style and elements split anywhere.
 */
export class ElementSplitter {
  private buf = ''
  private readonly decoder = new TextDecoder('utf-8')
  /** Where to resume searching for the current element's end tag (avoids rescanning BLOBs). */
  private searchFrom = 0

  push(chunk: Uint8Array): Element[] {
    this.buf += this.decoder.decode(chunk, { stream: true })
    const out: Element[] = []
    for (;;) {
      const start = this.buf.search(/\S/)
      if (start < 0) {
        this.buf = ''
        this.searchFrom = 0
        return out
      }
      if (start > 0) {
        this.buf = this.buf.slice(start)
        this.searchFrom = Math.max(0, this.searchFrom - start)
      }
      if (this.buf.length < 2) return out
      if (this.buf[0] !== '<') throw new Error(`garbage between elements: ${this.buf.slice(0, 60)}`)
      if (this.buf.startsWith('<?') || this.buf.startsWith('<!')) {
        const endMark = this.buf.startsWith('<!--') ? '-->' : this.buf[1] === '?' ? '?>' : '>'
        const end = this.buf.indexOf(endMark)
        if (end < 0) return out
        this.buf = this.buf.slice(end + endMark.length)
        continue
      }
      const tag = /^<([A-Za-z_][\w.:-]*)/.exec(this.buf)?.[1]
      if (tag === undefined) {
        if (/^<[A-Za-z_][\w.:-]*$/.test(this.buf) || this.buf === '<') return out
        throw new Error(`bad element start: ${this.buf.slice(0, 60)}`)
      }
      // Cheap completeness check before parsing: find the end of the start tag, then `</tag`.
      const headEnd = this.findTagEnd(0)
      if (headEnd < 0) return out
      let total: number
      if (this.buf[headEnd - 1] === '/') total = headEnd + 1
      else {
        const close = this.buf.indexOf(`</${tag}`, Math.max(this.searchFrom, headEnd))
        if (close < 0) {
          this.searchFrom = Math.max(headEnd, this.buf.length - tag.length - 2)
          return out
        }
        const gt = this.buf.indexOf('>', close)
        if (gt < 0) return out
        total = gt + 1
      }
      const [el] = parseElement(this.buf.slice(0, total), 0)
      out.push(el)
      this.buf = this.buf.slice(total)
      this.searchFrom = 0
    }
  }

  /** Index of the `>` ending the start tag at `from`, skipping quoted attribute values; -1 if absent. */
  private findTagEnd(from: number): number {
    let quote = ''
    for (let i = from; i < this.buf.length; i++) {
      const c = this.buf[i]
      if (quote !== '') {
        if (c === quote) quote = ''
      } else if (c === '"' || c === "'") quote = c
      else if (c === '>') return i
    }
    return -1
  }
}

/** Parses one complete element starting at `pos`; returns it and the index after it. */
function parseElement(s: string, pos: number): [Element, number] {
  const m = /^<([A-Za-z_][\w.:-]*)/.exec(s.slice(pos, pos + 200))
  if (!m) throw new Error(`expected element at ${pos}: ${s.slice(pos, pos + 60)}`)
  const el: Element = { tag: m[1]!, attrs: {}, children: [], text: '' }
  let i = pos + m[0].length
  const attrRe = /\s*([A-Za-z_][\w.:-]*)\s*=\s*("([^"]*)"|'([^']*)')|\s*(\/?>)/y
  for (;;) {
    attrRe.lastIndex = i
    const a = attrRe.exec(s)
    if (!a) throw new Error(`bad attribute in <${el.tag}> at ${i}: ${s.slice(i, i + 60)}`)
    i = attrRe.lastIndex
    if (a[5] === '/>') return [el, i]
    if (a[5] === '>') break
    el.attrs[a[1]!] = decode(a[3] ?? a[4] ?? '')
  }
  const text: string[] = []
  for (;;) {
    const lt = s.indexOf('<', i)
    if (lt < 0) throw new Error(`unterminated <${el.tag}>`)
    text.push(s.slice(i, lt))
    if (s.startsWith('</', lt)) {
      const gt = s.indexOf('>', lt)
      el.text = decode(text.join('')).trim()
      return [el, gt + 1]
    }
    if (s.startsWith('<!--', lt)) {
      i = s.indexOf('-->', lt) + 3
      continue
    }
    const [child, next] = parseElement(s, lt)
    el.children.push(child)
    i = next
  }
}

/** A raw INDI TCP client that records every element it receives. */
export class RawClient {
  /** Every element received, in order. */
  readonly elements: Element[] = []
  private readonly waiters = new Set<() => void>()
  private readonly splitter = new ElementSplitter()
  private ended = false
  /** Set when the stream could not be split (the server sent something that is not XML). */
  error: Error | undefined

  /** Our end's port, as the server logs it (`new arrival from 127.0.0.1:<port>`). */
  readonly localPort: number | undefined

  private constructor(readonly socket: net.Socket) {
    this.localPort = socket.localPort
    socket.on('data', (chunk: Buffer) => {
      try {
        this.elements.push(...this.splitter.push(chunk))
      } catch (err) {
        this.error = err as Error
      }
      for (const w of this.waiters) w()
    })
    socket.on('close', () => {
      this.ended = true
      for (const w of this.waiters) w()
    })
    socket.on('error', () => {})
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((res, rej) => {
      const s = net.connect({ host: '127.0.0.1', port })
      s.once('connect', () => res(new RawClient(s)))
      s.once('error', rej)
    })
  }

  /** True once the server closed the connection. */
  get closed(): boolean {
    return this.ended
  }

  send(xml: string): void {
    this.socket.write(xml)
  }

  /** Index to pass as `from` so a wait only considers elements received after now. */
  mark(): number {
    return this.elements.length
  }

  /**
   * First element at index ≥ `from` matching `predicate`, waiting for it until `timeoutMs`.
   * Rejects at the deadline (listing the last tags seen) or if the server closes first.
   */
  waitFor(predicate: (e: Element) => boolean, timeoutMs = 10_000, from = 0): Promise<Element> {
    let scanned = from
    const scan = (): Element | undefined => {
      for (; scanned < this.elements.length; scanned++) {
        const e = this.elements[scanned]!
        if (predicate(e)) return e
      }
      return undefined
    }
    const found = scan()
    if (found) return Promise.resolve(found)
    return new Promise((res, rej) => {
      const done = (): void => {
        clearTimeout(timer)
        this.waiters.delete(check)
      }
      const timer = setTimeout(() => {
        done()
        const seen = this.elements
          .slice(-8)
          .map((e) => `${e.tag} ${e.attrs.device ?? ''}.${e.attrs.name ?? ''} ${e.attrs.state ?? ''}`)
        rej(new Error(`no matching element within ${timeoutMs} ms; last seen: ${seen.join(' | ')}`))
      }, timeoutMs)
      const check = (): void => {
        const e = scan()
        if (e) {
          done()
          res(e)
        } else if (this.error || this.ended) {
          done()
          rej(this.error ?? new Error(`server closed the connection (local port ${this.localPort})`))
        }
      }
      this.waiters.add(check)
    })
  }

  /** Round trip through the server: send a pingRequest and wait for its pingReply. */
  async ping(uid: string, timeoutMs = 10_000): Promise<void> {
    const from = this.mark()
    this.send(`<pingRequest uid="${esc(uid)}"/>`)
    await this.waitFor((e) => e.tag === 'pingReply' && e.attrs.uid === uid, timeoutMs, from)
  }

  close(): void {
    this.socket.destroy()
  }
}

/** Predicate: element `tag` (or any tag if '*') for device/name. */
export function is(tag: string, device?: string, name?: string): (e: Element) => boolean {
  return (e) =>
    (tag === '*' || e.tag === tag) &&
    (device === undefined || e.attrs.device === device) &&
    (name === undefined || e.attrs.name === name)
}

/** A `newSwitchVector` that turns the named members On (others untouched). */
export function newSwitch(device: string, name: string, on: string[]): string {
  const members = on.map((m) => `<oneSwitch name="${esc(m)}">On</oneSwitch>`).join('')
  return `<newSwitchVector device="${esc(device)}" name="${esc(name)}">${members}</newSwitchVector>`
}

/** A `newNumberVector` with the given member values. */
export function newNumber(device: string, name: string, values: Record<string, string | number>): string {
  const members = Object.entries(values)
    .map(([m, v]) => `<oneNumber name="${esc(m)}">${esc(String(v))}</oneNumber>`)
    .join('')
  return `<newNumberVector device="${esc(device)}" name="${esc(name)}">${members}</newNumberVector>`
}

/** Decodes a oneBLOB's base64 content (whitespace allowed inside, indi-protocol.md §1.3). */
export function blobBytes(oneBlob: Element): Buffer {
  return Buffer.from(oneBlob.text.replace(/\s+/g, ''), 'base64')
}

/** A FITS header card value (`KEY     = value / comment`), quotes stripped, or undefined. */
export function fitsCard(fits: Buffer, key: string): string | undefined {
  // The header is 80-character cards in 2880-byte blocks, ending with END.
  for (let off = 0; off + 80 <= fits.length; off += 80) {
    const card = fits.subarray(off, off + 80).toString('latin1')
    if (card.startsWith('END ')) return undefined
    if (card.slice(0, 8).trim() === key && card[8] === '=') {
      const value = card.slice(10).trim()
      if (value.startsWith("'")) return value.slice(1, value.indexOf("'", 1)).trim()
      return value.split('/')[0]!.trim()
    }
  }
  return undefined
}

/**
 * Waits until each device has defined `property` (default CONNECTION) to a fresh client, i.e. the
 * drivers are up and the server routes their replies. Returns the client (still open).
 */
export async function waitForDevices(
  port: number,
  devices: string[],
  { property = 'CONNECTION', timeoutMs = 15_000 }: { property?: string; timeoutMs?: number } = {},
): Promise<RawClient> {
  const client = await RawClient.connect(port)
  client.send('<getProperties version="1.7"/>')
  try {
    for (const d of devices) {
      await client.waitFor((e) => e.tag.startsWith('def') && is('*', d, property)(e), timeoutMs)
    }
  } catch (err) {
    client.close()
    throw err
  }
  return client
}

/** Connects the devices through `client` and waits for each CONNECTION to be Ok with CONNECT=On. */
export async function connectDevices(
  client: RawClient,
  devices: string[],
  timeoutMs = 15_000,
): Promise<void> {
  const from = client.mark()
  for (const d of devices) client.send(newSwitch(d, 'CONNECTION', ['CONNECT']))
  for (const d of devices) {
    await client.waitFor(
      (e) =>
        e.tag === 'setSwitchVector' &&
        e.attrs.device === d &&
        e.attrs.name === 'CONNECTION' &&
        e.attrs.state === 'Ok' &&
        e.children.some((c) => c.attrs.name === 'CONNECT' && c.text === 'On'),
      timeoutMs,
      from,
    )
  }
}

export const CCD = 'CCD Simulator'
export const SCOPE = 'Telescope Simulator'

/** The C++ simulators a CCD scene runs (startCcdScene). */
export const CCD_SCENE_DRIVERS = ['indi_simulator_telescope', 'indi_simulator_ccd']

/**
 * Where the CCD scenarios start: a server of `kind` running the telescope and CCD simulators, a
 * raw client that has seen both devices, the `connect` devices connected, and the CCD's BLOBs
 * enabled (`Also`; for `blobProperty` only, if given) unless `blobs` is false.
 */
export async function startCcdScene(
  kind: ServerKind,
  port: number,
  options: { connect?: string[]; blobs?: boolean; blobProperty?: string; args?: string[] } = {},
): Promise<{ server: RunningServer; client: RawClient }> {
  const server = await startServer({
    kind,
    port,
    drivers: CCD_SCENE_DRIVERS,
    ...(options.args ? { args: options.args } : {}),
  })
  const client = await waitForDevices(server.port, [SCOPE, CCD])
  await connectDevices(client, options.connect ?? [CCD])
  if (options.blobs !== false) {
    const name = options.blobProperty === undefined ? '' : ` name="${options.blobProperty}"`
    client.send(`<enableBLOB device="${CCD}"${name}>Also</enableBLOB>`)
  }
  return { server, client }
}

/** One CCD frame as received: the oneBLOB's attributes and its decoded bytes. */
export interface Frame {
  attrs: Record<string, string>
  bytes: Buffer
}

/**
 * Starts a CCD exposure through `client` (which must have sent enableBLOB) and waits for the
 * resulting `setBLOBVector CCD1`.
 */
export async function expose(client: RawClient, seconds = 0.5, timeoutMs = 30_000): Promise<Frame> {
  const from = client.mark()
  client.send(newNumber(CCD, 'CCD_EXPOSURE', { CCD_EXPOSURE_VALUE: seconds }))
  const vector = await client.waitFor(
    (e) => is('setBLOBVector', CCD, 'CCD1')(e) && e.children.some((c) => c.attrs.size !== '0'),
    timeoutMs,
    from,
  )
  const one = vector.children.find((c) => c.tag === 'oneBLOB' && c.attrs.name === 'CCD1')
  if (one === undefined) throw new Error('setBLOBVector CCD1 without a oneBLOB CCD1')
  return { attrs: one.attrs, bytes: blobBytes(one) }
}

/** Sexagesimal "h m s" (FITS OBJCTRA style, any separators) to a number. */
export function sexagesimal(text: string): number {
  const parts = text
    .trim()
    .split(/[^\d.+-]+/)
    .map(Number)
  const sign = text.trim().startsWith('-') ? -1 : 1
  const [a = 0, b = 0, c = 0] = parts.map(Math.abs)
  return sign * (a + b / 60 + c / 3600)
}

/** Syncs (not slews: instant) the telescope to ra/dec and waits until it reports them. */
export async function syncTelescope(client: RawClient, ra: number, dec: number): Promise<void> {
  client.send(newSwitch(SCOPE, 'ON_COORD_SET', ['SYNC']))
  const from = client.mark()
  client.send(newNumber(SCOPE, 'EQUATORIAL_EOD_COORD', { RA: ra, DEC: dec }))
  await client.waitFor(
    (e) =>
      is('setNumberVector', SCOPE, 'EQUATORIAL_EOD_COORD')(e) &&
      e.children.some((c) => c.attrs.name === 'RA' && Math.abs(Number(c.text) - ra) < 0.01),
    15_000,
    from,
  )
}
