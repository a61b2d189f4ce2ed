import { formatTimestamp, IndiError, parseTimestamp } from '@indi-ts/indi-xml'
import type { NewVectorEvent } from './events.js'
import type { SendHost } from './host.js'
import { checkName, checkUnique } from './util.js'
import type { AnyVector, BlobVector, LightVector, NumberVector, SwitchVector, TextVector } from './vectors.js'

/** Options of `new Device()`. */
export interface DeviceOptions<C = unknown> {
  /** Device name (≤ 63 bytes, no markup). Spaces are fine (`Telescope Simulator`). */
  name: string
  /** The device's vectors, in the order clients receive their definitions. */
  vectors?: AnyVector[]
  /** Your own typed data for this device (the hardware handle, config, …). */
  context?: C
}

/**
 * One INDI device: an ordered, named set of vectors. Look vectors up with `vector(name)` or the
 * typed getters (`number(name)` …); iterate with `for (const v of device)`.
 */
export class Device<C = unknown> implements Iterable<AnyVector> {
  readonly name: string
  /** Your typed per-device data. */
  context: C
  /** @internal Set by the driver that owns this device. */ _host: SendHost | undefined
  readonly #vectors = new Map<string, AnyVector>()
  /** @internal Handlers registered with onNew. */
  readonly _handlers = new Set<(event: NewVectorEvent) => void | Promise<void>>()
  #enabled = true

  constructor(opts: DeviceOptions<C>) {
    this.name = checkName(opts.name, 'device')
    this.context = opts.context as C
    const vs = opts.vectors ?? []
    checkUnique(
      vs.map((v) => v.name),
      `vector of device ${this.name}`,
    )
    for (const v of vs) this.add(v)
  }

  /** False after `delete()` until `restore()`: nothing of it is defined and input is ignored. */
  get enabled(): boolean {
    return this.#enabled
  }

  /**
   * Register a handler for client requests to any vector of this device (after the vector's own
   * handlers); returns an unsubscribe function. Per-device routing, by device name, is automatic.
   */
  onNew(fn: (event: NewVectorEvent) => void | Promise<void>): () => void {
    this._handlers.add(fn)
    return () => this._handlers.delete(fn)
  }

  /** Adds a vector (ERR_INDI_DUPLICATE on a name clash). It is not defined to clients until `define()`. */
  add<V extends AnyVector>(vector: V): V {
    if (this.#vectors.has(vector.name)) {
      throw new IndiError('ERR_INDI_DUPLICATE', `device ${this.name} already has a vector ${vector.name}`)
    }
    if (vector._device !== undefined && vector._device !== (this as Device<unknown>)) {
      throw new IndiError(
        'ERR_INDI_DUPLICATE',
        `vector ${vector.name} already belongs to ${vector._device.name}`,
      )
    }
    vector._device = this as Device<unknown>
    this.#vectors.set(vector.name, vector)
    return vector
  }

  /** The named vector, or undefined. */
  get(name: string): AnyVector | undefined {
    return this.#vectors.get(name)
  }

  /** The named vector; ERR_INDI_UNKNOWN_MEMBER when absent. */
  vector(name: string): AnyVector {
    const v = this.#vectors.get(name)
    if (v === undefined)
      throw new IndiError('ERR_INDI_UNKNOWN_MEMBER', `device ${this.name} has no vector ${name}`)
    return v
  }

  #typed<T extends AnyVector>(name: string, kind: T['kind']): T {
    const v = this.vector(name)
    if (v.kind !== kind) {
      throw new IndiError('ERR_INDI_INVALID_VALUE', `${this.name}.${name} is a ${v.kind} vector, not ${kind}`)
    }
    return v as T
  }
  text(name: string): TextVector {
    return this.#typed<TextVector>(name, 'Text')
  }
  number(name: string): NumberVector {
    return this.#typed<NumberVector>(name, 'Number')
  }
  switch(name: string): SwitchVector {
    return this.#typed<SwitchVector>(name, 'Switch')
  }
  light(name: string): LightVector {
    return this.#typed<LightVector>(name, 'Light')
  }
  blob(name: string): BlobVector {
    return this.#typed<BlobVector>(name, 'BLOB')
  }

  /** Vectors in definition order. */
  vectors(): AnyVector[] {
    return [...this.#vectors.values()]
  }

  [Symbol.iterator](): Iterator<AnyVector> {
    return this.#vectors.values()
  }

  #ts(ts: Date | string | undefined): string {
    if (typeof ts === 'string') {
      parseTimestamp(ts)
      return ts
    }
    if (ts === undefined && this._host !== undefined) return this._host.stamp()
    return formatTimestamp(ts ?? new Date())
  }

  /**
   * Send a message about this device (`<message device=…>`). Resolves false when not running or
   * the device is deleted.
   */
  async message(text: string, opts?: { timestamp?: Date | string; signal?: AbortSignal }): Promise<boolean> {
    const host = this._host
    if (host === undefined || !host.running || !this.#enabled) return false
    return host.queue(
      { tag: 'message', device: this.name, timestamp: this.#ts(opts?.timestamp), message: text },
      opts?.signal,
    )
  }

  /**
   * Remove the whole device from clients (`<delProperty device=…>`, optional message) and ignore
   * its input until `restore()`.
   */
  async delete(
    message?: string,
    opts?: { timestamp?: Date | string; signal?: AbortSignal },
  ): Promise<boolean> {
    this.#enabled = false
    const host = this._host
    if (host === undefined || !host.running) return false
    return host.queue(
      {
        tag: 'delProperty',
        device: this.name,
        timestamp: this.#ts(opts?.timestamp),
        ...(message !== undefined ? { message } : {}),
      },
      opts?.signal,
    )
  }

  /** Enable again and re-send the definition of every enabled vector, in order. */
  async restore(opts?: { signal?: AbortSignal }): Promise<boolean> {
    this.#enabled = true
    let ok = true
    for (const v of this.#vectors.values()) {
      if (v._ownEnabled) ok = (await v.define({ ...(opts?.signal ? { signal: opts.signal } : {}) })) && ok
    }
    return ok
  }
}
