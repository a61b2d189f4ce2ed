import type {
  BlobPolicy,
  DefVector,
  DelProperty,
  IndiError,
  Message,
  NewBlobVector,
  NewNumberVector,
  NewSwitchVector,
  NewTextVector,
  PropertyState,
  SetVector,
  SwitchState,
  VectorKind,
} from '@indi-ts/indi-xml'
import type { Device } from './device.js'
import type { AnyVector, BlobVector, NumberVector, SwitchVector, TextVector } from './vectors.js'

interface NewEventBase<V, M> {
  readonly device: Device<unknown>
  /** The target vector (its values are still the old ones until you `apply()` or set them). */
  readonly vector: V
  /** Member → the text the client sent, trimmed. */
  readonly raw: ReadonlyMap<string, string>
  /** The client's timestamp parsed as UTC, undefined when absent or unparsable. */
  readonly timestamp: Date | undefined
  /** The client's timestamp text as received. */
  readonly rawTimestamp: string | undefined
  /** Label of the connection it came from (`stdio`, `tcp:127.0.0.1:51012`, …). */
  readonly source: string
  /** The parsed wire element. */
  readonly message: M
  /** Writes the proposed values into the vector (marking changed members); does not send. */
  apply(): void
}

/** A client asked to change a text vector. */
export interface NewTextEvent extends NewEventBase<TextVector, NewTextVector> {
  readonly type: 'newTextVector'
  readonly values: ReadonlyMap<string, string>
}
/** A client asked to change a number vector; values are parsed (decimal or sexagesimal). */
export interface NewNumberEvent extends NewEventBase<NumberVector, NewNumberVector> {
  readonly type: 'newNumberVector'
  /** After the range policy: clamped values when the policy is 'clamp'. */
  readonly values: ReadonlyMap<string, number>
}
/**
 * A client asked to change a switch vector. `values` is the complete proposal after the rule:
 * for OneOfMany/AtMostOne, naming one member On also lists the others as Off.
 */
export interface NewSwitchEvent extends NewEventBase<SwitchVector, NewSwitchVector> {
  readonly type: 'newSwitchVector'
  readonly values: ReadonlyMap<string, SwitchState>
}
/** One uploaded BLOB member. */
export interface BlobData {
  readonly data: Uint8Array
  /** Declared size (uncompressed size for `.z`). */
  readonly size: number
  readonly format: string
}
/** A client uploaded BLOBs. */
export interface NewBlobEvent extends NewEventBase<BlobVector, NewBlobVector> {
  readonly type: 'newBLOBVector'
  readonly values: ReadonlyMap<string, BlobData>
}
/** Any client change request. */
export type NewVectorEvent = NewTextEvent | NewNumberEvent | NewSwitchEvent | NewBlobEvent

/** A getProperties, given to you instead of auto-replying when `autoDefine: false`. */
export interface GetPropertiesEvent {
  readonly type: 'getProperties'
  readonly version: string | undefined
  readonly device: string | undefined
  readonly name: string | undefined
  /** The enabled vectors that match, in device/vector order. */
  readonly vectors: readonly AnyVector[]
  readonly source: string
  /** Sends the def* of `vectors` to the connection that asked (what autoDefine does). */
  reply(): Promise<boolean>
}

/** An enableBLOB from a client (applied already on direct client connections). */
export interface EnableBlobEvent {
  readonly type: 'enableBLOB'
  readonly device: string
  readonly name: string | undefined
  readonly policy: BlobPolicy
  readonly source: string
}

/** A client request the framework refused (a message saying why went back to the client). */
export interface RejectedEvent {
  readonly type: 'rejected'
  readonly tag: string
  readonly device: string
  readonly name: string | undefined
  readonly reason: string
  readonly source: string
}

/** A value in a snooped def/set: text, number, switch or light state, or BLOB bytes. */
export type SnoopValue = string | number | Uint8Array

/** Something another device published, received because of a snoop subscription. */
export type SnoopEvent =
  | {
      readonly type: 'def'
      readonly device: string
      readonly name: string
      readonly kind: VectorKind
      readonly state: PropertyState
      readonly values: ReadonlyMap<string, SnoopValue>
      readonly timestamp: Date | undefined
      readonly message: DefVector
    }
  | {
      readonly type: 'set'
      readonly device: string
      readonly name: string
      readonly kind: VectorKind
      /** Absent in the element means unchanged. */
      readonly state: PropertyState | undefined
      /** Only the members present in the element. */
      readonly values: ReadonlyMap<string, SnoopValue>
      readonly timestamp: Date | undefined
      readonly message: SetVector
    }
  | {
      readonly type: 'delete'
      readonly device: string
      /** Undefined: the whole device went away. */
      readonly name: string | undefined
      readonly timestamp: Date | undefined
      readonly message: DelProperty
    }
  | {
      readonly type: 'message'
      readonly device: string | undefined
      readonly text: string
      readonly timestamp: Date | undefined
      readonly message: Message
    }
  | {
      /** A snooped element that did not parse, or has a value that does not. */
      readonly type: 'error'
      readonly device: string | undefined
      readonly name: string | undefined
      readonly tag: string
      readonly error: IndiError
    }

/** A failure inside a handler, task or the hardware loop: isolated and reported, never fatal. */
export interface DriverErrorEvent {
  readonly type: 'error'
  readonly error: unknown
  /** Where: 'hardware', 'task', 'handler newNumberVector MOUNT.RA', 'snoop', 'connection …'. */
  readonly where: string
}

/** Listener signatures of `driver.on(type, fn)`. */
export interface DriverEvents {
  newTextVector: (e: NewTextEvent) => void | Promise<void>
  newNumberVector: (e: NewNumberEvent) => void | Promise<void>
  newSwitchVector: (e: NewSwitchEvent) => void | Promise<void>
  newBLOBVector: (e: NewBlobEvent) => void | Promise<void>
  /** Every client change request, after the kind-specific listeners. */
  newVector: (e: NewVectorEvent) => void | Promise<void>
  getProperties: (e: GetPropertiesEvent) => void | Promise<void>
  enableBLOB: (e: EnableBlobEvent) => void
  snoop: (e: SnoopEvent) => void | Promise<void>
  rejected: (e: RejectedEvent) => void
  error: (e: DriverErrorEvent) => void
}
