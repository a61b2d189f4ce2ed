/**
 * How-to: write your own INDI transport. This one carries INDI over WebSocket (package `ws`), so
 * a browser or a proxy can reach a driver or server. Anything that implements `Connection` works
 * with IndiServer and Driver unchanged; prove yours with the compliance suite, as
 * test/ws-transport.test.ts does:
 *
 *   connectionCompliance('ws', { create: wsPair })
 *
 * The four things a transport must get right, and how this one does them:
 * 1. Pulled reads: received frames go into an `Inbox` (from @indi-ts/transport/node), which
 *    pauses the socket once a high-water mark is unread and resumes it as the iterator pulls.
 * 2. Boolean sends: `send()` queues and returns false past the high-water mark, measured with
 *    ws's `bufferedAmount`; `drained()` waits on send callbacks. Small sends within one
 *    microtask run are gathered into one frame.
 * 3. Half-close: WebSocket has none, so we send a text frame "end" to mean "no more bytes from
 *    me"; data always travels in binary frames.
 * 4. Errors: an abnormal close (code 1006, e.g. `terminate()` on the other side) or a socket
 *    error becomes IndiError ERR_INDI_CONNECTION_RESET; `destroy()` terminates the socket.
 */
import type { AddressInfo } from 'node:net'
import type { Connection } from '@indi-ts/transport'
import { closedError, resetError } from '@indi-ts/transport'
import { Inbox, Waiters } from '@indi-ts/transport/node'
import WebSocket, { WebSocketServer } from 'ws'

/** The text frame that half-closes: the peer's iteration ends after what came before it. */
const END_FRAME = 'end'
/** Sends below this are gathered into one binary frame per microtask run. */
const COALESCE_BYTES = 16 * 1024

/** Options of {@link wsConnection}. */
export interface WsConnectionOptions {
  /** Label for logs and errors. Default "ws"; listenWs uses `ws:<address>:<port>`. */
  label?: string
  /** Bytes queued (sending) or unread (receiving) before backpressure. Default 65 536. */
  highWaterMark?: number
}

/** Wraps an open `ws` WebSocket as a Connection. */
export function wsConnection(socket: WebSocket, options: WsConnectionOptions = {}): Connection {
  return new WsConnection(socket, options)
}

class WsConnection implements Connection {
  readonly label: string
  readonly closed: Promise<Error | undefined>
  private readonly inbox: Inbox
  private readonly writers = new Waiters()
  private readonly hwm: number
  private pending: Uint8Array[] = []
  private pendingBytes = 0
  private flushQueued = false
  private writeEnded = false
  private endFlushed = false
  private writeError: Error | undefined = undefined
  private socketClosed = false
  private settled = false
  private settle!: (e: Error | undefined) => void

  constructor(
    private readonly ws: WebSocket,
    options: WsConnectionOptions,
  ) {
    this.label = options.label ?? 'ws'
    this.hwm = options.highWaterMark ?? 64 * 1024
    this.closed = new Promise((resolve) => {
      this.settle = resolve
    })
    let paused = false
    this.inbox = new Inbox(this.label, this.hwm, () => {
      if (paused && !this.inbox.full) {
        paused = false
        ws.resume()
      }
    })
    ws.binaryType = 'nodebuffer'
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        if (data.toString() === END_FRAME) this.endInput()
        return
      }
      if (!this.inbox.push(data) && !this.inbox.finished) {
        paused = true
        ws.pause()
      }
    })
    ws.on('error', (e: Error) => this.fail(resetError(this.label, e.message, e)))
    ws.on('close', (code: number) => {
      this.socketClosed = true
      this.writers.wake()
      // 1000 (normal) or 1005 (no code) after an "end" frame is a clean close; anything else,
      // notably 1006 (the TCP link dropped without a close frame), broke the link.
      if ((code === 1000 || code === 1005) && this.inbox.ended) {
        this.writeError ??= this.writeEnded ? undefined : closedError(this.label)
        this.finish(undefined)
      } else {
        this.fail(resetError(this.label, `the WebSocket closed with code ${code}`))
      }
    })
  }

  private endInput(): void {
    this.inbox.end()
    this.maybeClose()
  }

  send(chunk: Uint8Array): boolean {
    if (this.writeEnded || this.writeError !== undefined || this.socketClosed) return false
    if (chunk.length >= COALESCE_BYTES) {
      this.flush()
      this.ws.send(chunk, { binary: true }, this.onSent)
    } else if (chunk.length > 0) {
      this.pending.push(chunk)
      this.pendingBytes += chunk.length
      if (this.pendingBytes >= COALESCE_BYTES) this.flush()
      else if (!this.flushQueued) {
        this.flushQueued = true
        queueMicrotask(() => {
          this.flushQueued = false
          this.flush()
        })
      }
    }
    return this.bufferedBytes < this.hwm
  }

  private flush(): void {
    if (this.pendingBytes === 0 || this.socketClosed || this.writeError !== undefined) return
    const frame =
      this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes)
    this.pending = []
    this.pendingBytes = 0
    this.ws.send(frame, { binary: true }, this.onSent)
  }

  private readonly onSent = (): void => this.writers.wake()

  get bufferedBytes(): number {
    if (this.writeError !== undefined || this.socketClosed) return 0
    return this.pendingBytes + this.ws.bufferedAmount
  }

  drained(options?: { signal?: AbortSignal }): Promise<void> {
    return this.writers.wait(
      () => this.bufferedBytes < this.hwm,
      () => this.writeError ?? (this.writeEnded || this.socketClosed ? closedError(this.label) : undefined),
      options,
    )
  }

  end(options?: { signal?: AbortSignal }): Promise<void> {
    // Fail before touching state: an aborted end() leaves the connection as it was.
    if (options?.signal?.aborted === true) return Promise.reject(options.signal.reason)
    if (!this.writeEnded && this.writeError === undefined && !this.socketClosed) {
      this.writeEnded = true
      this.flush()
      this.ws.send(END_FRAME, { binary: false }, () => {
        this.endFlushed = true
        this.writers.wake()
        this.maybeClose()
      })
    }
    return this.writers.wait(
      () => this.endFlushed || this.socketClosed,
      () => this.writeError,
      options,
    )
  }

  /** Both directions ended cleanly: close the WebSocket normally. */
  private maybeClose(): void {
    if (this.endFlushed && this.inbox.ended && !this.socketClosed) this.ws.close(1000)
  }

  async close(options?: { signal?: AbortSignal }): Promise<void> {
    try {
      await this.end(options)
    } catch (e) {
      if (options?.signal?.aborted === true && e === options.signal.reason) this.destroy()
      throw e
    }
    // We stop reading: what the peer still sends is dropped, and its socket closes with ours.
    this.inbox.discard()
    if (!this.socketClosed) this.ws.close(1000)
    this.writeError ??= closedError(this.label)
    this.finish(undefined)
  }

  destroy(reason?: Error): void {
    if (this.settled && this.socketClosed) return
    this.pending = []
    this.pendingBytes = 0
    if (reason === undefined) this.inbox.discard()
    else this.inbox.fail(reason)
    this.writeError ??= reason ?? closedError(this.label)
    this.writers.wake()
    this.finish(reason)
    // terminate() drops the TCP link without a close frame: the peer sees code 1006.
    this.ws.terminate()
  }

  private fail(err: Error): void {
    if (this.settled) return
    this.inbox.fail(err, true)
    this.writeError ??= err
    this.writers.wake()
    this.finish(err)
    this.ws.terminate()
  }

  private finish(err: Error | undefined): void {
    if (this.settled) return
    this.settled = true
    this.settle(err)
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.inbox.iterator()
  }
}

/** A WebSocket listener: iterate it to receive each client as a Connection. */
export interface WsListener extends AsyncIterable<Connection> {
  readonly address: { host: string; port: number }
  /** Stops accepting; connections already handed out stay open. */
  close(): Promise<void>
}

/** Listens for WebSocket clients on `host` (default 127.0.0.1) and `port` (0: pick one). */
export async function listenWs(options: { host?: string; port: number }): Promise<WsListener> {
  const server = new WebSocketServer({ host: options.host ?? '127.0.0.1', port: options.port })
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve)
    server.once('error', reject)
  })
  const queue: Connection[] = []
  let waiter: ((r: IteratorResult<Connection>) => void) | undefined
  let closing = false
  server.on('connection', (ws, req) => {
    const conn = wsConnection(ws, { label: `ws:${req.socket.remoteAddress}:${req.socket.remotePort}` })
    if (waiter !== undefined) {
      const w = waiter
      waiter = undefined
      w({ value: conn, done: false })
    } else queue.push(conn)
  })
  const a = server.address() as AddressInfo
  return {
    address: { host: a.address, port: a.port },
    close: () => {
      closing = true
      waiter?.({ value: undefined, done: true })
      waiter = undefined
      for (const c of queue.splice(0)) c.destroy()
      // Since ws 8, close() stops the listener without touching the clients already accepted.
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
    [Symbol.asyncIterator]: () => ({
      next: () => {
        const c = queue.shift()
        if (c !== undefined) return Promise.resolve({ value: c, done: false })
        if (closing) return Promise.resolve({ value: undefined, done: true })
        return new Promise<IteratorResult<Connection>>((r) => {
          waiter = r
        })
      },
    }),
  }
}

/** Connects to a WebSocket INDI endpoint, e.g. `ws://127.0.0.1:7626/`. Rejects with signal.reason on abort. */
export function connectWs(url: string, options: { signal?: AbortSignal } = {}): Promise<Connection> {
  const { signal } = options
  if (signal?.aborted === true) return Promise.reject(signal.reason)
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false })
    const onAbort = (): void => {
      ws.terminate()
      reject(signal!.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    ws.once('open', () => {
      signal?.removeEventListener('abort', onAbort)
      resolve(wsConnection(ws, { label: `ws:${url}` }))
    })
    ws.once('error', (e) => {
      signal?.removeEventListener('abort', onAbort)
      reject(e)
    })
  })
}
