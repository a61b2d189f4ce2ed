import type { IndiFramer } from '@indi-ts/indi-xml'
import type { Connection } from '@indi-ts/transport'
import type { DriverProcess } from '@indi-ts/transport-stdio'
import { ClientInterest, SnoopTable } from './interest.js'
import type { Outbox, PeerCounters } from './outbox.js'
import type { RemoteLink } from './remote.js'

/** Something that can be run as an in-process driver (an @indi-ts/indi-driver `Driver`). */
export interface RunnableDriver {
  /** Runs the driver over `connection` until `signal` aborts or it shuts down. */
  run(options: { connection?: Connection; signal?: AbortSignal }): Promise<void>
}

/** An executable driver: spawned with two pipes, restarted when it dies. */
export interface ExecutableSpec {
  /** Program, searched on PATH (as indiserver's execlp). */
  command: string
  args?: readonly string[]
  /** Added to this process's environment (e.g. INDIDEV). */
  env?: Readonly<Record<string, string>>
  cwd?: string
  /** For logs; default the command as given. */
  name?: string
  /**
   * Speak @indi-ts/indi-msgpack's binary link with this driver (BLOBs as raw bytes, no base64):
   * only for a driver built on @indi-ts/indi-driver. The server sets `INDI_TS_BINARY=1` in its
   * environment (and removes it for every other driver). Default false: INDI XML.
   */
  binary?: boolean
}

/** A remote INDI server to chain: one device, or all of them. */
export interface RemoteSpec {
  host: string
  /** Default 7624. */
  port?: number
  /** One device (`Device@host`); absent means every device (`@host`, sends device="*"). */
  device?: string
  /**
   * BLOBs over this link. Absent (default): clients' enableBLOB pass through, as indiserver does.
   * `true`: the server answers each defBLOBVector of the remote with enableBLOB Also, so BLOBs
   * flow whatever clients asked. `false`: answers Never and drops BLOBs both ways (a thin link).
   */
  blobs?: boolean
  /**
   * Tell clients when the link goes down or comes back: one global INDI `message` per state
   * change, never one per retry. Default false (indiserver sends none).
   */
  statusMessages?: boolean
  /**
   * Speak @indi-ts/indi-msgpack's binary link with the remote: only when it is an
   * @indi-ts/indi-server (its port serves XML and binary peers alike). Default false: INDI XML.
   */
  binary?: boolean
}

/** How a driver peer is run. */
export type DriverKind = 'inproc' | 'exec' | 'remote' | 'connection'

/** A snapshot of a client, for tests and monitoring. */
export interface ClientInfo extends PeerCounters {
  readonly id: number
  readonly label: string
  /** Bytes queued in the server plus buffered in the connection. */
  readonly behind: number
  readonly queuedMessages: number
}

/** A snapshot of a driver peer. */
export interface DriverInfo extends PeerCounters {
  readonly id: number
  readonly name: string
  readonly kind: DriverKind
  readonly running: boolean
  /** Restarts used so far. */
  readonly restarts: number
  readonly devices: readonly string[]
  /** Snoop records as `device.name` (name empty for a whole device). */
  readonly snoops: readonly string[]
  readonly pid: number | undefined
}

/** State shared by clients and drivers: one connection read through one framer. */
export abstract class Peer {
  connection: Connection | undefined
  framer: IndiFramer | undefined
  outbox: Outbox | undefined
  /** Set when the server decided to drop this peer (its reader stops at the next chunk). */
  dropping = false
  /** XML errors seen from this peer. */
  xmlErrors = 0
  /** Per-peer trace switch (`server.setTrace`): its traffic is logged whatever the verbosity. */
  traced = false
  /** This peer's name in session recordings, computed at its first recorded element. */
  recordAs: string | undefined
  abstract readonly label: string
}

/** One connected client. */
export class ClientPeer extends Peer {
  readonly interest = new ClientInterest()
  /** Keep-alive: `performance.now()` of the last bytes read from this client. */
  lastRead = performance.now()
  /** Keep-alive: the uid of our unanswered pingRequest, and when it was sent. */
  pingUid: string | undefined
  pingSentAt = 0
  constructor(
    readonly id: number,
    readonly label: string,
  ) {
    super()
  }
}

/** One driver: in-process, executable, remote server, or a bare connection. Survives restarts. */
export class DriverPeer extends Peer {
  devices = new Set<string>()
  snoops = new SnoopTable()
  /** Last device seen from this driver: skips the ownership lookup for runs of the same device. */
  lastDevice: string | undefined
  restarts = 0
  running = false
  /** removeDriver / FIFO stop / close: no restart. */
  removed = false
  process: DriverProcess | undefined
  abort: AbortController | undefined
  runPromise: Promise<void> | undefined
  /** Settles when the current connection's reader (and its cleanup) is done. */
  loopDone: Promise<void> | undefined
  restartTimer: ReturnType<typeof setTimeout> | undefined
  /** Devices already reported as loops, so each is logged once. */
  readonly loopsLogged = new Set<string>()
  /** Remote links only: state, BLOB flag and enableBLOB replay. */
  link: RemoteLink | undefined
  constructor(
    readonly id: number,
    readonly kind: DriverKind,
    readonly name: string,
    readonly spec: { driver?: RunnableDriver; exec?: ExecutableSpec; remote?: RemoteSpec },
  ) {
    super()
  }
  get label(): string {
    return `Driver ${this.name}`
  }
  /** For remote links: host:port, so a generic getProperties reaches each remote server once. */
  get remoteUid(): string | undefined {
    const r = this.spec.remote
    return r ? `${r.host}:${r.port ?? 7624}` : undefined
  }
}
