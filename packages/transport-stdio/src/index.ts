/**
 * @indi-ts/transport-stdio: INDI over stdin/stdout. `stdioConnection()` for a driver talking to
 * its server, `spawnDriver()` for a server running an executable driver.
 */
export { type DriverExit, type DriverProcess, type SpawnDriverOptions, spawnDriver } from './spawn.js'
export { type StdioConnectionOptions, stdioConnection } from './stdio.js'
