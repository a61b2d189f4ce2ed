/**
 * @indi-ts/indi-xml: the INDI wire layer. The message model for every INDI 1.7 element plus
 * pingRequest/pingReply, a streaming parser, a raw framer for routers, a builder, number formats
 * and timestamps.
 */
export * from './builder.js'
export * from './errors.js'
export * from './framer.js'
export * from './guards.js'
export * from './model.js'
export * from './numbers.js'
export { IndiParser, type ParseEvent, type ParserLimits } from './parser.js'
export { DEFAULT_LIMITS } from './splitter.js'
export * from './timestamps.js'
