/**
 * @indi-ts/indi-server: an indiserver-compatible INDI server. Many drivers (in-process, executable,
 * remote servers) behind one port, routed exactly as indilib's indiserver routes, with raw-byte
 * forwarding, per-client BLOB policy, snooping, conflation for slow clients and the `indi-server`
 * command.
 */

export { type CliOptions, type DriverArg, parseArgs, parseDriverArg, USAGE } from './args.js'
export { blobFileName, type SaveBlobsOptions, type SavedBlob, saveBlobs } from './blobfolder.js'
export { BlobBufferPool } from './blobpool.js'
export {
  applyFifoCommand,
  type FifoCommand,
  type FifoWatcher,
  fifoEnv,
  parseFifoLine,
  watchFifo,
} from './fifo.js'
export { ClientInterest, crackBlob, type PropertyEntry, SnoopTable } from './interest.js'
export {
  type LogEntry,
  type Logger,
  type LogLevel,
  logTimestamp,
  scopeFilter,
  stderrLogger,
} from './log.js'
export type { FrameRefs, OutItem, PeerCounters } from './outbox.js'
export type {
  ClientInfo,
  DriverInfo,
  DriverKind,
  ExecutableSpec,
  RemoteSpec,
  RunnableDriver,
} from './peers.js'
export type { RemoteState, RemoteStatus } from './remote.js'
export { IndiServer, type IndiServerEvents, type IndiServerOptions } from './server.js'
