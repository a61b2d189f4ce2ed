import type {
  DefBlobVector,
  DefLightVector,
  DefNumberVector,
  DefSwitchVector,
  DefTextVector,
  DefVector,
} from '@indi-ts/indi-xml'
import { TS } from './harness.js'

/** The def* of the standard devices (harness.makeDevices), written out by hand. */
export const DEF_TEXT: DefTextVector = {
  tag: 'defTextVector',
  device: 'Dev',
  name: 'TEXT',
  timestamp: TS,
  label: 'Text',
  group: 'G',
  state: 'Idle',
  perm: 'rw',
  timeout: '0',
  members: [{ name: 'T1', label: 'T1', value: 'hello' }],
}
export const DEF_NUM: DefNumberVector = {
  tag: 'defNumberVector',
  device: 'Dev',
  name: 'NUM',
  timestamp: TS,
  label: 'Num',
  group: 'G',
  state: 'Idle',
  perm: 'rw',
  timeout: '5',
  members: [
    { name: 'X', label: 'X axis', format: '%6.2f', min: '0', max: '100', step: '1', value: '1.5' },
    { name: 'Y', label: 'Y', format: '%9.6m', min: '-90', max: '90', step: '0', value: '-0.5' },
  ],
}
export const DEF_SW: DefSwitchVector = {
  tag: 'defSwitchVector',
  device: 'Dev',
  name: 'SW',
  timestamp: TS,
  label: 'SW',
  group: '',
  state: 'Idle',
  perm: 'rw',
  timeout: '0',
  rule: 'OneOfMany',
  members: [
    { name: 'A', label: 'A', value: 'On' },
    { name: 'B', label: 'B', value: 'Off' },
    { name: 'C', label: 'C', value: 'Off' },
  ],
}
export const DEF_LIGHT: DefLightVector = {
  tag: 'defLightVector',
  device: 'Dev',
  name: 'LIGHT',
  timestamp: TS,
  label: 'LIGHT',
  group: '',
  state: 'Ok',
  members: [{ name: 'L1', label: 'L1', value: 'Alert' }],
}
export const DEF_BLOB: DefBlobVector = {
  tag: 'defBLOBVector',
  device: 'Dev',
  name: 'BLOB',
  timestamp: TS,
  label: 'BLOB',
  group: '',
  state: 'Idle',
  perm: 'ro',
  timeout: '0',
  members: [{ name: 'B1', label: 'B1' }],
}
export const DEF_POS: DefNumberVector = {
  tag: 'defNumberVector',
  device: 'Other Device',
  name: 'POS',
  timestamp: TS,
  label: 'POS',
  group: '',
  state: 'Idle',
  perm: 'ro',
  timeout: '0',
  members: [{ name: 'P', label: 'P', format: '%g', min: '0', max: '0', step: '0', value: '7' }],
}
export const ALL_DEFS: DefVector[] = [DEF_TEXT, DEF_NUM, DEF_SW, DEF_LIGHT, DEF_BLOB, DEF_POS]
