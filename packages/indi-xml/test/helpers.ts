import { Buffer } from 'node:buffer'
import { type FrameEvent, IndiFramer, IndiParser, type ParseEvent, type ParserLimits } from '../src/index.js'

export function bytes(text: string | Uint8Array): Uint8Array {
  return typeof text === 'string' ? Buffer.from(text, 'utf8') : text
}

/** Push the input in the given chunk sizes (or whole), then end(). */
export function parse(input: string | Uint8Array, limits?: ParserLimits, split: number[] = []): ParseEvent[] {
  const b = bytes(input)
  const p = new IndiParser(limits)
  const out: ParseEvent[] = []
  let pos = 0
  for (const s of split) {
    out.push(...p.push(b.subarray(pos, Math.min(b.length, pos + s))))
    pos = Math.min(b.length, pos + s)
  }
  out.push(...p.push(b.subarray(pos)))
  out.push(...p.end())
  return out
}

export function frame(input: string | Uint8Array, limits?: ParserLimits, split: number[] = []): FrameEvent[] {
  const b = bytes(input)
  const f = new IndiFramer(limits)
  const out: FrameEvent[] = []
  let pos = 0
  for (const s of split) {
    out.push(...f.push(b.subarray(pos, Math.min(b.length, pos + s))))
    pos = Math.min(b.length, pos + s)
  }
  out.push(...f.push(b.subarray(pos)))
  out.push(...f.end())
  return out
}

/** Just the messages; fails the test if anything else came out. */
export function messages(input: string | Uint8Array) {
  const ev = parse(input)
  for (const e of ev) {
    if (e.kind !== 'message')
      throw new Error(`unexpected ${e.kind}: ${e.kind === 'error' ? e.error.message : e.tag}`)
  }
  return ev.map((e) => (e as Extract<ParseEvent, { kind: 'message' }>).message)
}

/** Events as short strings, for asserting on order: "message:getProperties", "error:ERR_…", "unknown:foo". */
export function summary(ev: (ParseEvent | FrameEvent)[]): string[] {
  return ev.map((e) =>
    e.kind === 'message'
      ? `message:${e.message.tag}`
      : e.kind === 'frame'
        ? `frame:${e.frame.tag}`
        : e.kind === 'unknown'
          ? `unknown:${e.tag}`
          : `error:${e.error.code}`,
  )
}
