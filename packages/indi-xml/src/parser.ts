import type { XmlParseError } from './errors.js'
import type { IndiMessage } from './model.js'

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

/**
 * Streaming parser: push `Uint8Array` chunks split anywhere and get typed messages in order.
 * Never throws on bad input: it yields an `error` event and resynchronises at the next top-level `<`.
 */
export class IndiParser {
  constructor(_limits: ParserLimits = {}) {
    throw new Error('not implemented')
  }
  /** Feed bytes; returns the events completed by this chunk (possibly none). */
  push(_chunk: Uint8Array): ParseEvent[] {
    throw new Error('not implemented')
  }
  /** End of stream: an unfinished element becomes an `error` event. */
  end(): ParseEvent[] {
    throw new Error('not implemented')
  }
}
