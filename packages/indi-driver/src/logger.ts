/** Severity of a log record. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

/** Where the driver logs. Never stdout: over stdio, stdout carries the protocol. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void
  info(message: string, fields?: Record<string, unknown>): void
  warn(message: string, fields?: Record<string, unknown>): void
  error(message: string, fields?: Record<string, unknown>): void
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

/**
 * The default logger: one line per record on stderr (indiserver prefixes each stderr line with a
 * timestamp and the driver name, protocol reference §2.3). Level defaults to `INDI_DRIVER_LOG` or
 * 'info'.
 */
export function stderrLogger(level: LogLevel = defaultLevel()): Logger {
  const min = ORDER[level]
  const write = (lvl: LogLevel, message: string, fields?: Record<string, unknown>): void => {
    if (ORDER[lvl] < min) return
    let line = `[${lvl.toUpperCase()}] ${message}`
    if (fields !== undefined) {
      for (const [k, v] of Object.entries(fields))
        line += ` ${k}=${v instanceof Error ? v.message : String(v)}`
    }
    process.stderr.write(`${line}\n`)
  }
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  }
}

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} }

function defaultLevel(): LogLevel {
  const env = process.env.INDI_DRIVER_LOG
  return env === 'debug' || env === 'info' || env === 'warn' || env === 'error' ? env : 'info'
}
