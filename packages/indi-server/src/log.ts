/**
 * Log verbosity, as indiserver's `-v` flags: 0 always (driver stderr, restarts, fatal errors),
 * 1 key events (`-v`: clients arriving and leaving, snoops, FIFO commands, slow-client kills),
 * 2 one line per message (`-vv`), 3 full XML (`-vvv`).
 */
export type LogLevel = 0 | 1 | 2 | 3

/** One log line, before formatting. */
export interface LogEntry {
  /** The verbosity at which the line is shown. */
  readonly level: LogLevel
  /** The line without its timestamp, e.g. `Driver indi_simulator_ccd: restart #0`. */
  readonly text: string
  /** When it happened. */
  readonly time: Date
  /**
   * Which part of the server wrote it: `indi:server`, or a child scope such as
   * `indi:server:remote`, `indi:server:driver`, `indi:server:client`, `indi:server:trace`.
   */
  readonly scope?: string
  /** Structured context (peer, device, name, bytes …) for sinks that index logs. */
  readonly fields?: Readonly<Record<string, unknown>>
}

/** Receives every entry at or below the server's verbosity. */
export type Logger = (entry: LogEntry) => void

/** indiserver's log timestamp: `YYYY-MM-DDTHH:MM:SS`, UTC. */
export function logTimestamp(date: Date = new Date()): string {
  return date.toISOString().slice(0, 19)
}

/** The default logger: `<ts>: <text>` on stderr, as indiserver writes it. */
export const stderrLogger: Logger = (entry) => {
  process.stderr.write(`${logTimestamp(entry.time)}: ${entry.text}\n`)
}

/**
 * A sink that passes only entries whose scope matches one of `patterns` (comma or space
 * separated, `*` matching any rest, as the `debug` package's DEBUG variable), e.g.
 * `'indi:server:remote,indi:server:trace'` or `'indi:server:*'`. Entries without a scope count as
 * `indi:server`.
 */
export function scopeFilter(patterns: string, sink: Logger): Logger {
  const res = patterns
    .split(/[\s,]+/)
    .filter((p) => p !== '')
    .map((p) => new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`))
  return (entry) => {
    const scope = entry.scope ?? 'indi:server'
    if (res.some((re) => re.test(scope))) sink(entry)
  }
}
