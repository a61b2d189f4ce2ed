import { Buffer } from 'node:buffer'
import { utf8 } from './bytes.js'
import { toMessage } from './convert.js'
import { XmlParseError } from './errors.js'
import { FastReader } from './fastparse.js'
import type { IndiMessage } from './model.js'
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
    })
  }

  /** Feed bytes; returns the events completed by this chunk (possibly none). */
  push(chunk: Uint8Array): ParseEvent[] {
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
