import { createHash, randomBytes } from 'node:crypto'
import { headers, type Msg, type MsgHdrs } from 'nats'

/** The header that marks one chunk of a payload larger than the server's max_payload. */
export const CHUNK_HEADER = 'Indi-Chunk'

/** Room left for headers and protocol framing below max_payload (headers count towards it). */
const HEADROOM = 4096

/** What the publisher needs: nats.js `NatsConnection.publish` fits. */
export interface Publisher {
  publish(subject: string, payload?: Uint8Array, options?: { reply?: string; headers?: MsgHdrs }): void
}

let idPrefix = randomBytes(6).toString('hex')
let idSeq = 0

/** A fresh chunk-set id, unique across processes (random prefix) and within one (counter). */
function nextId(): string {
  if (++idSeq >= 0x7fffffff) {
    idPrefix = randomBytes(6).toString('hex')
    idSeq = 1
  }
  return `${idPrefix}${idSeq.toString(36)}`
}

/**
 * Publishes `data` on `subject`, split into chunks when it exceeds `maxPayload` (the server's
 * `max_payload`, 1 MiB by default). Each chunk carries `Indi-Chunk: <id>;<seq>;<total>;<size>;<sha256>`
 * so that {@link Reassembler} can put it back together and verify it. Returns the number of NATS
 * messages published.
 */
export function publishChunked(
  nc: Publisher,
  subject: string,
  data: Uint8Array,
  maxPayload: number,
  reply?: string,
): number {
  const opts = reply !== undefined ? { reply } : {}
  if (data.byteLength <= maxPayload - HEADROOM) {
    nc.publish(subject, data, opts)
    return 1
  }
  const step = Math.max(1024, maxPayload - HEADROOM)
  const total = Math.ceil(data.byteLength / step)
  const id = nextId()
  const sha = createHash('sha256').update(data).digest('hex')
  for (let seq = 0; seq < total; seq++) {
    const h = headers()
    h.set(CHUNK_HEADER, `${id};${seq};${total};${data.byteLength};${sha}`)
    nc.publish(subject, data.subarray(seq * step, Math.min(data.byteLength, (seq + 1) * step)), {
      ...opts,
      headers: h,
    })
  }
  return total
}

/** Why a chunked payload was thrown away. */
export type ChunkLoss = 'gap' | 'hash' | 'size' | 'evicted' | 'malformed'

interface Assembly {
  readonly id: string
  readonly total: number
  readonly size: number
  readonly sha: string
  next: number
  got: number
  readonly parts: Uint8Array[]
}

/**
 * Puts chunked payloads back together. NATS delivers one publisher's messages in order, so a chunk
 * out of sequence means some were lost (a slow consumer cut, a reconnect): the whole payload is
 * dropped and reported, never delivered damaged. Complete payloads are checked against their size
 * and SHA-256.
 */
export class Reassembler {
  private readonly open = new Map<string, Assembly>()

  /**
   * @param maxOpen most payloads being reassembled at once (oldest evicted beyond it)
   * @param maxBytes largest payload accepted, in bytes
   * @param onLoss called for each dropped payload
   */
  constructor(
    private readonly maxOpen = 16,
    private readonly maxBytes = 512 * 1024 * 1024,
    private readonly onLoss: (why: ChunkLoss, subject: string) => void = () => undefined,
  ) {}

  /** Payloads currently being reassembled. */
  get pending(): number {
    return this.open.size
  }

  /**
   * Feeds one message. Returns the payload when it is complete (at once for an unchunked message),
   * otherwise undefined.
   */
  push(msg: Pick<Msg, 'subject' | 'data' | 'headers'>): Uint8Array | undefined {
    const spec = msg.headers?.get(CHUNK_HEADER)
    if (!spec) return msg.data
    const [id, seqS, totalS, sizeS, sha] = spec.split(';')
    const seq = Number(seqS)
    const total = Number(totalS)
    const size = Number(sizeS)
    if (
      !id ||
      !sha ||
      !Number.isInteger(seq) ||
      !Number.isInteger(total) ||
      !Number.isInteger(size) ||
      seq < 0 ||
      seq >= total ||
      size > this.maxBytes
    ) {
      this.onLoss(size > this.maxBytes ? 'size' : 'malformed', msg.subject)
      return undefined
    }
    let a = this.open.get(id)
    if (a === undefined) {
      if (seq !== 0) {
        // The start of this payload was lost; its remaining chunks are ignored silently after
        // reporting once (seq 1 is the first one we can notice).
        if (seq === 1) this.onLoss('gap', msg.subject)
        return undefined
      }
      if (this.open.size >= this.maxOpen) {
        const oldest = this.open.keys().next().value as string
        this.open.delete(oldest)
        this.onLoss('evicted', msg.subject)
      }
      a = { id, total, size, sha, next: 0, got: 0, parts: [] }
      this.open.set(id, a)
    }
    if (seq !== a.next) {
      this.open.delete(id)
      this.onLoss('gap', msg.subject)
      return undefined
    }
    // Views into nats.js's read buffers; Buffer.concat below copies them out once.
    a.parts.push(msg.data)
    a.got += msg.data.byteLength
    a.next++
    if (a.next < a.total) return undefined
    this.open.delete(id)
    const data = Buffer.concat(a.parts, a.got)
    if (data.byteLength !== a.size) {
      this.onLoss('size', msg.subject)
      return undefined
    }
    if (createHash('sha256').update(data).digest('hex') !== a.sha) {
      this.onLoss('hash', msg.subject)
      return undefined
    }
    return data
  }

  /** Forgets every partial payload (after a reconnect nothing in flight will complete). */
  clear(): void {
    this.open.clear()
  }
}
