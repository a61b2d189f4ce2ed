/**
 * @indi-ts/indi-msgpack: a compact binary (msgpack) codec for the INDI message model, with BLOB
 * payloads as raw bytes; a length-prefixed binary link over any `Connection`; session recording
 * to a file and replay of a recording to INDI clients over TCP.
 */
export { type BinaryAsXmlOptions, binaryAsXml } from './bridge.js'
export { decodeMessage, encodeMessage, TAG_CODES } from './codec.js'
export {
  BINARY_VERSION,
  BinaryDecoder,
  DEFAULT_MAX_FRAME_BYTES,
  encodeFrame,
  type FrameLimits,
  LINK_PREAMBLE,
  RECORDING_MAGIC,
} from './framing.js'
export {
  BinaryMessageStream,
  type BinaryReaderOptions,
  type BinaryStreamOptions,
  BinaryWriter,
  type BinaryWriterOptions,
  binaryReader,
  binaryWriter,
} from './link.js'
export { BinaryFormatError } from './pack.js'
export { type RecordProxy, type RecordProxyOptions, recordProxy } from './proxy.js'
export {
  encodeRecord,
  type ReadRecordingOptions,
  type RecordDirection,
  type RecorderOptions,
  type RecordingHeader,
  readRecording,
  readRecordingHeader,
  type SessionRecord,
  SessionRecorder,
} from './recording.js'
export {
  isReplayed,
  type ReplayOptions,
  type ReplayPacing,
  type ReplayServer,
  replayTo,
  type ServeReplayOptions,
  serveReplay,
} from './replay.js'
export { type SniffResult, sniffProtocol } from './sniff.js'
export {
  type MessageStream,
  openMessageStream,
  XmlMessageStream,
  type XmlStreamOptions,
} from './stream.js'
