import { EventEmitter } from 'node:events'
import { BlockList, createServer, isIP, type Server, type Socket } from 'node:net'
import { IndiError } from '@indi-ts/indi-xml'
import type { Connection } from '@indi-ts/transport'
import { socketLabel, type TcpConnectionOptions, tcpConnection } from './socket.js'

/** Why a peer was turned away. */
export type RefusalReason = 'max-connections' | 'not-allowed'

/** What a 'refused' event carries. */
export interface RefusedPeer {
  reason: RefusalReason
  /** The peer's address, e.g. "192.168.1.20" or "::1". */
  address: string
  port: number
}

/** Options of {@link listenTcp}. */
export interface ListenTcpOptions extends TcpConnectionOptions {
  /** Address to bind. Default '127.0.0.1' (loopback only); '::' or '0.0.0.0' to serve a network. */
  host?: string
  /** TCP port; 0 picks a free one (read it from `.address.port`). INDI's is 7624. */
  port: number
  /** Most connections open at once (accepted and not yet closed); extra peers are refused. Default: no limit. */
  maxConnections?: number
  /**
   * Peers allowed to connect: addresses ("192.168.1.20", "::1") or CIDR networks ("10.0.0.0/8",
   * "fd00::/8"). IPv4 rules also match IPv4-mapped IPv6 peers. Default: everyone.
   */
  allow?: readonly string[]
  /** Bytes written to a refused peer before its socket is closed, e.g. an INDI `<message>`. */
  refuseMessage?: Uint8Array | string
  /** Called for each refused peer (the listener also emits 'refused'). */
  onRefused?: (peer: RefusedPeer) => void
  /** Aborting closes the listener, as `close()` does. */
  signal?: AbortSignal
}

/** Events of {@link TcpListener}. */
export interface TcpListenerEvents {
  refused: [RefusedPeer]
  error: [Error]
}

/**
 * An INDI TCP listener: iterate it (once) to receive each accepted peer as a Connection, labelled
 * "tcp:<address>:<port>". Peers over `maxConnections` or outside `allow` are refused: they get
 * `refuseMessage`, their socket is closed, and a 'refused' event tells why.
 */
export class TcpListener extends EventEmitter<TcpListenerEvents> implements AsyncIterable<Connection> {
  /** The bound address; `port` is the real one when 0 was asked. */
  readonly address: { host: string; port: number }
  private readonly queue: Connection[] = []
  private waiter: ((r: IteratorResult<Connection>) => void) | undefined
  private iterating = false
  private closing: Promise<void> | undefined
  private active = 0

  /** @internal Use {@link listenTcp}. */
  constructor(
    private readonly server: Server,
    private readonly options: ListenTcpOptions,
    private readonly allow: BlockList | undefined,
  ) {
    super()
    const a = server.address()
    if (a === null || typeof a === 'string') throw new Error('listenTcp: not a TCP address')
    this.address = { host: a.address, port: a.port }
    server.on('connection', (socket) => this.accept(socket))
    server.on('error', (e) => {
      if (this.listenerCount('error') > 0) this.emit('error', e)
    })
  }

  /** Connections accepted and not yet closed. */
  get connections(): number {
    return this.active
  }

  private accept(socket: Socket): void {
    const address = socket.remoteAddress ?? ''
    const port = socket.remotePort ?? 0
    if (this.closing !== undefined) {
      socket.destroy()
      return
    }
    let reason: RefusalReason | undefined
    if (this.allow !== undefined && !this.allow.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4')) {
      reason = 'not-allowed'
    } else if (this.options.maxConnections !== undefined && this.active >= this.options.maxConnections) {
      reason = 'max-connections'
    }
    if (reason !== undefined) {
      this.refuse(socket, { reason, address, port })
      return
    }
    this.active++
    const conn = tcpConnection(socket, socketLabel(socket), this.options)
    void conn.closed.then(() => {
      this.active--
    })
    const w = this.waiter
    if (w !== undefined) {
      this.waiter = undefined
      w({ value: conn, done: false })
    } else {
      this.queue.push(conn)
    }
  }

  private refuse(socket: Socket, peer: RefusedPeer): void {
    socket.on('error', () => {})
    const msg = this.options.refuseMessage
    if (msg === undefined) socket.destroy()
    // end() flushes the message and FIN; destroy once it is out so a peer that never reads
    // cannot hold the socket open.
    else socket.end(msg, () => socket.destroy())
    this.options.onRefused?.(peer)
    this.emit('refused', peer)
  }

  /** Stops accepting and ends the iteration; connections not yet taken are destroyed. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve())
      for (const c of this.queue.splice(0)) c.destroy()
      const w = this.waiter
      this.waiter = undefined
      w?.({ value: undefined, done: true })
    })
    return this.closing
  }

  [Symbol.asyncIterator](): AsyncIterator<Connection> {
    if (this.iterating) throw new TypeError('TcpListener: already being iterated')
    this.iterating = true
    return {
      next: () => {
        const c = this.queue.shift()
        if (c !== undefined) return Promise.resolve({ value: c, done: false })
        if (this.closing !== undefined) return Promise.resolve({ value: undefined, done: true })
        return new Promise((resolve) => {
          this.waiter = resolve
        })
      },
      return: () => {
        this.iterating = false
        return Promise.resolve({ value: undefined, done: true })
      },
    }
  }
}

function parseAllow(rules: readonly string[]): BlockList {
  const list = new BlockList()
  for (const rule of rules) {
    const [addr = '', bits, extra] = rule.trim().split('/')
    const family = isIP(addr)
    const prefix = bits === undefined ? undefined : Number(bits)
    const max = family === 6 ? 128 : 32
    if (
      family === 0 ||
      extra !== undefined ||
      (prefix !== undefined && !(Number.isInteger(prefix) && prefix >= 0 && prefix <= max))
    ) {
      throw new IndiError('ERR_INDI_USAGE', `allow: "${rule}" is not an IP address or CIDR network`)
    }
    const type = family === 6 ? 'ipv6' : 'ipv4'
    if (prefix === undefined) list.addAddress(addr, type)
    else list.addSubnet(addr, prefix, type)
  }
  return list
}

/**
 * Binds a TCP listener. Resolves once listening. Throws IndiError ERR_INDI_USAGE for a bad
 * `allow` rule; rejects with Node's own error (EADDRINUSE, EACCES, …) when the bind fails, and
 * with signal.reason if already aborted.
 */
export async function listenTcp(options: ListenTcpOptions): Promise<TcpListener> {
  const { host = '127.0.0.1', port, signal } = options
  signal?.throwIfAborted()
  const allow = options.allow === undefined ? undefined : parseAllow(options.allow)
  const server = createServer({ allowHalfOpen: true, noDelay: true })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host, port }, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const listener = new TcpListener(server, options, allow)
  if (signal !== undefined) {
    const onAbort = (): void => void listener.close()
    if (signal.aborted) onAbort()
    else {
      signal.addEventListener('abort', onAbort, { once: true })
      server.once('close', () => signal.removeEventListener('abort', onAbort))
    }
  }
  return listener
}
