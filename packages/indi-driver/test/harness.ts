import { buildMessage, type IndiMessage, IndiParser } from '@indi-ts/indi-xml'
import type { Connection } from '@indi-ts/transport'
import { connectionPair } from '@indi-ts/transport'
import {
  BlobVector,
  Device,
  Driver,
  type DriverOptions,
  LightVector,
  NumberVector,
  type PeerKind,
  SwitchVector,
  silentLogger,
  TextVector,
} from '../src/index.js'

/** Every automatic timestamp in the tests. */
export const NOW = new Date('2026-01-02T03:04:05Z')
export const TS = '2026-01-02T03:04:05'

/** The five vector kinds on one device, plus a second device. */
export function makeDevices(): { dev: Device; other: Device } {
  const dev = new Device({
    name: 'Dev',
    vectors: [
      new TextVector({
        name: 'TEXT',
        label: 'Text',
        group: 'G',
        perm: 'rw',
        members: [{ name: 'T1', value: 'hello' }],
      }),
      new NumberVector({
        name: 'NUM',
        label: 'Num',
        group: 'G',
        perm: 'rw',
        timeout: 5,
        members: [
          { name: 'X', label: 'X axis', format: '%6.2f', min: 0, max: 100, step: 1, value: 1.5 },
          { name: 'Y', format: '%9.6m', min: -90, max: 90, step: 0, value: -0.5 },
        ],
      }),
      new SwitchVector({
        name: 'SW',
        rule: 'OneOfMany',
        members: [
          { name: 'A', value: 'On' },
          { name: 'B', value: 'Off' },
          { name: 'C', value: 'Off' },
        ],
      }),
      new LightVector({ name: 'LIGHT', state: 'Ok', members: [{ name: 'L1', value: 'Alert' }] }),
      new BlobVector({ name: 'BLOB', perm: 'ro', members: [{ name: 'B1', format: '.fits' }] }),
    ],
  })
  const other = new Device({
    name: 'Other Device',
    vectors: [new NumberVector({ name: 'POS', perm: 'ro', members: [{ name: 'P', value: 7 }] })],
  })
  return { dev, other }
}

/** Reads a connection, parsing every message; lets tests wait for what they expect. */
export class RawClient {
  readonly conn: Connection
  readonly messages: IndiMessage[] = []
  #text = ''
  #parser = new IndiParser()
  #waiters: Array<() => void> = []
  #ended = false
  readonly done: Promise<void>
  #seq = 0

  constructor(conn: Connection) {
    this.conn = conn
    this.done = (async () => {
      try {
        for await (const chunk of conn) {
          this.#text += Buffer.from(chunk).toString('utf8')
          for (const ev of this.#parser.push(chunk)) if (ev.kind === 'message') this.messages.push(ev.message)
          this.#wake()
        }
      } catch {
        // a reset ends the reading like an end of input
      } finally {
        this.#ended = true
        this.#wake()
      }
    })()
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w()
  }

  /** All bytes received so far, as text. */
  get text(): string {
    return this.#text
  }

  get ended(): boolean {
    return this.#ended
  }

  send(xml: string): void {
    this.conn.send(Buffer.from(xml, 'utf8'))
  }

  /** Waits until `pred` holds over the received messages (or fails when the stream ends first). */
  async waitFor(pred: (ms: IndiMessage[]) => boolean, what = 'condition'): Promise<void> {
    while (!pred(this.messages)) {
      if (this.#ended) throw new Error(`stream ended before ${what}`)
      await new Promise<void>((r) => this.#waiters.push(r))
    }
  }

  /** Waits for a message with this tag (and optional predicate), counting from index `from`. */
  async next<T extends IndiMessage['tag']>(
    tag: T,
    pred: (m: Extract<IndiMessage, { tag: T }>) => boolean = () => true,
  ): Promise<Extract<IndiMessage, { tag: T }>> {
    let found: Extract<IndiMessage, { tag: T }> | undefined
    await this.waitFor((ms) => {
      found = ms.find((m) => m.tag === tag && pred(m as Extract<IndiMessage, { tag: T }>)) as
        | Extract<IndiMessage, { tag: T }>
        | undefined
      return found !== undefined
    }, tag)
    return found!
  }

  /**
   * Sends `xml` followed by a pingRequest and returns the text that arrived since the previous
   * exchange up to the pingReply (the driver answers pings behind what it already queued, so this
   * is everything sent since, including what `xml` caused).
   */
  async exchange(xml: string): Promise<string> {
    const uid = `t${++this.#seq}`
    // Everything since the previous exchange: what arrived before this call belongs to it too.
    const start = 0
    this.send(`${xml}<pingRequest uid='${uid}'/>`)
    const reply = buildMessage({ tag: 'pingReply', uid })
    while (!this.#text.includes(reply, start)) {
      if (this.#ended) throw new Error(`stream ended before pingReply ${uid}`)
      await new Promise<void>((r) => this.#waiters.push(r))
    }
    const at = this.#text.indexOf(reply, start)
    const out = this.#text.slice(start, at)
    this.messages.length = 0
    this.#text = this.#text.slice(at + reply.length)
    return out
  }
}

/** Expected bytes: the messages built exactly as the driver builds them. */
/** What the driver writes for `ms` with its default options (BLOB base64 on one line). */
export const xml = (...ms: IndiMessage[]): string =>
  ms.map((m) => buildMessage(m, { blobLineLength: 0, blobEnclen: false })).join('')

/** Starts `driver` over an in-memory pair and returns the raw client on the other end. */
export function start<D extends Driver<unknown>>(
  driver: D,
  opts: { peer?: PeerKind; highWaterMark?: number } = {},
): { client: RawClient; run: Promise<void>; driver: D } {
  const [a, b] = connectionPair({
    labels: ['driver', 'client'],
    ...(opts.highWaterMark ? { highWaterMark: opts.highWaterMark } : {}),
  })
  const run = driver.run({ connection: a, ...(opts.peer ? { peer: opts.peer } : {}) })
  return { client: new RawClient(b), run, driver }
}

/** A driver with the standard devices, fixed clock and no logging. */
export function makeDriver<C = unknown>(
  options: DriverOptions<C> = {},
): Driver<C> & { dev: Device; other: Device } {
  const { dev, other } = makeDevices()
  const d = new Driver<C>({
    devices: [dev, other],
    logger: silentLogger,
    now: () => NOW,
    ...options,
  }) as Driver<C> & {
    dev: Device
    other: Device
  }
  d.dev = dev
  d.other = other
  return d
}
