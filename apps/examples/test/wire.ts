/**
 * Test helpers: a raw INDI client that parses everything it receives with @indi-ts/indi-xml and
 * lets a test wait for a message matching a predicate, with a deadline (never a sleep).
 */

import type { IndiServer } from '@indi-ts/indi-server'
import { type IndiMessage, IndiParser } from '@indi-ts/indi-xml'
import { type Connection, connectionPair } from '@indi-ts/transport'
import { connectTcp } from '@indi-ts/transport-tcp'

interface Waiter {
  after: number
  test: (m: IndiMessage) => boolean
  resolve: (m: IndiMessage) => void
  reject: (e: Error) => void
  what: string
  timer: NodeJS.Timeout
}

/** An INDI client speaking raw XML over any Connection. */
export class WireClient {
  readonly messages: IndiMessage[] = []
  /** Raw text received (for asserting on exact bytes). */
  text = ''
  ended = false
  readonly #parser = new IndiParser()
  #waiters: Waiter[] = []

  constructor(readonly conn: Connection) {
    void this.#read()
  }

  async #read(): Promise<void> {
    try {
      for await (const chunk of this.conn) {
        this.text += Buffer.from(chunk).toString('utf8')
        for (const ev of this.#parser.push(chunk)) if (ev.kind === 'message') this.#add(ev.message)
      }
    } catch {}
    this.ended = true
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer)
      w.reject(new Error(`connection ended while waiting for ${w.what}; got: ${this.summary()}`))
    }
  }

  #add(m: IndiMessage): void {
    this.messages.push(m)
    const index = this.messages.length - 1
    this.#waiters = this.#waiters.filter((w) => {
      if (index < w.after || !w.test(m)) return true
      clearTimeout(w.timer)
      w.resolve(m)
      return false
    })
  }

  /** Sends raw XML. */
  send(xml: string): void {
    this.conn.send(Buffer.from(xml))
  }

  /** Index to pass as `after`: only messages received from now on will match. */
  mark(): number {
    return this.messages.length
  }

  /**
   * The first message (at index ≥ `after`) satisfying `test`, now or when it arrives; rejects after
   * `timeoutMs` with a summary of what did arrive.
   */
  waitFor<M extends IndiMessage>(
    test: (m: IndiMessage) => m is M,
    options?: { after?: number; timeoutMs?: number; what?: string },
  ): Promise<M>
  waitFor(
    test: (m: IndiMessage) => boolean,
    options?: { after?: number; timeoutMs?: number; what?: string },
  ): Promise<IndiMessage>
  waitFor(
    test: (m: IndiMessage) => boolean,
    options: { after?: number; timeoutMs?: number; what?: string } = {},
  ): Promise<IndiMessage> {
    const after = options.after ?? 0
    const found = this.messages.slice(after).find(test)
    if (found !== undefined) return Promise.resolve(found)
    const what = options.what ?? test.toString()
    if (this.ended) return Promise.reject(new Error(`connection ended before ${what}`))
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.timer !== timer)
        reject(new Error(`no ${what} within ${options.timeoutMs ?? 15_000} ms; got: ${this.summary()}`))
      }, options.timeoutMs ?? 15_000)
      this.#waiters.push({ after, test, resolve, reject, what, timer })
    })
  }

  /** Waits for `<set…Vector device name>` (optionally satisfying `test`). */
  waitSet(
    device: string,
    name: string,
    test: (m: SetMsg) => boolean = () => true,
    after = 0,
  ): Promise<SetMsg> {
    return this.waitFor((m): m is SetMsg => isSet(m) && m.device === device && m.name === name && test(m), {
      after,
      what: `set ${device}.${name}`,
    })
  }

  /** Waits for a `<message>` whose text includes `needle`. */
  waitMessage(needle: string, after = 0): Promise<IndiMessage> {
    return this.waitFor((m) => m.tag === 'message' && (m.message ?? '').includes(needle), {
      after,
      what: `message "${needle}"`,
    })
  }

  /** Resolves once every message the peer sent before our ping has arrived (a flush barrier). */
  async sync(uid = `sync-${Math.random().toString(36).slice(2)}`): Promise<void> {
    const after = this.mark()
    this.send(`<pingRequest uid="${uid}"/>`)
    await this.waitFor((m) => m.tag === 'pingReply' && m.uid === uid, { after, what: `pingReply ${uid}` })
  }

  /** Messages received so far, one short line each. */
  summary(): string {
    return this.messages
      .slice(-40)
      .map((m) => `${m.tag} ${'device' in m ? m.device : ''}.${'name' in m ? m.name : ''}`)
      .join(' | ')
  }

  close(): void {
    this.conn.destroy()
  }
}

export type SetMsg = Extract<IndiMessage, { tag: `set${string}` }>
export type DefMsg = Extract<IndiMessage, { tag: `def${string}` }>

export function isSet(m: IndiMessage): m is SetMsg {
  return m.tag.startsWith('set')
}
export function isDef(m: IndiMessage): m is DefMsg {
  return m.tag.startsWith('def')
}

/** The value of `member` in a def* or set* message (undefined when absent). */
export function memberValue(m: SetMsg | DefMsg, member: string): unknown {
  return (m.members as { name: string; value?: unknown; data?: unknown }[]).find((x) => x.name === member)
    ?.value
}

/** A client of an in-process server over an in-memory pair. */
export function serverClient(server: IndiServer, label = 'test-client'): WireClient {
  const [a, b] = connectionPair({ labels: [`server:${label}`, label] })
  if (server.addClient(a) === undefined) throw new Error('client refused')
  return new WireClient(b)
}

/** A client over TCP on loopback. */
export async function tcpClient(port: number): Promise<WireClient> {
  return new WireClient(await connectTcp({ host: '127.0.0.1', port }))
}

/** A quiet server logger that keeps the lines (shown when a test fails). */
export function logSink(): { lines: string[]; logger: (e: { text: string }) => void } {
  const lines: string[] = []
  return { lines, logger: (e) => lines.push(e.text) }
}

/** Resolves once every device named has been announced to `server` by its driver. */
export function devicesReady(server: IndiServer, ...devices: string[]): Promise<void> {
  const waiting = new Set(devices)
  return new Promise((resolve) => {
    const onDevice = (device: string): void => {
      waiting.delete(device)
      if (waiting.size === 0) {
        server.off('device', onDevice)
        resolve()
      }
    }
    server.on('device', onDevice)
  })
}
