/**
 * @indi-ts/transport/node: adapts Node streams (a net.Socket, a child's stdin/stdout, your own
 * process's stdio) into a {@link Connection}. The one adapter behind transport-tcp and
 * transport-stdio; use it to build your own Node transport. Not browser-safe (imports node:).
 */
import type { Duplex, Readable, Writable } from 'node:stream'
import { IndiError } from '@indi-ts/indi-xml'
import type { AbortOptions, Connection } from './connection.js'
import { closedError, resetError } from './errors.js'
import { Inbox, Waiters } from './inbox.js'

export { Inbox, Waiters } from './inbox.js'

/** 64 KiB: the default high-water mark for reads and writes, the size of one socket read. */
export const DEFAULT_STREAM_HIGH_WATER_MARK = 64 * 1024

/**
 * Sends smaller than this are gathered and written as one buffer at the end of the current
 * microtask run; larger ones are written as they are (a copy would cost more than the syscall).
 */
const COALESCE_BYTES = 16 * 1024

/** Why a StreamConnection releases its streams: see {@link StreamConnectionOptions.release}. */
export type ReleaseKind = 'clean' | 'abort' | 'error'

/** Options of {@link StreamConnection}. */
export interface StreamConnectionOptions {
  /** For logs and errors, e.g. "tcp:127.0.0.1:51012". */
  label: string
  /** Where received bytes come from (a socket, a child's stdout). */
  readable: Readable
  /** Where sent bytes go (the same socket, a child's stdin). */
  writable: Writable
  /**
   * Bytes, default 65 536. Reads: the source is paused once this much is received and not yet
   * iterated. Writes: `send()` returns false once this much is queued and not yet taken by the OS.
   */
  highWaterMark?: number
  /**
   * Releases the underlying resource once the connection is over. `how` is 'clean' (both
   * directions ended, or close()), 'abort' (destroy() was called here: make the peer see a broken
   * link, e.g. TCP RST or killing a child) or 'error' (the link already broke). Default: destroy
   * both streams.
   */
  release?: (how: ReleaseKind) => void
  /**
   * 'auto' (default): the readable's end is the connection's end of input. 'manual': the owner
   * decides, calling `endInput()` or `terminate()` (spawnDriver waits for the exit status so a
   * crashed driver's iteration ends with an error, not a clean end).
   */
  endOfInput?: 'auto' | 'manual'
}

/**
 * A Connection over a Node readable and writable (they may be the same Duplex, e.g. a socket).
 *
 * - Reads are pulled: incoming 'data' chunks are queued (no copy) and the readable is paused
 *   once `highWaterMark` bytes wait unread; it resumes as the iterator pulls.
 * - Writes: small sends are gathered into one buffer per microtask run, so a burst of INDI
 *   elements becomes one write(); `send()` returns false past `highWaterMark` queued bytes.
 * - Errors from either stream (ECONNRESET, EPIPE, …) become IndiError ERR_INDI_CONNECTION_RESET
 *   with the original as `cause`; an IndiError passes unchanged.
 * - A failed write ends only the output (indilib #1669, "half-closed sockets"): sends are dropped
 *   and drained() rejects, but what the peer sent before it went (still in Node's buffer or the
 *   kernel's receive queue) is read and delivered until the input ends; the iteration then throws
 *   the write error and `closed` settles with it. indi_setprop writes its new* and exits while the
 *   server is still writing definitions to it: that new* must still be routed.
 * - A socket must be created with `allowHalfOpen: true`, else Node ends our side on the peer's
 *   end and `end()` half-close cannot work.
 */
export class StreamConnection implements Connection {
  readonly label: string
  readonly closed: Promise<Error | undefined>
  protected readonly inbox: Inbox
  protected readonly writers = new Waiters()
  private readonly readable: Readable
  private readonly writable: Writable
  private readonly hwm: number
  private readonly releaseFn: (how: ReleaseKind) => void
  private pending: Uint8Array[] = []
  private pendingBytes = 0
  private flushQueued = false
  private paused = false
  private writeEnded = false
  private writeFinished = false
  private writeError: Error | undefined = undefined
  /** Set when a write failed while input may still arrive (see writeFailed). */
  private outputBroken: Error | undefined = undefined
  private settled = false
  private released = false
  private settleFn!: (e: Error | undefined) => void

  constructor(options: StreamConnectionOptions) {
    this.label = options.label
    this.readable = options.readable
    this.writable = options.writable
    this.hwm = options.highWaterMark ?? DEFAULT_STREAM_HIGH_WATER_MARK
    this.releaseFn = options.release ?? defaultRelease(options.readable, options.writable)
    this.closed = new Promise((resolve) => {
      this.settleFn = resolve
    })
    this.inbox = new Inbox(this.label, this.hwm, () => {
      if (this.paused && !this.inbox.full) {
        this.paused = false
        this.readable.resume()
      }
    })
    const r = this.readable
    const w = this.writable
    r.on('data', (chunk: Uint8Array) => {
      if (!this.inbox.push(chunk) && !this.inbox.finished) {
        this.paused = true
        r.pause()
      }
    })
    if (options.endOfInput !== 'manual') r.on('end', () => this.endInput())
    // Stream errors keep what was already received: a crashed peer's last bytes are still valid.
    r.on('error', (e: Error) => this.fail(this.wrap(e), true))
    r.on('close', () => {
      if (!r.readableEnded && !this.inbox.finished) {
        this.fail(resetError(this.label, 'the input closed without an end'))
      }
    })
    if (w !== (r as unknown)) {
      // A separate output (a child's stdin) breaking leaves its input (the child's stdout) alone.
      w.on('error', (e: Error) => this.writeFailed(this.wrap(e)))
      w.on('close', () => {
        if (!this.writeFinished && this.writeError === undefined) {
          this.writeFailed(resetError(this.label, 'the output closed before it was ended'))
        }
      })
    } else {
      // One Duplex (a socket): Node destroys it on a write error, closing the fd with unread input.
      isolateWriteErrors(w, (e) => this.writeFailed(this.wrap(e)))
    }
    w.on('finish', () => {
      // A one-way stream (a pipe or FIFO end) only signals end of data to the reader when its fd
      // is closed: shutdown() does nothing on a pipe. A socket half-closes with shutdown instead.
      if (w !== (r as unknown)) w.destroy()
      this.writeFinished = true
      this.writers.wake()
      this.checkClosed()
    })
    if (r.readableEnded && options.endOfInput !== 'manual') this.inbox.end()
  }

  /**
   * Clean end of input: the iteration ends after the chunks already received (and throws the
   * write error if our output had broken before).
   */
  endInput(): void {
    if (this.outputBroken !== undefined) this.inbox.fail(this.outputBroken, true)
    else this.inbox.end()
    this.checkClosed()
  }

  /** Maps a stream error to the contract's error: IndiErrors pass, the rest is a reset. */
  protected wrap(e: Error): Error {
    if (IndiError.is(e)) return e
    const code = (e as NodeJS.ErrnoException).code
    return resetError(this.label, code === undefined ? e.message : `${code} ${e.message}`, e)
  }

  send(chunk: Uint8Array, released?: () => void): boolean {
    if (this.writeEnded || this.writeError !== undefined) {
      released?.()
      return false
    }
    const n = chunk.length
    if (n >= COALESCE_BYTES) {
      if (this.pendingBytes > 0) this.flush()
      // The stream calls back once the write is done or failed (also when it was destroyed with
      // the chunk still queued): either way it has let go of the chunk.
      if (released !== undefined)
        this.writable.write(chunk, () => {
          this.onWritten()
          released()
        })
      else this.write(chunk)
    } else if (n > 0) {
      // Small chunks are coalesced (and written as they are when alone): one that the caller wants
      // back is copied, which costs little at this size, and given back at once.
      if (released !== undefined) {
        this.pending.push(Uint8Array.prototype.slice.call(chunk))
        released()
      } else this.pending.push(chunk)
      this.pendingBytes += n
      if (this.pendingBytes >= COALESCE_BYTES) this.flush()
      else if (!this.flushQueued) {
        this.flushQueued = true
        queueMicrotask(this.flushTask)
      }
    }
    return this.bufferedBytes < this.hwm
  }

  private readonly flushTask = (): void => {
    this.flushQueued = false
    if (this.pendingBytes > 0) this.flush()
  }

  private flush(): void {
    const list = this.pending
    const n = this.pendingBytes
    this.pending = []
    this.pendingBytes = 0
    if (this.writeError !== undefined) return
    this.write(list.length === 1 ? list[0]! : Buffer.concat(list, n))
  }

  private write(chunk: Uint8Array): void {
    this.writable.write(chunk, this.onWritten)
  }

  /** Called as each write reaches the OS: the queue shrank, so drained() may resolve. */
  private readonly onWritten = (): void => {
    if (this.writers.size > 0) this.writers.wake()
  }

  get bufferedBytes(): number {
    if (this.writeError !== undefined) return 0
    return this.pendingBytes + this.writable.writableLength
  }

  drained(options?: AbortOptions): Promise<void> {
    return this.writers.wait(
      () => this.bufferedBytes < this.hwm,
      () => this.writeError ?? (this.writeEnded ? closedError(this.label) : undefined),
      options,
    )
  }

  end(options?: AbortOptions): Promise<void> {
    // Fail before touching state: an aborted end() leaves the connection as it was.
    if (options?.signal?.aborted === true) return Promise.reject(options.signal.reason)
    if (!this.writeEnded && this.writeError === undefined) {
      this.writeEnded = true
      if (this.pendingBytes > 0) this.flush()
      this.writable.end()
    }
    return this.writers.wait(
      () => this.writeFinished,
      () => this.writeError,
      options,
    )
  }

  async close(options?: AbortOptions): Promise<void> {
    try {
      await this.end(options)
    } catch (e) {
      if (options?.signal?.aborted === true && e === options.signal.reason) this.destroy()
      else {
        // The output broke while flushing: we were stopping reading anyway, so drop the input
        // now rather than keep the connection open for a reader that will never come.
        this.inbox.discard()
        this.checkClosed()
      }
      throw e
    }
    // We stop reading: drop what is unread. The peer sees our end after all we sent; if it keeps
    // sending, its writes fail (ERR_INDI_CONNECTION_RESET) as with any closed socket.
    this.inbox.discard()
    this.finish(undefined, 'clean')
  }

  destroy(reason?: Error): void {
    if (this.settled && this.released) return
    this.pending = []
    this.pendingBytes = 0
    if (reason === undefined) this.inbox.discard()
    else this.inbox.fail(reason)
    this.writeError ??= reason ?? closedError(this.label)
    this.writers.wake()
    this.finish(reason, 'abort')
  }

  /**
   * The link broke (a stream error, or the owner learnt it otherwise, e.g. a child exited badly).
   * With `keep`, chunks already received are still delivered before the iterator throws.
   */
  fail(err: Error, keep = false): void {
    if (this.settled) return
    this.inbox.fail(err, keep)
    this.pending = []
    this.pendingBytes = 0
    this.writeError ??= err
    this.writers.wake()
    this.finish(err, 'error')
  }

  /**
   * The owner learnt that the peer is gone for good (e.g. a child process exited). Without an
   * error it is a clean end: received chunks are still delivered, then the iteration ends, and
   * sends fail with ERR_INDI_CLOSED. With an error this is `fail(err, true)`.
   */
  terminate(err?: Error): void {
    if (this.settled) return
    if (err !== undefined) {
      this.fail(err, true)
      return
    }
    this.inbox.end()
    this.pending = []
    this.pendingBytes = 0
    this.writeError ??= closedError(this.label)
    this.writers.wake()
    this.finish(undefined, 'clean')
  }

  /**
   * Our output broke (EPIPE, ECONNRESET on write, a pipe's reader gone). Stop writing, but keep
   * delivering input until it ends (indilib #1669): the peer's last messages are still valid.
   */
  private writeFailed(err: Error): void {
    if (this.settled || this.writeError !== undefined) return
    this.outputBroken = err
    this.writeError = err
    this.pending = []
    this.pendingBytes = 0
    this.writers.wake()
    if (this.inbox.ended) {
      // Input had already ended cleanly: nothing more can arrive.
      this.finish(err, 'error')
      return
    }
    this.checkClosed()
  }

  private checkClosed(): void {
    if (this.settled || !this.inbox.finished) return
    if (this.writeFinished || this.outputBroken !== undefined) {
      const err = this.inbox.error ?? this.outputBroken
      this.finish(err, err === undefined ? 'clean' : 'error')
    }
  }

  /** Settles `closed` once and releases the streams (freeing the fd or pipe). */
  private finish(err: Error | undefined, how: ReleaseKind): void {
    if (!this.settled) {
      this.settled = true
      this.settleFn(err)
    }
    if (!this.released) {
      this.released = true
      this.releaseFn(how)
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.inbox.iterator()
  }
}

type WriteCallback = (error?: Error | null) => void
interface WritableImpl {
  _write(chunk: unknown, encoding: BufferEncoding, cb: WriteCallback): void
  _writev?: ((chunks: unknown[], cb: WriteCallback) => void) | null
  _final?: (cb: WriteCallback) => void
}

/**
 * Keeps a Duplex's write failures away from its stream machinery, which would destroy the whole
 * Duplex (a net.Socket closes its fd, and the input still queued in Node or in the kernel is never
 * read). The failure goes to `onError` instead; later writes are dropped, and the readable side
 * goes on until the peer's end or reset. Wraps `_write`/`_writev`/`_final`, the documented
 * implementer hooks of stream.Writable, on this instance only.
 */
function isolateWriteErrors(duplex: Writable, onError: (e: Error) => void): void {
  const impl = duplex as unknown as WritableImpl
  let failed = false
  const guard =
    (cb: WriteCallback): WriteCallback =>
    (e) => {
      if (e != null && !failed) {
        failed = true
        onError(e)
      }
      cb()
    }
  const write = impl._write
  impl._write = (chunk, encoding, cb) => {
    if (failed) cb()
    else write.call(duplex, chunk, encoding, guard(cb))
  }
  const writev = impl._writev
  if (typeof writev === 'function') {
    impl._writev = (chunks, cb) => {
      if (failed) cb()
      else writev.call(duplex, chunks, guard(cb))
    }
  }
  const final = impl._final
  if (typeof final === 'function') {
    impl._final = (cb) => {
      if (failed) cb()
      else final.call(duplex, guard(cb))
    }
  }
}

function defaultRelease(r: Readable, w: Writable): (how: ReleaseKind) => void {
  return () => {
    r.destroy()
    if (w !== (r as unknown)) w.destroy()
  }
}

/** Options of {@link duplexConnection}. */
export interface DuplexConnectionOptions {
  /** For logs and errors. */
  label: string
  /** See {@link StreamConnectionOptions.highWaterMark}. Default 65 536 bytes. */
  highWaterMark?: number
  /** See {@link StreamConnectionOptions.release}. Default: destroy the duplex. */
  release?: (how: ReleaseKind) => void
}

/** A Connection over one Duplex (a net.Socket with `allowHalfOpen: true`, a TLS socket, …). */
export function duplexConnection(duplex: Duplex, options: DuplexConnectionOptions): Connection {
  return new StreamConnection({ ...options, readable: duplex, writable: duplex })
}
