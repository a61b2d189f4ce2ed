import { Buffer } from 'node:buffer'
import { escapeXml } from './entities.js'
import { IndiError } from './errors.js'
import {
  assertBlobPolicy,
  assertPropertyPerm,
  assertPropertyState,
  assertSwitchRule,
  assertSwitchState,
} from './guards.js'
import type { IndiMessage, NewBlobVector, OneBlob, SetBlobVector } from './model.js'

export interface BuildOptions {
  /** Wrap BLOB base64 every N characters as libindi does (72); 0 writes one line. Default 72. */
  blobLineLength?: number
  /**
   * Write `enclen` on each oneBLOB. Default true. Pass false with any layout but 72 columns:
   * indiserver 1.9.9 stops reading a peer whose inline BLOB has enclen and other line lengths.
   */
  blobEnclen?: boolean
}

const DEFAULT_LINE = 72
const DEFAULT_CHUNK = 3 << 16 // 196,608 input bytes → 256 KiB of base64 per chunk

/** ` name="value"`, or nothing for an absent optional attribute. */
function a(name: string, value: string | undefined): string {
  return value === undefined ? '' : ` ${name}="${escapeXml(value)}"`
}

function req(tag: string, name: string, value: string | undefined): string {
  if (typeof value !== 'string') {
    throw new IndiError('ERR_INDI_INVALID_VALUE', `<${tag}> needs attribute ${name}, got ${String(value)}`)
  }
  return ` ${name}="${escapeXml(value)}"`
}

function lineLength(options: BuildOptions | undefined): number {
  const n = options?.blobLineLength ?? DEFAULT_LINE
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new IndiError('ERR_INDI_INVALID_VALUE', `blobLineLength must be a non-negative integer, got ${n}`)
  }
  return n
}

/**
 * One message to XML text that indilib's lilxml reads: attributes double-quoted, `& < > " '`
 * escaped as named entities (never numeric references or CDATA), member content on its own
 * element, a newline after the element. BLOB members carry `size`, `format` and `enclen` (the
 * length of the base64 text without line breaks, as libindi writes it; not with `blobEnclen:
 * false`) and base64 wrapped at `blobLineLength` columns. Throws IndiError ERR_INDI_INVALID_VALUE
 * for a bad enum value or a missing required attribute.
 */
export function buildMessage(message: IndiMessage, options?: BuildOptions): string {
  if (message.tag === 'setBLOBVector' || message.tag === 'newBLOBVector') {
    return Buffer.concat([...buildBlobChunks(message, options)]).toString('utf8')
  }
  const m = message
  const t = m.tag
  switch (m.tag) {
    case 'getProperties':
      return `<getProperties${a('version', m.version)}${a('device', m.device)}${a('name', m.name)}/>\n`
    case 'enableBLOB':
      return `<enableBLOB${req(t, 'device', m.device)}${a('name', m.name)}>${assertBlobPolicy(m.policy)}</enableBLOB>\n`
    case 'pingRequest':
    case 'pingReply':
      return `<${t}${req(t, 'uid', m.uid)}/>\n`
    case 'message':
      return `<message${a('device', m.device)}${a('timestamp', m.timestamp)}${a('message', m.message)}/>\n`
    case 'delProperty':
      return `<delProperty${req(t, 'device', m.device)}${a('name', m.name)}${a('timestamp', m.timestamp)}${a('message', m.message)}/>\n`
    case 'defTextVector':
    case 'defNumberVector':
    case 'defSwitchVector':
    case 'defLightVector':
    case 'defBLOBVector': {
      let head = `<${t}${req(t, 'device', m.device)}${req(t, 'name', m.name)}${a('label', m.label)}${a('group', m.group)} state="${assertPropertyState(m.state)}"`
      if (m.tag !== 'defLightVector') head += ` perm="${assertPropertyPerm(m.perm)}"`
      if (m.tag === 'defSwitchVector') head += ` rule="${assertSwitchRule(m.rule)}"`
      if (m.tag !== 'defLightVector') head += a('timeout', m.timeout)
      head += `${a('timestamp', m.timestamp)}${a('message', m.message)}>\n`
      let body = ''
      switch (m.tag) {
        case 'defTextVector':
          for (const x of m.members)
            body += `  <defText${req('defText', 'name', x.name)}${a('label', x.label)}>${escapeXml(x.value)}</defText>\n`
          break
        case 'defNumberVector':
          for (const x of m.members) {
            body += `  <defNumber${req('defNumber', 'name', x.name)}${a('label', x.label)}${req('defNumber', 'format', x.format)}${req('defNumber', 'min', x.min)}${req('defNumber', 'max', x.max)}${req('defNumber', 'step', x.step)}>${escapeXml(x.value)}</defNumber>\n`
          }
          break
        case 'defSwitchVector':
          for (const x of m.members)
            body += `  <defSwitch${req('defSwitch', 'name', x.name)}${a('label', x.label)}>${assertSwitchState(x.value)}</defSwitch>\n`
          break
        case 'defLightVector':
          for (const x of m.members)
            body += `  <defLight${req('defLight', 'name', x.name)}${a('label', x.label)}>${assertPropertyState(x.value)}</defLight>\n`
          break
        case 'defBLOBVector':
          for (const x of m.members)
            body += `  <defBLOB${req('defBLOB', 'name', x.name)}${a('label', x.label)}/>\n`
          break
      }
      return `${head}${body}</${t}>\n`
    }
    case 'setTextVector':
    case 'setNumberVector':
    case 'setSwitchVector':
    case 'setLightVector': {
      let head = `<${t}${req(t, 'device', m.device)}${req(t, 'name', m.name)}`
      if (m.state !== undefined) head += ` state="${assertPropertyState(m.state)}"`
      if (m.tag !== 'setLightVector') head += a('timeout', m.timeout)
      head += `${a('timestamp', m.timestamp)}${a('message', m.message)}>\n`
      return `${head}${members(m)}</${t}>\n`
    }
    case 'newTextVector':
    case 'newNumberVector':
    case 'newSwitchVector':
      return `<${t}${req(t, 'device', m.device)}${req(t, 'name', m.name)}${a('timestamp', m.timestamp)}>\n${members(m)}</${t}>\n`
    default:
      throw new IndiError(
        'ERR_INDI_INVALID_VALUE',
        `not an INDI message tag: ${String((m as { tag: unknown }).tag)}`,
      )
  }
}

type OneMembers = Exclude<
  Extract<IndiMessage, { tag: `set${string}` | `new${string}` }>,
  SetBlobVector | NewBlobVector
>

function members(m: OneMembers): string {
  let body = ''
  switch (m.tag) {
    case 'setTextVector':
    case 'newTextVector':
      for (const x of m.members)
        body += `  <oneText${req('oneText', 'name', x.name)}>${escapeXml(x.value)}</oneText>\n`
      break
    case 'setNumberVector':
    case 'newNumberVector':
      for (const x of m.members) {
        body += `  <oneNumber${req('oneNumber', 'name', x.name)}${a('min', x.min)}${a('max', x.max)}${a('step', x.step)}>${escapeXml(x.value)}</oneNumber>\n`
      }
      break
    case 'setSwitchVector':
    case 'newSwitchVector':
      for (const x of m.members)
        body += `  <oneSwitch${req('oneSwitch', 'name', x.name)}>${assertSwitchState(x.value)}</oneSwitch>\n`
      break
    case 'setLightVector':
      for (const x of m.members)
        body += `  <oneLight${req('oneLight', 'name', x.name)}>${assertPropertyState(x.value)}</oneLight>\n`
      break
  }
  return body
}

/** One message to UTF-8 bytes (BLOBs are assembled from `buildBlobChunks`, never via one big string). */
export function buildMessageBytes(message: IndiMessage, options?: BuildOptions): Uint8Array {
  if (message.tag === 'setBLOBVector' || message.tag === 'newBLOBVector') {
    return Buffer.concat([...buildBlobChunks(message, options)])
  }
  return Buffer.from(buildMessage(message, options), 'utf8')
}

function blobOpen(x: OneBlob, withEnclen: boolean): string {
  if (!Number.isSafeInteger(x.size) || x.size < 0) {
    throw new IndiError(
      'ERR_INDI_INVALID_VALUE',
      `oneBLOB ${x.name}: size must be a byte count, got ${x.size}`,
    )
  }
  // enclen is always computed from the data: a stale value would mislead libindi receivers,
  // which allocate from it.
  const enclen = withEnclen ? ` enclen="${Math.ceil(x.data.length / 3) * 4}"` : ''
  return `  <oneBLOB${req('oneBLOB', 'name', x.name)} size="${x.size}"${req('oneBLOB', 'format', x.format)}${enclen}${x.len === undefined ? '' : ` len="${x.len}"`}>\n`
}

/**
 * A BLOB vector as a sequence of byte chunks, base64 encoded piece by piece, so a large BLOB is
 * never held as one huge string. Concatenated, the chunks equal `buildMessageBytes(message)`.
 * `chunkBytes` (default 196,608) is how many payload bytes go into one chunk; it is rounded down
 * to a multiple of 3 so every chunk but the last encodes without padding.
 */
export function* buildBlobChunks(
  message: SetBlobVector | NewBlobVector,
  options?: BuildOptions & { chunkBytes?: number },
): Generator<Uint8Array> {
  const line = lineLength(options)
  const chunk = Math.max(3, Math.floor((options?.chunkBytes ?? DEFAULT_CHUNK) / 3) * 3)
  const m = message
  const t = m.tag
  let head = `<${t}${req(t, 'device', m.device)}${req(t, 'name', m.name)}`
  if (m.tag === 'setBLOBVector') {
    if (m.state !== undefined) head += ` state="${assertPropertyState(m.state)}"`
    head += a('timeout', m.timeout)
    head += `${a('timestamp', m.timestamp)}${a('message', m.message)}>\n`
  } else {
    head += `${a('timestamp', m.timestamp)}>\n`
  }
  let pending = head
  for (const x of m.members) {
    pending += blobOpen(x, options?.blobEnclen !== false)
    const data = Buffer.isBuffer(x.data)
      ? x.data
      : Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength)
    let col = 0
    for (let off = 0; off < data.length; off += chunk) {
      const enc = Buffer.from(data.toString('base64', off, Math.min(data.length, off + chunk)), 'latin1')
      const prefix = Buffer.from(pending, 'utf8')
      pending = ''
      const wrapped = wrap(enc, col, line)
      col = wrapped.col
      yield prefix.length === 0 ? wrapped.out : Buffer.concat([prefix, wrapped.out])
    }
    if (col > 0) pending += '\n'
    pending += '  </oneBLOB>\n'
  }
  yield Buffer.from(`${pending}</${t}>\n`, 'utf8')
}

/** Insert a newline every `line` characters of the base64 stream, continuing from column `col`. */
function wrap(enc: Buffer, col: number, line: number): { out: Buffer; col: number } {
  if (line === 0) return { out: enc, col: col + enc.length }
  const breaks = Math.floor((col + enc.length) / line)
  const out = Buffer.allocUnsafe(enc.length + breaks)
  let i = 0
  let o = 0
  while (i < enc.length) {
    const take = Math.min(line - col, enc.length - i)
    enc.copy(out, o, i, i + take)
    i += take
    o += take
    col += take
    if (col === line) {
      out[o++] = 10
      col = 0
    }
  }
  return { out, col }
}

export { escapeXml } from './entities.js'
