import type { Buffer } from 'node:buffer'
import { utf8 } from './bytes.js'
import { decodeEntities } from './entities.js'
import type { XmlParseError } from './errors.js'
import type { ParserLimits } from './parser.js'
import { resolveLimits, Splitter } from './splitter.js'
import { trimXml } from './tree.js'

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

const UNSET = Symbol('unset')

/** Attribute values are decoded on first use: a router reads device/name, rarely anything else. */
class Frame implements RawFrame {
  readonly tag: string
  readonly bytes: Uint8Array
  private readonly src: Buffer
  private readonly start: number
  private readonly spans: number[]
  private dev: string | undefined | typeof UNSET = UNSET
  private nam: string | undefined | typeof UNSET = UNSET

  constructor(tag: string, src: Buffer, start: number, bytes: Uint8Array, spans: number[]) {
    this.tag = tag
    this.src = src
    this.start = start
    this.bytes = bytes
    this.spans = spans
  }

  get device(): string | undefined {
    if (this.dev === UNSET) this.dev = this.attr('device')
    return this.dev
  }

  get name(): string | undefined {
    if (this.nam === UNSET) this.nam = this.attr('name')
    return this.nam
  }

  attr(name: string): string | undefined {
    const s = this.spans
    const b = this.src
    const o = this.start
    const n = name.length
    for (let i = 0; i < s.length; i += 4) {
      const ns = o + s[i]!
      if (s[i + 1]! - s[i]! !== n) continue
      let same = true
      for (let k = 0; k < n; k++) {
        if (b[ns + k] !== name.charCodeAt(k)) {
          same = false
          break
        }
      }
      if (!same) continue
      const v = utf8(b, o + s[i + 2]!, o + s[i + 3]!)
      if (v.indexOf('&') === -1) return v
      const d = decodeEntities(v)
      return typeof d === 'string' ? d : v
    }
    return undefined
  }

  text(): string {
    const b = this.src.subarray(this.start, this.start + this.bytes.length)
    const open = this.spans.length > 0 ? b.indexOf(62, this.spans[this.spans.length - 1]!) : b.indexOf(62)
    if (open === -1 || b[open - 1] === 47) return ''
    const close = b.lastIndexOf(60)
    let t = ''
    let pos = open + 1
    // Own text only: skip nested elements (an enableBLOB has none; others rarely need this).
    while (pos < close) {
      const lt = b.indexOf(60, pos)
      const stop = lt === -1 || lt > close ? close : lt
      t += utf8(b, pos, stop)
      if (stop === close) break
      const gt = b.indexOf(62, stop)
      pos = gt === -1 ? close : gt + 1
    }
    t = trimXml(t)
    if (t.indexOf('&') === -1) return t
    const d = decodeEntities(t)
    return typeof d === 'string' ? d : t
  }
}

/**
 * Raw framing mode: splits a byte stream into top-level elements without building messages.
 * Same limits and resynchronisation as `IndiParser`; it checks the top-level start tag and the
 * element's extent, but not the well-formedness of what is inside (the receiving peer parses it).
 * Throws IndiError ERR_INDI_INVALID_VALUE from the constructor for a bad limit.
 */
export class IndiFramer {
  private readonly splitter: Splitter
  private events: FrameEvent[] = []

  constructor(limits: ParserLimits = {}) {
    this.splitter = new Splitter(resolveLimits(limits), {
      element: (b, start, end, tag, _tagIndex, spans) => {
        const rel = spans.slice()
        // Spans are relative to the element start, which is where the frame's bytes begin.
        // A plain Uint8Array view: Buffer#subarray goes through the species constructor (subarray +
        // FastBuffer were ~5% of framing time in the profile).
        const view = new Uint8Array(b.buffer, b.byteOffset + start, end - start)
        this.events.push({ kind: 'frame', frame: new Frame(tag, b, start, view, rel) })
        return true
      },
      error: (error) => {
        this.events.push({ kind: 'error', error })
      },
    })
  }

  /** Feed bytes; returns the frames (and errors) completed by this chunk. */
  push(chunk: Uint8Array): FrameEvent[] {
    this.splitter.push(chunk)
    const out = this.events
    this.events = []
    return out
  }

  /** End of stream: an unfinished element becomes an `error` event. */
  end(): FrameEvent[] {
    this.splitter.end()
    const out = this.events
    this.events = []
    return out
  }
}
