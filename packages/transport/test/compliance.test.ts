import { connectionCompliance } from '../src/compliance.js'
import { connectionPair } from '../src/index.js'

connectionCompliance('in-memory pair', { create: async () => connectionPair() })
connectionCompliance('in-memory pair, 1-byte high-water mark', {
  create: async () => connectionPair({ highWaterMark: 1 }),
  largePayloadBytes: 8 * 1024 * 1024,
})
