/**
 * @indi-ts/indi-driver: write INDI drivers in TypeScript. Devices and their five kinds of vector,
 * client events (hooks, listeners or async iteration), snooping, a hardware loop, and one bounded,
 * coalescing writer; runs over stdio (under indilib's indiserver), TCP or any Connection.
 */
export { Device, type DeviceOptions } from './device.js'
export {
  Driver,
  type DriverListener,
  type DriverOptions,
  type DriverStats,
  type ListenOptions,
  type RunOptions,
} from './driver.js'
export type * from './events.js'
export type { RangePolicy } from './host.js'
export { type Logger, type LogLevel, silentLogger, stderrLogger } from './logger.js'
export type { PeerKind } from './peer.js'
export { type RestartPolicy, withRestarts } from './restart.js'
export { type SnoopFilter, type SnoopInfo, SnoopSubscription } from './snoop.js'
export {
  type AnyVector,
  type BlobInput,
  BlobMember,
  type BlobMemberOptions,
  type BlobValue,
  BlobVector,
  type BlobVectorOptions,
  type DefineOptions,
  inferBlobFormat,
  LightMember,
  type LightMemberOptions,
  LightVector,
  type LightVectorOptions,
  Member,
  type MemberOptions,
  NumberMember,
  type NumberMemberOptions,
  NumberVector,
  type NumberVectorOptions,
  type PermVectorOptions,
  type SendOptions,
  SwitchMember,
  type SwitchMemberOptions,
  SwitchVector,
  type SwitchVectorOptions,
  TextMember,
  type TextMemberOptions,
  TextVector,
  type TextVectorOptions,
  Vector,
  type VectorOptions,
} from './vectors.js'
