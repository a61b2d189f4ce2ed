/**
 * @indi-ts/transport: the Connection contract that every INDI transport implements, an
 * in-memory pair, helpers, and (under ./compliance) the suite that proves a transport.
 */
export type { AbortOptions, Connection } from './connection.js'
