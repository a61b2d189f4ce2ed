import { isIP } from 'node:net'
import { IndiError } from '@indi-ts/indi-xml'
import type { LogLevel } from './log.js'

/** A positional driver argument: an executable, or a remote `[device]@host[:port]`. */
export type DriverArg = (
  | { readonly kind: 'exec'; readonly command: string }
  | { readonly kind: 'remote'; readonly device?: string; readonly host: string; readonly port: number }
) & {
  /** After `--binary` (until `--xml`): speak @indi-ts/indi-msgpack's binary link with it. */
  readonly binary?: boolean
}

/** The parsed command line of `indi-server`. */
export interface CliOptions {
  /** `-p`: TCP port, default 7624. */
  port: number
  /** `-m`: disconnect a client this many MB behind, default 128. */
  maxQueueMB: number
  /** `-d`: drop streaming BLOBs for a client this many MB behind, default 5; 0 disables. */
  maxStreamMB: number
  /** `-r`: restarts per driver, default 10. */
  restarts: number
  /** `-v` … `-vvv`. */
  verbosity: LogLevel
  /** `-f`: FIFO for runtime `start`/`stop` commands. */
  fifo?: string
  /** `-l`: directory for `YYYY-MM-DD.islog` files of driver messages. */
  logDir?: string
  /** `-u`: indiserver's local socket path; accepted and ignored (no fd passing in Node). */
  unixSocket?: string
  /** `--host`: listen address, default 127.0.0.1. */
  host: string
  /** `--max-connections`: most clients at once. */
  maxConnections?: number
  /** `--allow`: addresses or CIDR ranges allowed to connect (comma-separated, repeatable). */
  allow: string[]
  /** `--nats`: NATS server URL(s) to export/import devices through (@indi-ts/transport-nats). */
  nats: string[]
  /** `--nats-site`: this server's site name on NATS; default the host name. */
  natsSite?: string
  /** `--nats-export`: globs on device names to export (repeatable). */
  natsExport: string[]
  /** `--nats-import`: globs on device names to import from other sites (repeatable). */
  natsImport: string[]
  /** `--record`: write every received element to this session recording (see indi-replay). */
  record?: string
  /** `--accept-binary`: also serve binary-link peers (other indi-servers' `--binary` remotes) on the port. */
  acceptBinary: boolean
  /** Drivers and remotes, in order. */
  drivers: DriverArg[]
  /** `--help` / `-h`. */
  help: boolean
}

/** The `--help` text. */
export const USAGE = `Usage: indi-server [options] driver [driver ...]
A drop-in replacement for indilib's indiserver.
 -l d     : log driver messages to <d>/YYYY-MM-DD.islog
 -m m     : kill client if gets more than this many MB behind, default 128
            (superseded set*Vector updates are conflated first)
 -d m     : drop streaming blobs if client gets more than this many MB behind, default 5. 0 to disable
 -u path  : accepted for compatibility and ignored (no local-socket fd passing)
 -p p     : alternate IP port, default 7624
 -r r     : maximum driver restarts on error, default 10 (with exponential backoff)
 -f path  : path to an existing fifo for dynamic startup and shutdown of drivers:
              start <driver> [-n "Device"] [-c "config"] [-s "skeleton"] [-p "prefix"]
              start [Device]@host[:port]
              stop <driver> [-n "Device"]
            -n/-c/-s/-p set INDIDEV/INDICONFIG/INDISKEL/INDIPREFIX; -p runs <prefix>/bin/<driver>
 -v       : show key events, no traffic
 -vv      : -v + key message content
 -vvv     : -vv + complete xml
 --host a             : listen address, default 127.0.0.1 (indiserver listens on all; use 0.0.0.0 or ::)
 --max-connections n  : refuse clients beyond n with an INDI message
 --allow list         : only accept clients from these addresses or CIDR ranges (comma-separated)
 --nats url           : export/import devices through this NATS server (repeatable for a cluster);
                        needs the optional package @indi-ts/transport-nats
 --nats-site name     : this server's site name on NATS, default the host name
 --nats-export glob   : export devices whose name matches (repeatable, e.g. 'Telescope*')
 --nats-import glob   : import devices of other sites whose name matches (repeatable, e.g. '*')
 --binary             : the drivers named after it speak the indi-ts binary link (msgpack, raw BLOBs):
                        executables built on @indi-ts/indi-driver, or remotes that are indi-servers
                        run with --accept-binary. --xml switches back for the drivers after it
 --accept-binary      : also serve binary-link peers on the port (sniffs each client's first bytes)
 --record file        : record every message the server receives (time, peer) to a new file;
                        serve it later with indi-replay
 -h, --help           : this text
driver    : executable (searched on PATH) or [device]@host[:port]
With no driver, no -f and no --nats-import, prints this text and exits with status 2.
`

function usageError(message: string): IndiError {
  return new IndiError('ERR_INDI_USAGE', message)
}

function intArg(flag: string, value: string | undefined, min: number, max: number): number {
  if (value === undefined) throw usageError(`${flag} needs a value`)
  if (!/^\d+$/.test(value)) throw usageError(`${flag}: "${value}" is not a whole number`)
  const n = Number(value)
  if (n < min || n > max) throw usageError(`${flag}: ${n} is outside ${min}..${max}`)
  return n
}

function mbArg(flag: string, value: string | undefined, min: number): number {
  if (value === undefined) throw usageError(`${flag} needs a value`)
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n < min)
    throw usageError(`${flag}: "${value}" is not a size in MB`)
  return n
}

function allowArg(value: string | undefined): string[] {
  if (value === undefined) throw usageError('--allow needs a value')
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  for (const entry of list) {
    const [addr, bits, extra] = entry.split('/')
    const family = isIP(addr ?? '')
    const maxBits = family === 6 ? 128 : 32
    if (
      family === 0 ||
      extra !== undefined ||
      (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= maxBits))
    )
      throw usageError(`--allow: "${entry}" is not an address or CIDR range`)
  }
  return list
}

/**
 * Parses a driver argument: anything with `@` is a remote (`Device Name@host[:port]`, or
 * `@host[:port]` for every device), otherwise an executable name.
 */
export function parseDriverArg(arg: string): DriverArg {
  const at = arg.lastIndexOf('@')
  if (at < 0) {
    if (arg === '') throw usageError('empty driver name')
    return { kind: 'exec', command: arg }
  }
  const device = arg.slice(0, at)
  let rest = arg.slice(at + 1)
  let host: string
  let port = 7624
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']')
    if (close < 0) throw usageError(`bad remote "${arg}"`)
    host = rest.slice(1, close)
    rest = rest.slice(close + 1)
    if (rest.startsWith(':')) port = intArg(arg, rest.slice(1), 1, 65535)
    else if (rest !== '') throw usageError(`bad remote "${arg}"`)
  } else {
    const colon = rest.lastIndexOf(':')
    // More than one colon without brackets is a bare IPv6 address, with the default port.
    if (colon >= 0 && rest.indexOf(':') === colon) {
      host = rest.slice(0, colon)
      port = intArg(arg, rest.slice(colon + 1), 1, 65535)
    } else host = rest
  }
  if (host === '') throw usageError(`remote "${arg}" has no host`)
  return device === '' ? { kind: 'remote', host, port } : { kind: 'remote', device, host, port }
}

/**
 * Parses indiserver's command line plus our long options. Short flags may be clustered (`-vv`,
 * `-vp 7625`); a flag that takes a value takes the next argument. Throws ERR_INDI_USAGE.
 */
export function parseArgs(argv: readonly string[]): CliOptions {
  const o: CliOptions = {
    port: 7624,
    maxQueueMB: 128,
    maxStreamMB: 5,
    restarts: 10,
    verbosity: 0,
    host: '127.0.0.1',
    allow: [],
    acceptBinary: false,
    nats: [],
    natsExport: [],
    natsImport: [],
    drivers: [],
    help: false,
  }
  let i = 0
  let binary = false
  const next = (): string | undefined => argv[++i]
  for (; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=')
      const flag = eq > 0 ? arg.slice(0, eq) : arg
      const value = (): string | undefined => (eq > 0 ? arg.slice(eq + 1) : next())
      switch (flag) {
        case '--help':
          o.help = true
          break
        case '--host': {
          const v = value()
          if (!v) throw usageError('--host needs a value')
          o.host = v
          break
        }
        case '--max-connections':
          o.maxConnections = intArg(flag, value(), 1, 1_000_000)
          break
        case '--allow':
          o.allow.push(...allowArg(value()))
          break
        case '--binary':
        case '--xml':
          binary = flag === '--binary'
          break
        case '--accept-binary':
          o.acceptBinary = true
          break
        case '--record': {
          const v = value()
          if (!v) throw usageError('--record needs a file')
          o.record = v
          break
        }
        case '--nats':
        case '--nats-site':
        case '--nats-export':
        case '--nats-import': {
          const v = value()
          if (!v) throw usageError(`${flag} needs a value`)
          if (flag === '--nats') o.nats.push(v)
          else if (flag === '--nats-site') o.natsSite = v
          else (flag === '--nats-export' ? o.natsExport : o.natsImport).push(v)
          break
        }
        default:
          throw usageError(`unknown option ${flag}`)
      }
      continue
    }
    if (arg.startsWith('-') && arg.length > 1) {
      for (const c of arg.slice(1)) {
        switch (c) {
          case 'v':
            o.verbosity = Math.min(3, o.verbosity + 1) as LogLevel
            break
          case 'h':
            o.help = true
            break
          case 'p':
            o.port = intArg('-p', next(), 0, 65535)
            break
          case 'm':
            o.maxQueueMB = mbArg('-m', next(), Number.MIN_VALUE)
            break
          case 'd':
            o.maxStreamMB = mbArg('-d', next(), 0)
            break
          case 'r':
            o.restarts = intArg('-r', next(), 0, 1_000_000)
            break
          case 'f': {
            const v = next()
            if (!v) throw usageError('-f needs a path')
            o.fifo = v
            break
          }
          case 'l': {
            const v = next()
            if (!v) throw usageError('-l needs a directory')
            o.logDir = v
            break
          }
          case 'u': {
            const v = next()
            if (!v) throw usageError('-u needs a path')
            o.unixSocket = v
            break
          }
          default:
            throw usageError(`unknown option -${c}`)
        }
      }
      continue
    }
    const driver = parseDriverArg(arg)
    o.drivers.push(binary ? { ...driver, binary } : driver)
  }
  const natsRoles = o.natsExport.length + o.natsImport.length
  if (o.nats.length === 0 && (natsRoles > 0 || o.natsSite !== undefined))
    throw usageError('--nats-export, --nats-import and --nats-site need --nats URL')
  if (o.nats.length > 0 && natsRoles === 0) throw usageError('--nats needs --nats-export or --nats-import')
  return o
}
