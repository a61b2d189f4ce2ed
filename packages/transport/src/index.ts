/**
 * @indi-ts/transport: the Connection contract that every INDI transport implements, an
 * in-memory pair, helpers, and (under ./compliance) the suite that proves a transport.
 * This entry is browser-safe; the Node stream adapter lives under `@indi-ts/transport/node`.
 */
export type { AbortOptions, Connection } from './connection.js'
export { closedError, resetError, slowPeerError } from './errors.js'
export { collect, drainedWithin, type WriteAllOptions, writeAll } from './helpers.js'
export { type ConnectionPairOptions, connectionPair, DEFAULT_HIGH_WATER_MARK } from './pair.js'
