import { connect as netConnect, type Socket } from 'node:net'
import { IndiError } from '@indi-ts/indi-xml'
import type { Connection } from '@indi-ts/transport'
import { socketLabel, type TcpConnectionOptions, tcpConnection } from './socket.js'

/** Options of {@link connectTcp}. */
export interface ConnectTcpOptions extends TcpConnectionOptions {
  /** Host name or address. Default '127.0.0.1'. */
  host?: string
  /** TCP port; INDI's is 7624. */
  port: number
  /** Aborts the attempt: the promise rejects with signal.reason. */
  signal?: AbortSignal
}

/**
 * Opens a TCP connection to an INDI server (or a driver listening on TCP). Resolves once
 * connected. Rejects with IndiError ERR_INDI_CONNECTION_REFUSED (cause: the socket error) when
 * the host refuses, is unreachable or does not resolve, or with signal.reason on abort.
 */
export function connectTcp(options: ConnectTcpOptions): Promise<Connection> {
  const { host = '127.0.0.1', port, signal } = options
  if (signal?.aborted === true) return Promise.reject(signal.reason)
  return new Promise((resolve, reject) => {
    const socket: Socket = netConnect({ host, port, allowHalfOpen: true, noDelay: true })
    const cleanup = (): void => {
      socket.off('connect', onConnect)
      socket.off('error', onError)
      signal?.removeEventListener('abort', onAbort)
    }
    const onConnect = (): void => {
      cleanup()
      resolve(tcpConnection(socket, socketLabel(socket, host, port), options))
    }
    const onError = (err: Error): void => {
      cleanup()
      socket.destroy()
      reject(
        new IndiError('ERR_INDI_CONNECTION_REFUSED', `tcp:${host}:${port}: cannot connect (${err.message})`, {
          cause: err,
        }),
      )
    }
    const onAbort = (): void => {
      cleanup()
      socket.destroy()
      reject(signal!.reason)
    }
    socket.once('connect', onConnect)
    socket.once('error', onError)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** Options of {@link connectTcpWithRetry}. */
export interface ConnectTcpWithRetryOptions extends ConnectTcpOptions {
  /** Required: without it a server that never comes back would keep us retrying forever. */
  signal: AbortSignal
  /** First delay between attempts, in ms. Default 250. */
  minDelayMs?: number
  /** Longest delay between attempts, in ms. Default 10 000. */
  maxDelayMs?: number
  /** Called after each failed attempt (1-based) with its error, before waiting. */
  onAttempt?: (attempt: number, error: Error) => void
}

/**
 * Connects, retrying failures with exponential backoff and jitter (each delay is drawn between
 * half and all of min·2^(n−1), capped at maxDelayMs, so reconnecting clients do not stampede a
 * restarted server). Resolves with the first successful connection; rejects only with
 * signal.reason.
 */
export async function connectTcpWithRetry(options: ConnectTcpWithRetryOptions): Promise<Connection> {
  const { signal, minDelayMs = 250, maxDelayMs = 10_000, onAttempt } = options
  signal.throwIfAborted()
  for (let attempt = 1; ; attempt++) {
    try {
      return await connectTcp(options)
    } catch (e) {
      if (signal.aborted) throw signal.reason
      onAttempt?.(attempt, e as Error)
    }
    const ceiling = Math.min(maxDelayMs, minDelayMs * 2 ** Math.min(attempt - 1, 30))
    await sleep(ceiling / 2 + Math.random() * (ceiling / 2), signal)
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
