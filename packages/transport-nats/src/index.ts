/**
 * @indi-ts/transport-nats: INDI across machines over NATS. An indi-server exports its devices to a
 * NATS server and imports the devices other indi-servers exported, on subjects that carry the site,
 * device and property names (`indi.<site>.<device>.<property>.<kind>`), so NATS delivers updates
 * only to the servers whose clients asked. Large BLOBs are chunked and verified.
 */
export {
  type IndiServerLike,
  NatsBridge,
  type NatsBridgeEvents,
  type NatsBridgeOptions,
  type NatsBridgeStats,
} from './bridge.js'
export { CHUNK_HEADER, type ChunkLoss, type Publisher, publishChunked, Reassembler } from './chunks.js'
export type { NatsLogLevel } from './context.js'
export type { ExportStats } from './export.js'
export type { ImportStats } from './import.js'
export type { OutboxStats } from './outbox.js'
export { decodeToken, encodeToken, globMatcher, NONE, type SubjectKind, Subjects } from './subjects.js'
