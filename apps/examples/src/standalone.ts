/**
 * Shared by every example driver: run it on its own over stdin/stdout when its file is the
 * program node was started with (`node dist/thermostat.js`, `bin/thermostat`, or an executable
 * driver under indilib's `indiserver`), and do nothing when it is merely imported (main.ts).
 */
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Driver } from '@indi-ts/indi-driver'

/** True when `moduleUrl` (pass `import.meta.url`) is the entry point of this process. */
export function isMain(moduleUrl: string): boolean {
  const entry = process.argv[1]
  if (entry === undefined) return false
  try {
    // realpath on both sides: npm's bin links and our bin/ wrappers may point at the file by
    // another path than the one node resolved.
    return realpathSync(entry) === realpathSync(fileURLToPath(moduleUrl))
  } catch {
    return false
  }
}

/**
 * Runs `driver` over this process's stdin/stdout until the server closes our input or sends
 * SIGTERM (the driver handles both), then exits 0. indiserver restarts a driver that exits
 * non-zero, so a clean end must be a clean exit. SIGINT is also taken as "stop" for runs from a
 * terminal.
 */
export async function runStandalone(driver: Driver<unknown>): Promise<void> {
  process.once('SIGINT', () => void driver.close())
  await driver.run()
  process.exit(0)
}

/**
 * The device name to use when run standalone: indiserver's FIFO `start driver -n "Name"` passes
 * it in `INDIDEV` (protocol reference §2.11), as libindi drivers honour it.
 */
export function deviceName(fallback: string): string {
  const fromEnv = process.env.INDIDEV
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : fallback
}
