/**
 * The byte-level work the server does on a driver's setBLOBVector before it is queued: removing the
 * line breaks from base64 contents (`compactBlobs`) and spotting streaming frames (`-d`). Both run
 * once per BLOB, on elements of many MiB, so they search with Buffer#indexOf and never decode.
 */
import type { OutItem } from './outbox.js'

/**
 * A setBLOBVector with the whitespace inside its oneBLOB contents removed (base64 never contains
 * any), or the frame itself when there is none. One copy per BLOB, shared by every recipient, or
 * none when `inPlace` (the caller owns the frame's bytes; they are overwritten).
 */
export function compactBlob(f: OutItem, inPlace: boolean): OutItem {
  const buf = Buffer.from(f.bytes.buffer, f.bytes.byteOffset, f.bytes.byteLength)
  let out: Buffer | undefined
  let view: DataView | undefined
  let o = 0
  // buf[0..copied) is in place in out[0..o).
  let copied = 0
  for (let i = buf.indexOf('<oneBLOB'); i >= 0; i = buf.indexOf('<oneBLOB', i + 8)) {
    const gt = buf.indexOf(62, i)
    if (gt < 0 || buf[gt - 1] === 47) continue
    const end = buf.indexOf(60, gt + 1)
    if (end < 0) break
    const nl = buf.indexOf(10, gt + 1)
    if (nl < 0 || nl > end) continue
    if (out === undefined) {
      // Compaction in place with copyWithin (after one bulk copy unless `inPlace`): Buffer#copy of
      // a range builds a Uint8Array per call, and one call per 72-character line cost ~3× the
      // whole pass (measured on an 8 MiB BLOB: 22–33 ms per BLOB before, 7–12 ms after).
      if (inPlace) out = buf
      else {
        out = Buffer.allocUnsafe(buf.length)
        buf.copy(out)
      }
      view = new DataView(out.buffer, out.byteOffset, out.byteLength)
      o = i
    } else {
      if (i !== o) out.copyWithin(o, copied, i)
      o += i - copied
    }
    // The start tag, without `enclen`: indiserver 1.9.9 stops reading a peer whose BLOB carries
    // enclen in any layout but libindi's 72-column lines, so an indiserver chained on top of us
    // stalled on compacted frames. indiserver's own one-line BLOBs carry no enclen either.
    const en = buf.indexOf(' enclen=', i)
    const close = en >= 0 && en < gt ? buf.indexOf(buf[en + 8]!, en + 9) : -1
    const tagParts: [number, number][] =
      close >= 0 && close < gt
        ? [
            [i, en],
            [close + 1, gt + 1],
          ]
        : [[i, gt + 1]]
    for (const [from, to] of tagParts) {
      if (from !== o) out.copyWithin(o, from, to)
      o += to - from
    }
    // Line by line: skip the line breaks and the indentation around them. Writes always stay
    // behind reads (and `buf` equals `out` from `copied` on), so moving in place is safe.
    // Drivers write fixed-width lines (libindi: 72 columns), so once a clean line is seen the next
    // line break is predicted and checked with one byte read: a Buffer#indexOf call and the trim
    // loops per line cost ~13 ms per 8 MiB BLOB, one move per predicted line ~3.6 ms.
    let a = gt + 1
    let w = 0
    while (a < end) {
      const p = a + w
      if (w > 0 && p < end && buf[p] === 10 && buf[a]! > 32 && buf[p - 1]! > 32) {
        if (a !== o) moveLine(out, view!, o, a, w)
        o += w
        a = p + 1
        continue
      }
      let z = buf.indexOf(10, a)
      if (z < 0 || z > end) z = end
      let s = a
      let e = z
      while (s < e && isSpace(buf[s]!)) s++
      while (e > s && isSpace(buf[e - 1]!)) e--
      if (e > s) {
        if (s !== o) out.copyWithin(o, s, e)
        o += e - s
      }
      w = s === a && e === z && z < end ? z - a : 0
      a = z + 1
    }
    copied = end
    i = end
  }
  if (out === undefined) return f
  out.copyWithin(o, copied)
  o += buf.length - copied
  return { tag: f.tag, device: f.device, name: f.name, bytes: out.subarray(0, o) }
}

/**
 * Moves `out[a, a + w)` down to `out[o, o + w)` (o < a). Eight bytes at a time through a
 * DataView as float64, which V8 compiles to plain unaligned loads and stores: a 72-column line
 * is nine moves instead of one copyWithin call, whose fixed cost dominates on so short a range
 * (measured on an 8 MiB BLOB: 4.0 ms with copyWithin per line, 2.8 ms like this). A float64
 * carries any bit pattern exactly except NaN, whose bytes the language lets an engine choose
 * when it stores one (ECMA-262 NumericToRawBytes): base64 bytes never form a NaN, and should a
 * driver send bytes that do, the rest of the line goes by copyWithin.
 * Going forwards is safe: each store ends before the next load starts, since o < a.
 */
function moveLine(out: Buffer, view: DataView, o: number, a: number, w: number): void {
  const blocks = w & ~7
  let j = 0
  for (; j < blocks; j += 8) {
    const x = view.getFloat64(a + j, true)
    if (Number.isNaN(x)) break
    view.setFloat64(o + j, x, true)
  }
  if (j < w) out.copyWithin(o + j, a + j, a + w)
}

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9
}

/** `-d`: does any oneBLOB carry a `format` containing "stream"? Quotes never occur in base64. */
export function isStreamBlob(bytes: Uint8Array): boolean {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  // Only the oneBLOB start tags are searched, hopping over each base64 content with one '<'
  // search: a 'format=' search through the content cost ~2 ms per 8 MiB BLOB.
  for (let i = buf.indexOf('<oneBLOB'); i >= 0; ) {
    const gt = buf.indexOf(62, i)
    if (gt < 0) return false
    const tag = buf.subarray(i, gt)
    for (let f = tag.indexOf('format='); f >= 0; f = tag.indexOf('format=', f + 7)) {
      const q = tag[f + 7]
      if (q === 0x22 || q === 0x27) {
        const end = tag.indexOf(q, f + 8)
        if (end > 0 && tag.subarray(f + 8, end).includes('stream')) return true
      }
    }
    const next = buf.indexOf(60, gt + 1)
    if (next < 0) return false
    i = buf.indexOf('<oneBLOB', next)
  }
  return false
}
