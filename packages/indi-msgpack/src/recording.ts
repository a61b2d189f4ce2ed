import { createReadStream } from 'node:fs'
import { type FileHandle, open } from 'node:fs/promises'
import { performance } from 'node:perf_hooks'
import type { IndiMessage } from '@indi-ts/indi-xml'
import { IndiError } from '@indi-ts/indi-xml'
import type { AbortOptions } from '@indi-ts/transport'
import { messageFromWire, messageToWire } from './codec.js'
import { DEFAULT_MAX_FRAME_BYTES, FrameSplitter, RECORDING_MAGIC } from './framing.js'
import { BinaryFormatError, packWire, unpackWire, type Wire } from './pack.js'

/**
 * Direction of a record, from the point of view of the process that recorded it: `'in'` was
 * received from `peer`, `'out'` was sent to `peer`.
 */
export type RecordDirection = 'in' | 'out'

interface RecordHead {
  /** Milliseconds since the recording started (monotonic clock, fractional). */
  t: number
  dir: RecordDirection
  /** Who the message came from or went to, e.g. `driver:indi_simulator_ccd`, `client:tcp:127.0.0.1:5120`. */
  peer: string
}
/** One recorded message: either a decoded INDI message or the raw XML bytes of an element. */
export type SessionRecord =
  | (RecordHead & { msg: IndiMessage; raw?: undefined })
  | (RecordHead & { raw: Uint8Array; msg?: undefined })

/** The recording's header. */
export interface RecordingHeader {
  /** Format version (1). */
  version: number
  /** Wall-clock start of the recording, ms since the Unix epoch. */
  startTime: number
  /** Free-form string pairs: host, server version, command line… */
  meta: Record<string, string>
}

const DIRS: readonly RecordDirection[] = ['in', 'out']

/** One record as a length-prefixed frame: `[t, dir, peer, message-array | bin]`. */
function frameRecord(t: number, dir: RecordDirection, peer: string, body: IndiMessage | Uint8Array): Buffer {
  if (typeof peer !== 'string') throw new IndiError('ERR_INDI_INVALID_VALUE', 'record peer is not a string')
  const wire: Wire = [t, dir === 'out' ? 1 : 0, peer, body instanceof Uint8Array ? body : messageToWire(body)]
  return frame(wire)
}

function frame(wire: Wire): Buffer {
  const buf = packWire(wire, 4)
  buf.writeUInt32BE(buf.length - 4, 0)
  return buf
}

/** Encodes one record as a length-prefixed frame (what `SessionRecorder` appends). */
export function encodeRecord(record: SessionRecord): Uint8Array {
  return frameRecord(record.t, record.dir, record.peer, record.msg ?? record.raw)
}

function decodeRecord(payload: Uint8Array): SessionRecord {
  const v = unpackWire(payload)
  if (!Array.isArray(v) || v.length !== 4) throw new BinaryFormatError('a record is an array of 4 items', '')
  const [t, d, peer, body] = v as unknown[]
  if (typeof t !== 'number') throw new BinaryFormatError('expected a number', '[0]')
  if (d !== 0 && d !== 1) throw new BinaryFormatError(`bad direction code ${String(d)}`, '[1]')
  if (typeof peer !== 'string') throw new BinaryFormatError('expected a string', '[2]')
  const dir = DIRS[d] as RecordDirection
  if (body instanceof Uint8Array) return { t, dir, peer, raw: body }
  return { t, dir, peer, msg: messageFromWire(body, '[3]') }
}

/** Options of `SessionRecorder.create`. */
export interface RecorderOptions {
  /** Wall-clock start written in the header, ms since the epoch. Default `Date.now()`. */
  startTime?: number
  /** Replace an existing file. Default false: a night's recording is never overwritten by accident. */
  overwrite?: boolean
  /** String pairs stored in the header. */
  meta?: Record<string, string>
  /** Monotonic clock in ms for each record's `t`. Default `performance.now`. */
  now?: () => number
  /** Buffered records are written at least this often, in ms. Default 1000. */
  flushIntervalMs?: number
  /** Write early once this many bytes are buffered. Default 256 KiB. */
  flushBytes?: number
  /**
   * Most bytes held in memory (buffered plus being written). A record that would go past it is
   * dropped and counted in `dropped`, so a slow disk never grows the server's memory. A single
   * record larger than the bound is still taken when nothing else is buffered. Default 64 MiB.
   */
  maxBufferedBytes?: number
}

/**
 * Appends records to a recording file: the header at creation, then one frame per `record()`.
 * `record()` is synchronous and never waits (it is called from the server's hot paths); records
 * are buffered, written every `flushIntervalMs` or `flushBytes`, and `close()` writes the rest.
 */
export class SessionRecorder {
  /** Records dropped because the buffer was full or the file failed. */
  dropped = 0
  /** Records accepted. */
  recorded = 0
  private pending: Uint8Array[] = []
  private pendingBytes = 0
  private writingBytes = 0
  private chain: Promise<void> = Promise.resolve()
  private error: Error | undefined
  private closing: Promise<void> | undefined
  private readonly timer: NodeJS.Timeout
  private readonly now: () => number
  private readonly t0: number
  private readonly flushBytes: number
  private readonly maxBuffered: number

  private constructor(
    private readonly handle: FileHandle,
    readonly path: string,
    readonly header: RecordingHeader,
    options: RecorderOptions,
  ) {
    this.now = options.now ?? (() => performance.now())
    this.t0 = this.now()
    this.flushBytes = options.flushBytes ?? 256 * 1024
    this.maxBuffered = options.maxBufferedBytes ?? 64 * 1024 * 1024
    this.timer = setInterval(() => {
      this.flush().catch(() => {})
    }, options.flushIntervalMs ?? 1000)
    // A recorder must not keep a finished process alive.
    this.timer.unref()
  }

  /**
   * Creates `path` and writes the header.
   * @throws the file system's error when the file cannot be opened or written (`EEXIST` when it
   * exists and `overwrite` is not set).
   */
  static async create(path: string, options: RecorderOptions = {}): Promise<SessionRecorder> {
    const header: RecordingHeader = {
      version: RECORDING_MAGIC[6] as number,
      startTime: options.startTime ?? Date.now(),
      meta: { ...options.meta },
    }
    const handle = await open(path, options.overwrite ? 'w' : 'wx')
    try {
      const entries = Object.entries(header.meta)
      const head = frame([header.startTime, entries.flat()])
      await handle.writev([RECORDING_MAGIC, head])
    } catch (error) {
      await handle.close()
      throw error
    }
    return new SessionRecorder(handle, path, header, options)
  }

  /** Bytes held in memory: buffered plus being written. */
  get bufferedBytes(): number {
    return this.pendingBytes + this.writingBytes
  }

  /**
   * Appends a decoded message. Returns false when it was dropped (buffer full, recorder closed
   * or failed).
   */
  record(dir: RecordDirection, peer: string, message: IndiMessage): boolean {
    return this.append(dir, peer, message)
  }

  /** Appends raw XML bytes of one element (for elements that did not parse, or pass-through). */
  recordRaw(dir: RecordDirection, peer: string, xml: Uint8Array): boolean {
    return this.append(dir, peer, xml)
  }

  private append(dir: RecordDirection, peer: string, body: IndiMessage | Uint8Array): boolean {
    if (this.closing || this.error) {
      this.dropped++
      return false
    }
    const t = this.now() - this.t0
    const bytes = frameRecord(t, dir, peer, body)
    if (this.bufferedBytes > 0 && this.bufferedBytes + bytes.length > this.maxBuffered) {
      this.dropped++
      return false
    }
    this.pending.push(bytes)
    this.pendingBytes += bytes.length
    this.recorded++
    if (this.pendingBytes >= this.flushBytes) this.flush().catch(() => {})
    return true
  }

  /**
   * Writes everything buffered so far.
   * @throws IndiError `ERR_INDI_RECORDING` (with the file system error as cause) once a write failed.
   */
  flush(): Promise<void> {
    const run = this.chain.then(() => this.writePending())
    this.chain = run.catch(() => {})
    return run
  }

  private async writePending(): Promise<void> {
    if (this.error) throw this.error
    if (this.pending.length === 0) return
    const chunks = this.pending
    this.pending = []
    this.writingBytes = this.pendingBytes
    this.pendingBytes = 0
    try {
      await this.handle.writev(chunks)
    } catch (cause) {
      this.error = new IndiError('ERR_INDI_RECORDING', `cannot write recording ${this.path}`, { cause })
      this.dropped += chunks.length
      throw this.error
    } finally {
      this.writingBytes = 0
    }
  }

  /**
   * Writes what is buffered and closes the file. Later `record()` calls return false.
   * @throws IndiError `ERR_INDI_RECORDING` when a write failed.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.timer)
      try {
        await this.flush()
      } finally {
        await this.handle.close()
      }
    })()
    return this.closing
  }
}

/** Options of `readRecording`. */
export interface ReadRecordingOptions extends AbortOptions {
  /** Largest record accepted, in bytes. Default 512 MiB. */
  maxRecordBytes?: number
  /** Called with the byte count of an incomplete last record (a recorder that did not close). */
  onTruncated?: (bytes: number) => void
  /** Receives the header before the first record. */
  onHeader?: (header: RecordingHeader) => void
}

function decodeHeader(payload: Uint8Array): RecordingHeader {
  const v = unpackWire(payload)
  if (!Array.isArray(v) || v.length !== 2) throw new BinaryFormatError('a header is an array of 2 items', '')
  const [startTime, pairs] = v as unknown[]
  if (typeof startTime !== 'number') throw new BinaryFormatError('expected a number', '[0]')
  if (!Array.isArray(pairs) || pairs.length % 2 !== 0)
    throw new BinaryFormatError('expected a list of pairs', '[1]')
  const meta: Record<string, string> = {}
  for (let i = 0; i < pairs.length; i += 2) {
    const k = pairs[i]
    const value = pairs[i + 1]
    if (typeof k !== 'string' || typeof value !== 'string') {
      throw new BinaryFormatError('expected a string', `[1][${typeof k === 'string' ? i + 1 : i}]`)
    }
    meta[k] = value
  }
  return { version: RECORDING_MAGIC[6] as number, startTime, meta }
}

/**
 * Reads a recording: the header (to `onHeader`), then each record in order. An incomplete last
 * record (the recorder was killed mid-write) ends the iteration quietly after `onTruncated`.
 * @throws IndiError `ERR_INDI_RECORDING` for a file that is not a recording, of another
 * version, or with a corrupt record (the cause says what was wrong); file system errors unchanged.
 */
export async function* readRecording(
  path: string,
  options: ReadRecordingOptions = {},
): AsyncGenerator<SessionRecord, void, undefined> {
  const { signal } = options
  signal?.throwIfAborted()
  const splitter = new FrameSplitter(RECORDING_MAGIC, 'recording', {
    maxFrameBytes: options.maxRecordBytes ?? DEFAULT_MAX_FRAME_BYTES,
  })
  let header: RecordingHeader | undefined
  const stream = createReadStream(path, { highWaterMark: 1024 * 1024, signal })
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let frames: Uint8Array[]
      try {
        frames = splitter.push(chunk)
      } catch (error) {
        throw recordingError(path, splitter.offset, error)
      }
      for (const payload of frames) {
        if (header === undefined) {
          try {
            header = decodeHeader(payload)
          } catch (error) {
            throw recordingError(path, 0, error)
          }
          options.onHeader?.(header)
          continue
        }
        let rec: SessionRecord
        try {
          rec = decodeRecord(payload)
        } catch (error) {
          throw recordingError(path, splitter.offset, error)
        }
        // Records of one 1 MiB chunk are yielded without awaiting the stream: check between them.
        signal?.throwIfAborted()
        yield rec
      }
    }
  } catch (error) {
    if (signal?.aborted) throw signal.reason
    throw error
  } finally {
    stream.destroy()
  }
  if (header === undefined) {
    throw new IndiError('ERR_INDI_RECORDING', `${path}: no recording header (file empty or cut short)`)
  }
  if (!splitter.atBoundary) options.onTruncated?.(splitter.pendingBytes)
}

function recordingError(path: string, offset: number, error: unknown): IndiError {
  if (IndiError.is(error, 'ERR_INDI_RECORDING')) return error
  const what = error instanceof Error ? error.message : String(error)
  return new IndiError('ERR_INDI_RECORDING', `${path}: bad record near byte ${offset}: ${what}`, {
    cause: error,
  })
}

/**
 * Reads only the header of a recording (and at most its first record).
 * @throws IndiError `ERR_INDI_RECORDING` as `readRecording`.
 */
export async function readRecordingHeader(
  path: string,
  options: AbortOptions = {},
): Promise<RecordingHeader> {
  let found: RecordingHeader | undefined
  for await (const _ of readRecording(path, { ...options, onHeader: (h) => (found = h) })) break
  if (found === undefined) throw new IndiError('ERR_INDI_RECORDING', `${path}: no recording header`)
  return found
}
