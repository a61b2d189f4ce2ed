import type { Socket } from 'node:net'
import type { Connection } from '@indi-ts/transport'
import { StreamConnection } from '@indi-ts/transport/node'

/** Options shared by every TCP connection. */
export interface TcpConnectionOptions {
  /**
   * Bytes, default 65 536. `send()` returns false once this much waits in user space (the kernel
   * buffer comes on top), and reading pauses once this much is received and not iterated.
   */
  highWaterMark?: number
}

/** "tcp:127.0.0.1:51012" or "tcp:[::1]:51012": the remote end of a socket. */
export function socketLabel(socket: Socket, fallbackHost?: string, fallbackPort?: number): string {
  const host = socket.remoteAddress ?? fallbackHost ?? '?'
  const port = socket.remotePort ?? fallbackPort ?? 0
  return `tcp:${host.includes(':') ? `[${host}]` : host}:${port}`
}

/**
 * Wraps a connected socket (created with `allowHalfOpen: true`) as a Connection. Turns Nagle off:
 * INDI is request/response and our sends are already gathered per microtask run, so delaying
 * small segments only adds latency.
 */
export function tcpConnection(socket: Socket, label: string, options: TcpConnectionOptions = {}): Connection {
  socket.setNoDelay(true)
  return new StreamConnection({
    label,
    readable: socket,
    writable: socket,
    highWaterMark: options.highWaterMark,
    // destroy() sends RST so the peer learns the link broke (ECONNRESET) instead of reading a
    // clean end of stream; a clean finish or close() just closes the fd.
    release: (how) => {
      if (how === 'abort' && !socket.destroyed) socket.resetAndDestroy()
      else socket.destroy()
    },
  })
}
