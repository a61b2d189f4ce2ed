import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { buildMessageBytes, IndiParser, type ParserLimits, type SetBlobVector } from '@indi-ts/indi-xml'
import type { Connection } from '@indi-ts/transport'

/** One BLOB member written to the folder. */
export interface SavedBlob {
  /** Full path of the new file. */
  readonly path: string
  readonly device: string
  readonly vector: string
  readonly member: string
  /** Bytes written (the payload as received; a `.z` format stays compressed). */
  readonly bytes: number
  readonly format: string
  /** The vector's timestamp (or the time of arrival when it had none), as used in the name. */
  readonly timestamp: string
}

/** Options of `saveBlobs()`. */
export interface SaveBlobsOptions {
  /** A client connection to an INDI server (e.g. from `connectTcp()`), read until it ends. */
  readonly connection: Connection
  /** Existing folder the files go to. */
  readonly dir: string
  /** Only these devices; default every device that defines a BLOB vector. */
  readonly devices?: readonly string[]
  /** Stop after this many files. Default unlimited. */
  readonly maxFiles?: number
  /** Stops reading (the connection is left open for the caller to close). */
  readonly signal?: AbortSignal
  /** Called after each file is written. */
  readonly onSaved?: (saved: SavedBlob) => void
  /** Framing limits; raise `maxBlobBytes` for big frames. */
  readonly limits?: ParserLimits
}

/**
 * The name of a saved BLOB: `member_timestamp[_n].ext`, as indipyclient's BLOB folder names them.
 * Colons in the timestamp become `-` (portable file names); anything but letters, digits, `.`,
 * `-` and `_` in the member name becomes `_`; `n` (from 1) only when the plain name is taken.
 */
export function blobFileName(member: string, timestamp: string, format: string, n = 0): string {
  const safe = (s: string): string => s.replace(/[^A-Za-z0-9._-]/g, '_')
  const ext = format === '' || format.startsWith('.') ? format : `.${format}`
  return `${safe(member)}_${safe(timestamp.replace(/:/g, '-'))}${n > 0 ? `_${n}` : ''}${safe(ext)}`
}

/**
 * The client BLOB folder: asks the server for every property, answers each defBLOBVector by
 * setting its device to BLOBs `Also`, and writes every BLOB received to `dir` under
 * `blobFileName()`, never overwriting a file. Resolves with the number of files written when the
 * connection ends, `maxFiles` is reached, or `signal` aborts.
 */
export async function saveBlobs(options: SaveBlobsOptions): Promise<number> {
  const { connection, dir, devices, maxFiles = Number.POSITIVE_INFINITY, signal, onSaved } = options
  signal?.throwIfAborted()
  const parser = new IndiParser(options.limits ?? {})
  const enabled = new Set<string>()
  const wanted = (device: string): boolean => devices === undefined || devices.includes(device)
  const send = (bytes: Uint8Array): void => {
    connection.send(bytes)
  }
  if (devices === undefined) send(buildMessageBytes({ tag: 'getProperties', version: '1.7' }))
  else for (const device of devices) send(buildMessageBytes({ tag: 'getProperties', version: '1.7', device }))
  let saved = 0
  const iterator = connection[Symbol.asyncIterator]()
  let onAbort: (() => void) | undefined
  const stop = new Promise<IteratorResult<Uint8Array>>((resolve) => {
    onAbort = () => resolve({ done: true, value: undefined })
    signal?.addEventListener('abort', onAbort, { once: true })
  })
  try {
    while (saved < maxFiles) {
      const next = await Promise.race([iterator.next(), stop])
      if (next.done) break
      for (const ev of parser.push(next.value)) {
        if (ev.kind !== 'message') continue
        const m = ev.message
        if (m.tag === 'defBLOBVector' && wanted(m.device) && !enabled.has(m.device)) {
          // indipyclient sets every device to Also; one enableBLOB per device covers all its BLOBs.
          enabled.add(m.device)
          send(buildMessageBytes({ tag: 'enableBLOB', device: m.device, policy: 'Also' }))
        } else if (m.tag === 'setBLOBVector' && wanted(m.device)) {
          for (const s of await writeVector(dir, m, maxFiles - saved)) {
            saved++
            onSaved?.(s)
          }
          if (saved >= maxFiles) break
        }
      }
    }
  } finally {
    if (onAbort) signal?.removeEventListener('abort', onAbort)
    // Stop the iteration without closing the connection: the caller owns it.
    void iterator.return?.()
  }
  return saved
}

async function writeVector(dir: string, v: SetBlobVector, room: number): Promise<SavedBlob[]> {
  const out: SavedBlob[] = []
  const timestamp = v.timestamp ?? new Date().toISOString().slice(0, 19)
  for (const b of v.members) {
    // size 0 is a state change with no data (protocol reference §1.3).
    if (out.length >= room || b.data.byteLength === 0) continue
    for (let n = 0; ; n++) {
      const path = join(dir, blobFileName(b.name, timestamp, b.format, n))
      try {
        await writeFile(path, b.data, { flag: 'wx' })
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue
        throw err
      }
      out.push({
        path,
        device: v.device,
        vector: v.name,
        member: b.name,
        bytes: b.data.byteLength,
        format: b.format,
        timestamp,
      })
      break
    }
  }
  return out
}
