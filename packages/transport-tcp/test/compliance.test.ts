import { connectionCompliance } from '@indi-ts/transport/compliance'
import { tcpPairFactory } from './pair.js'

connectionCompliance('tcp over 127.0.0.1', tcpPairFactory('127.0.0.1'))
connectionCompliance('tcp over ::1', tcpPairFactory('::1'))
