import type { NatsConnection } from 'nats'
import type { Subjects } from './subjects.js'

/** Log levels as the server's `-v`: 0 always, 1 key events, 2 per-message detail. */
export type NatsLogLevel = 0 | 1 | 2

/** What the export and import sides share with their bridge. @internal */
export interface BridgeContext {
  readonly site: string
  readonly instance: string
  readonly subjects: Subjects
  readonly heartbeatMs: number
  /** The NATS connection while it is up; undefined while disconnected. */
  connection(): NatsConnection | undefined
  /** The server's max_payload (1 MiB unless configured). */
  maxPayload(): number
  /** Devices the import side serves to the local server (never re-exported: no loops). */
  readonly imported: Set<string>
  /** Devices the export side has seen from local drivers (never imported over them). */
  readonly local: Set<string>
  log(level: NatsLogLevel, text: string): void
}

/** Encodes text once for the wire. */
export const utf8 = (s: string): Uint8Array => Buffer.from(s, 'utf8')
