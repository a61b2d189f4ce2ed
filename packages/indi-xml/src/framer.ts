import type { XmlParseError } from './errors.js'
import type { ParserLimits } from './parser.js'

/**
 * One top-level element as its original bytes, for routers that forward without re-serialising.
 * Members are not built and BLOB base64 is never decoded.
 */
export interface RawFrame {
  /** Top-level tag name, known to INDI or not (`setNumberVector`, `pingRequest`, …). */
  readonly tag: string
  /** The `device` attribute, entities decoded; undefined when absent. */
  readonly device: string | undefined
  /** The `name` attribute, entities decoded; undefined when absent. */
  readonly name: string | undefined
  /**
   * The element's original bytes, from its `<` to its final `>` (no `<?xml?>` prologue, no
   * surrounding whitespace). May be a view into a pushed chunk: the framer never writes to it.
   */
  readonly bytes: Uint8Array
  /** Any other attribute of the top-level element (entities decoded), e.g. `version`, `uid`. */
  attr(name: string): string | undefined
  /** The element's own text content, trimmed and entity-decoded (for `enableBLOB`). */
  text(): string
}

export type FrameEvent =
  | { readonly kind: 'frame'; readonly frame: RawFrame }
  | { readonly kind: 'error'; readonly error: XmlParseError }

/**
 * Raw framing mode: splits a byte stream into top-level elements without building messages.
 * Same limits and resynchronisation as `IndiParser`.
 */
export class IndiFramer {
  constructor(_limits: ParserLimits = {}) {
    throw new Error('not implemented')
  }
  push(_chunk: Uint8Array): FrameEvent[] {
    throw new Error('not implemented')
  }
  end(): FrameEvent[] {
    throw new Error('not implemented')
  }
}
