const BRAND = Symbol.for('@indi-ts/error')

/**
 * Every stable error code of every @indi-ts package. Codes are public API: they are listed in the
 * package READMEs and never renamed. Messages may change.
 */
export type IndiErrorCode =
  // indi-xml
  | 'ERR_INDI_XML_MALFORMED' // bytes that cannot start or continue an INDI element
  | 'ERR_INDI_XML_TOO_LARGE' // one element exceeded maxElementBytes (or an attribute/depth limit)
  | 'ERR_INDI_XML_UNKNOWN_ELEMENT' // a well-formed top-level element that INDI 1.7 does not define
  | 'ERR_INDI_XML_INVALID_MESSAGE' // a known element missing a required attribute or with a bad value
  | 'ERR_INDI_NUMBER' // a number (decimal or sexagesimal) that does not parse
  | 'ERR_INDI_TIMESTAMP' // a timestamp that is not INDI's UTC form
  | 'ERR_INDI_INVALID_VALUE' // a state, perm, rule, switch or BLOB policy outside its enum
  | 'ERR_INDI_INVALID_NAME' // a device, vector or member name that is empty or not XML-safe
  // indi-queue
  | 'ERR_INDI_CLOSED' // operation on a closed queue or connection
  | 'ERR_INDI_QUEUE_FULL' // a subscriber with the 'disconnect' policy fell behind
  // transports
  | 'ERR_INDI_CONNECTION_RESET' // the peer broke the link (ECONNRESET, EPIPE, child exited)
  | 'ERR_INDI_CONNECTION_REFUSED' // could not connect, or the listener refused the peer
  | 'ERR_INDI_SLOW_PEER' // a peer stayed over its buffer bound past the deadline
  | 'ERR_INDI_SPAWN' // an executable driver could not be started
  // driver
  | 'ERR_INDI_DUPLICATE' // duplicate device or vector name
  | 'ERR_INDI_UNKNOWN_MEMBER' // a member name that the vector does not have
  | 'ERR_INDI_SNOOP_OWN_DEVICE' // a driver asked to snoop one of its own devices
  | 'ERR_INDI_NOT_RUNNING' // a send on a driver that is not running
  | 'ERR_INDI_BLOB_ATTACHED' // a oneBLOB with a size but no content (indiserver's attached="true")
  // server
  | 'ERR_INDI_USAGE' // bad command-line or option value
  | 'ERR_INDI_DEVICE_LOOP' // two peers claim the same device (a chaining loop)
  // indi-msgpack
  | 'ERR_INDI_BINARY_MALFORMED' // a binary frame or record that does not decode to an INDI message
  | 'ERR_INDI_BINARY_TOO_LARGE' // a binary frame above maxFrameBytes
  | 'ERR_INDI_BINARY_HANDSHAKE' // the peer did not open with the binary preamble (it speaks XML?)
  | 'ERR_INDI_RECORDING' // a session recording with a bad header or an unreadable record

/** The base of every error thrown by an @indi-ts package. */
export class IndiError extends Error {
  readonly code: IndiErrorCode
  constructor(code: IndiErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = new.target.name
    this.code = code
  }
  get [BRAND](): true {
    return true
  }
  /** Unlike instanceof, this also works when two versions of a package are installed. */
  static is(value: unknown, code?: IndiErrorCode): value is IndiError {
    return (
      typeof value === 'object' &&
      value !== null &&
      BRAND in value &&
      (code === undefined || (value as IndiError).code === code)
    )
  }
}

/** Malformed or oversize XML: carries the byte offset in the stream and a short excerpt. */
export class XmlParseError extends IndiError {
  /** Byte offset in the whole stream (since the parser was created) where the problem was found. */
  readonly offset: number
  /** Up to 64 bytes of the offending input, decoded as UTF-8 for the log. */
  readonly excerpt: string
  constructor(code: IndiErrorCode, message: string, offset: number, excerpt: string, options?: ErrorOptions) {
    super(code, message, options)
    this.offset = offset
    this.excerpt = excerpt
  }
}
