/** Options of every call that can wait. */
export interface AbortOptions {
  signal?: AbortSignal
}

/**
 * One duplex byte stream: a TCP socket, a driver's stdin/stdout, an in-memory pair.
 *
 * Reads are pulled: iterate the connection (once; a second concurrent iterator throws a
 * TypeError) to receive chunks. While nobody iterates, the source is paused with about one
 * high-water mark buffered. The iteration ends at a clean end of input and throws the error that
 * broke the link (an IndiError with code ERR_INDI_CONNECTION_RESET, or the destroy reason).
 * Breaking out of a `for await` loop releases the iterator but does not close the connection.
 *
 * Writes are pushed: `send()` queues bytes and returns false once past the high-water mark; the
 * caller then awaits `drained()`. This allocates no promise on the hot path. A sent chunk is
 * owned by the connection: do not modify it afterwards (transports may keep it without copying).
 *
 * Lifecycle: `end()` half-closes (the peer's iteration ends; we can still read). `close()` ends
 * and stops reading; a peer that keeps sending then gets ERR_INDI_CONNECTION_RESET. `destroy()`
 * drops everything at once; the peer sees ERR_INDI_CONNECTION_RESET. `closed` settles when both
 * directions are done (clean) or at the first error, except a failed write: that ends only our
 * output (sends drop, drained() rejects) while the input still delivers what the peer sent before
 * it went, until it ends; then the iteration throws and `closed` settles (indilib #1669).
 */
export interface Connection extends AsyncIterable<Uint8Array> {
  /** For logs and errors, e.g. "tcp:127.0.0.1:51012" or "exec:indi_simulator_ccd". */
  readonly label: string
  /**
   * Queue bytes. Returns false once past the high-water mark: stop sending and await drained().
   * After end(), close() or destroy() the chunk is dropped and false is returned (drained()
   * then rejects with the reason).
   *
   * `released`, optional for both sides: a transport that can tell calls it once, when it holds
   * no reference to `chunk` any more (the OS has taken the bytes, or they were dropped), so the
   * caller may reuse the memory. A transport that cannot tell never calls it, and the caller must
   * then leave the chunk alone for good (a server reusing BLOB buffers just allocates anew).
   */
  send(chunk: Uint8Array, released?: () => void): boolean
  /** Bytes queued by send() and not yet handed to the OS/peer. */
  readonly bufferedBytes: number
  /**
   * Resolves when send() may continue; rejects with ERR_INDI_CLOSED after end()/close(), with the
   * error that broke the connection, or with signal.reason on abort.
   */
  drained(options?: AbortOptions): Promise<void>
  /** Flushes what was sent and ends our writing side (half-close); reading may go on. */
  end(options?: AbortOptions): Promise<void>
  /**
   * Flushes what was sent, ends our side, stops reading (unread input is dropped), and resolves
   * once closed. If `signal` aborts first, the connection is destroyed and the promise rejects
   * with signal.reason.
   */
  close(options?: AbortOptions): Promise<void>
  /** Stops now and drops unsent bytes; readers and drained() reject with reason. */
  destroy(reason?: Error): void
  /** Settles once: undefined for a clean end, otherwise the error that ended it. Never rejects. */
  readonly closed: Promise<Error | undefined>
}
