/**
 * @indi-ts/transport-tcp: INDI over TCP. Connect to a server (`connectTcp`,
 * `connectTcpWithRetry`) or accept clients (`listenTcp`); every socket is a Connection with
 * backpressure, batched small writes and TCP_NODELAY.
 */
export {
  type ConnectTcpOptions,
  type ConnectTcpWithRetryOptions,
  connectTcp,
  connectTcpWithRetry,
} from './connect.js'
export {
  type ListenTcpOptions,
  listenTcp,
  type RefusalReason,
  type RefusedPeer,
  TcpListener,
  type TcpListenerEvents,
} from './listen.js'
export { socketLabel, type TcpConnectionOptions, tcpConnection } from './socket.js'
