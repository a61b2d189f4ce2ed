import type { AbortOptions, Connection } from '@indi-ts/transport'

/**
 * A Connection that hands everything to the one it wraps; subclasses change what they need (how
 * it reads, how it sends). Behind `binaryAsXml` and `sniffProtocol`'s connection.
 */
export abstract class ForwardingConnection implements Connection {
  constructor(protected readonly inner: Connection) {}
  get label(): string {
    return this.inner.label
  }
  get bufferedBytes(): number {
    return this.inner.bufferedBytes
  }
  get closed(): Promise<Error | undefined> {
    return this.inner.closed
  }
  send(chunk: Uint8Array, released?: () => void): boolean {
    // Passed on: the wrapped connection is the one that knows when it let go of the chunk.
    return this.inner.send(chunk, released)
  }
  drained(options?: AbortOptions): Promise<void> {
    return this.inner.drained(options)
  }
  end(options?: AbortOptions): Promise<void> {
    return this.inner.end(options)
  }
  close(options?: AbortOptions): Promise<void> {
    return this.inner.close(options)
  }
  destroy(reason?: Error): void {
    this.inner.destroy(reason)
  }
  abstract [Symbol.asyncIterator](): AsyncIterator<Uint8Array>
}
