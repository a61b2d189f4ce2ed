import { buildMessageBytes, type IndiMessage, IndiParser, type ParserLimits } from '@indi-ts/indi-xml'
import type { Connection } from '@indi-ts/transport'
import { ForwardingConnection } from './forwarding.js'
import { encodeFrame, type FrameLimits, LINK_PREAMBLE } from './framing.js'
import { binaryReader } from './link.js'

/** Options of `binaryAsXml`. */
export interface BinaryAsXmlOptions extends FrameLimits {
  /** Limits for parsing the XML written to the bridge. */
  parserLimits?: ParserLimits
  /**
   * Told about XML written to the bridge that is not a valid INDI message (bad XML, an unknown
   * element, a value the binary format cannot carry). It is dropped: the binary peer only takes
   * INDI messages. Default: ignored.
   */
  onDropped?: (reason: string) => void
}

/**
 * Presents a binary-link connection as an INDI XML one, so code that routes XML bytes (the
 * server's router, its framer, its outboxes) talks to a binary peer unchanged.
 *
 * - Reading yields one XML element per incoming binary frame (`buildMessageBytes`, BLOBs as
 *   base64 on one line): the XML is built once, here, for every XML recipient.
 * - `send(xml)` parses the bytes (elements may be split across sends) and sends each message as
 *   a binary frame; the return value is the connection's backpressure signal.
 * - The preamble goes out at once; the peer's is checked before its first frame.
 *
 * Everything else (`drained`, `end`, `close`, `destroy`, `closed`, `bufferedBytes`) is the
 * connection's. A binary protocol error (`ERR_INDI_BINARY_*`) destroys the connection and ends
 * the iteration with that error, as `binaryReader` does.
 */
export function binaryAsXml(connection: Connection, options: BinaryAsXmlOptions = {}): Connection {
  return new BinaryAsXml(connection, options)
}

class BinaryAsXml extends ForwardingConnection {
  private readonly parser: IndiParser
  private iterated = false
  constructor(
    inner: Connection,
    private readonly options: BinaryAsXmlOptions,
  ) {
    super(inner)
    this.parser = new IndiParser(options.parserLimits ?? {})
    inner.send(LINK_PREAMBLE)
  }
  // No `released`: the parser may keep the end of `chunk` for the next send, so this never tells.
  send(chunk: Uint8Array): boolean {
    let ok = true
    for (const ev of this.parser.push(chunk)) {
      if (ev.kind !== 'message') {
        this.options.onDropped?.(ev.kind === 'unknown' ? `unknown element <${ev.tag}>` : ev.error.message)
        continue
      }
      let frame: Uint8Array
      try {
        frame = encodeFrame(ev.message)
      } catch (error) {
        this.options.onDropped?.(`<${ev.message.tag}>: ${(error as Error).message}`)
        continue
      }
      ok = this.inner.send(frame)
    }
    return ok
  }
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (this.iterated) throw new TypeError(`${this.label}: already being iterated`)
    this.iterated = true
    const messages = binaryReader(this.inner, this.options)
    return {
      next: async () => {
        const r = await messages.next()
        if (r.done) return { value: undefined, done: true }
        return { value: toXml(r.value), done: false }
      },
      return: async () => {
        await messages.return()
        return { value: undefined, done: true }
      },
    }
  }
}

// One line of base64 (blobLineLength 0) and no enclen: what indiserver sends TCP clients, what
// indi_getprop 1.9.9 decodes correctly (it counts line breaks as data), and what an indiserver
// chained on top accepts (1.9.9 stalls on enclen with any layout but 72-column lines).
function toXml(m: IndiMessage): Uint8Array {
  return buildMessageBytes(m, { blobLineLength: 0, blobEnclen: false })
}
