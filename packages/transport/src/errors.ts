import { IndiError } from '@indi-ts/indi-xml'

/** ERR_INDI_CONNECTION_RESET: the peer broke the link. `cause` keeps the low-level error. */
export function resetError(label: string, message: string, cause?: unknown): IndiError {
  return new IndiError(
    'ERR_INDI_CONNECTION_RESET',
    `${label}: ${message}`,
    cause === undefined ? undefined : { cause },
  )
}

/** ERR_INDI_CLOSED: an operation on a connection that was closed or destroyed here. */
export function closedError(label: string): IndiError {
  return new IndiError('ERR_INDI_CLOSED', `${label}: the connection is closed`)
}

/** ERR_INDI_SLOW_PEER: a peer did not take our bytes before the deadline. */
export function slowPeerError(label: string, timeoutMs: number): IndiError {
  return new IndiError(
    'ERR_INDI_SLOW_PEER',
    `${label}: the peer did not read our data within ${timeoutMs} ms`,
  )
}
