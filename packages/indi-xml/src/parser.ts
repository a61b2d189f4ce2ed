import { Buffer, isAscii } from 'node:buffer'
import { latin1, utf8 } from './bytes.js'
import { readsFromBytes, VectorBytesReader } from './bytevectors.js'
import { toMessage } from './convert.js'
import { XmlParseError } from './errors.js'
import { FastReader } from './fastparse.js'
import { INDI_TAGS, type IndiMessage } from './model.js'
import { type ResolvedLimits, resolveLimits, Splitter, testing } from './splitter.js'
import { parseTree, TreeError, type XmlNode } from './tree.js'

/** Limits that protect a reader from a hostile or broken peer. */
export interface ParserLimits {
  /** Largest element without BLOB payload, in bytes (from `<` to the final `>`). Default 1 MiB. */
  maxElementBytes?: number
  /** Largest `setBLOBVector` / `newBLOBVector` element, in bytes. Default 512 MiB. */
  maxBlobElementBytes?: number
  /** Most attributes on one element. Default 64. */
  maxAttributes?: number
  /** Deepest nesting (top-level element is depth 1). Default 8. */
  maxDepth?: number
}

/** What `IndiParser.push` yields, in stream order. */
export type ParseEvent =
  | { readonly kind: 'message'; readonly message: IndiMessage }
  /** A well-formed top-level element that INDI 1.7 does not define (reported, never thrown). */
  | { readonly kind: 'unknown'; readonly tag: string; readonly bytes: Uint8Array }
  /** Malformed, oversize or invalid input; the parser has resynchronised at the next element. */
  | { readonly kind: 'error'; readonly error: XmlParseError }

/** `</tag` for each tag of INDI_TAGS. */
const END_TAGS = INDI_TAGS.map((t) => `</${t}`)

/** Byte offset in `s` of UTF-16 index `i` (only computed on the error path). */
function byteIndex(s: string, i: number): number {
  return Buffer.byteLength(s.slice(0, i))
}

/**
 * One complete element's bytes to a tree, or an XmlParseError with its stream offset. Shared by
 * `IndiParser` and the differential tests (which compare this tree with libxmljs2's).
 */
export function parseElementBytes(
  b: Buffer,
  start: number,
  end: number,
  offset: number,
  limits: ResolvedLimits,
  blob: boolean,
): XmlNode | XmlParseError {
  // Invalid UTF-8 becomes U+FFFD here (WHATWG decoding), never a silent drop.
  const s = utf8(b, start, end)
  const tree = parseTree(s, limits, blob ? 'oneBLOB' : undefined)
  if (tree instanceof TreeError) {
    const at = offset + byteIndex(s, tree.index)
    const excerpt = s.slice(tree.index, tree.index + 64)
    return new XmlParseError(tree.code, `${tree.message} at byte ${at}`, at, excerpt)
  }
  return tree
}

/**
 * Streaming parser: push `Uint8Array` chunks split anywhere and get typed messages in order.
 * Never throws on bad input: it yields an `error` event and resynchronises at the next top-level
 * element. Throws IndiError ERR_INDI_INVALID_VALUE from the constructor for a bad limit.
 */
export class IndiParser {
  private readonly splitter: Splitter
  private events: ParseEvent[] = []
  private readonly reader = new FastReader()
  private readonly vectors = new VectorBytesReader()
  /** Whether the chunk being pushed is pure ASCII (-1: not checked yet), for direct(). */
  private ascii = -1
  /** Bytes decoded per element by direct(): twice the last element, at least 256 (see direct). */
  private window = 256

  constructor(limits: ParserLimits = {}) {
    const resolved = resolveLimits(limits)
    this.splitter = new Splitter(resolved, {
      element: (b, start, end, tag, tagIndex, offset) => {
        const blob = tag === 'setBLOBVector' || tag === 'newBLOBVector'
        if (tagIndex >= 0 && testing.fastPath) {
          const m = blob
            ? this.reader.readBlob(b, start, end, tagIndex, resolved.maxAttributes, resolved.maxDepth)
            : this.reader.read(utf8(b, start, end), tagIndex, resolved.maxAttributes, resolved.maxDepth)
          if (m !== undefined) {
            this.events.push({ kind: 'message', message: m })
            return false
          }
        }
        const tree = parseElementBytes(b, start, end, offset, resolved, blob)
        if (tree instanceof XmlParseError) {
          this.events.push({ kind: 'error', error: tree })
        } else if (tagIndex < 0) {
          this.events.push({ kind: 'unknown', tag, bytes: Uint8Array.prototype.slice.call(b, start, end) })
        } else {
          const m = toMessage(tree)
          if (typeof m === 'string') {
            const excerpt = b.toString('utf8', start, Math.min(end, start + 64))
            this.events.push({
              kind: 'error',
              error: new XmlParseError(
                'ERR_INDI_XML_INVALID_MESSAGE',
                `${m} at byte ${offset}`,
                offset,
                excerpt,
              ),
            })
          } else {
            this.events.push({ kind: 'message', message: m })
          }
        }
        return false
      },
      error: (error) => {
        this.events.push({ kind: 'error', error })
      },
      direct: (b, start, len, tagIndex, maxBytes) => this.direct(b, start, len, tagIndex, maxBytes, resolved),
    })
  }

  /**
   * Reads an element straight from the chunk being scanned, without framing it first: the
   * splitter's body scan and the exact-extent decode are skipped (bench/parse.mjs, full parse
   * ~420k → ~520k messages/s; then set/new vectors from bytes, ~520k → ~900k). The vector
   * byte reader checks every byte itself. For other elements, only in pure-ASCII chunks,
   * where latin1 decoding equals UTF-8 decoding, so the reader sees exactly the string the framed
   * path would. A window of bytes is decoded (a native call costs about the same for 200 or
   * 2,000 bytes), cut just after a '>' so that every scan in the reader stops inside the string
   * (the reader checks the one place that could start past it): reading past its end would make
   * V8 deoptimise the reader's charCodeAt loops into a slower generic form (measured: the whole
   * parser ~25% slower). The strings in the message are slices
   * of the window, so a kept message pins at most about twice its element (a window much larger
   * than the element is replaced by the exact element), never the chunk.
   */
  private direct(
    b: Buffer,
    start: number,
    len: number,
    tagIndex: number,
    maxBytes: number,
    limits: ResolvedLimits,
  ): number {
    if (readsFromBytes(tagIndex) && limits.maxDepth >= 2) {
      // Checks every byte itself (ASCII only), so it needs no chunk-wide ASCII test.
      const m = this.vectors.read(b, start, len, tagIndex, limits.maxAttributes)
      if (m !== undefined && this.vectors.end - start <= maxBytes) {
        this.events.push({ kind: 'message', message: m })
        return this.vectors.end
      }
    }
    if (this.ascii < 0) this.ascii = isAscii(b) ? 1 : 0
    if (this.ascii === 0) return -1
    const reader = this.reader
    let gt = b.lastIndexOf(62, Math.min(len, start + this.window) - 1)
    if (gt <= start) return -1
    let s = latin1(b, start, gt + 1)
    let m = reader.readPrefix(s, tagIndex, limits.maxAttributes, limits.maxDepth)
    if (m === undefined && s.indexOf(END_TAGS[tagIndex]!) === -1 && start + this.window < len) {
      // Perhaps only the window was too small: try once with all the element may take.
      gt = b.lastIndexOf(62, Math.min(len, start + maxBytes + 1) - 1)
      s = latin1(b, start, gt + 1)
      m = reader.readPrefix(s, tagIndex, limits.maxAttributes, limits.maxDepth)
    }
    if (m === undefined) return -1
    const size = reader.end
    if (size > maxBytes) return -1
    if (s.length > 2 * size + 256) {
      // The window was much larger than the element (after a retry, or a big element before a
      // small one): read it again from exactly its bytes, so that what it keeps pins no more.
      m = reader.readPrefix(latin1(b, start, start + size), tagIndex, limits.maxAttributes, limits.maxDepth)
      if (m === undefined) return -1
    }
    this.window = size < 128 ? 256 : size * 2
    this.events.push({ kind: 'message', message: m })
    return start + size
  }

  /** Feed bytes; returns the events completed by this chunk (possibly none). */
  push(chunk: Uint8Array): ParseEvent[] {
    this.ascii = -1
    this.splitter.push(chunk)
    const out = this.events
    this.events = []
    return out
  }

  /** End of stream: an unfinished element becomes an `error` event. The parser can be reused. */
  end(): ParseEvent[] {
    this.splitter.end()
    const out = this.events
    this.events = []
    return out
  }
}
