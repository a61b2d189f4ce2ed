import { connectionCompliance } from '@indi-ts/transport/compliance'
import { relayPairFactory } from './pair.js'

// The spawnDriver end is the one under test: its sends go through the child's stdin FIFO and its
// reads come from the child's stdout FIFO, both relayed by the child's own stdioConnection().
connectionCompliance('spawnDriver(relay) ↔ socket', relayPairFactory())
