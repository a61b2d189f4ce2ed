/**
 * Subject layout. Every INDI message crosses on `<prefix>.<site>.<device>.<property>.<kind>`, so
 * NATS itself routes by device: an importer subscribes to `<prefix>.<site>.<device>.>` only for
 * devices some local client asked for, and commands reach the owning site only.
 *
 * | kind | carries | published by |
 * |---|---|---|
 * | `def` | def*Vector | exporter |
 * | `set` | set*Vector except BLOBs | exporter |
 * | `blob` | setBLOBVector (chunked above max_payload) | exporter |
 * | `del` | delProperty (`-` as property: the whole device) | exporter |
 * | `msg` | message with a device (property `-`) | exporter |
 * | `new` | new*Vector (chunked above max_payload) | importer |
 * | `get` | request for the device's current definitions (property `-`) | importer |
 * | `hello` | presence and heartbeat, JSON (device and property `-`) | exporter |
 *
 * plus `<prefix>.-.discover`, on which an importer asks every exporter for an immediate hello.
 */

/** The property (or device) token that stands for "none": `-` is always escaped in names. */
export const NONE = '-'

/**
 * Encodes a device, property or site name as one subject token: ASCII letters, digits and `_`
 * stay, every other byte of the UTF-8 form becomes `%XX`. Names may hold spaces and dots (which
 * NATS would split on), and `-` is escaped so that {@link NONE} can never collide with a name.
 */
export function encodeToken(name: string): string {
  if (/^[A-Za-z0-9_]+$/.test(name)) return name
  let out = ''
  for (const b of Buffer.from(name, 'utf8')) {
    const isPlain = (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b === 95
    out += isPlain ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

/** Inverse of {@link encodeToken}. */
export function decodeToken(token: string): string {
  if (token.indexOf('%') === -1) return token
  const bytes: number[] = []
  for (let i = 0; i < token.length; i++) {
    if (token[i] === '%') {
      bytes.push(Number.parseInt(token.slice(i + 1, i + 3), 16))
      i += 2
    } else bytes.push(token.charCodeAt(i))
  }
  return Buffer.from(bytes).toString('utf8')
}

/** The kinds of message that travel on device subjects. */
export type SubjectKind = 'def' | 'set' | 'blob' | 'del' | 'msg' | 'new' | 'get' | 'hello'

/** Builds subjects under one prefix (default `indi`). */
export class Subjects {
  constructor(readonly prefix = 'indi') {}

  /** `<prefix>.<site>.<device>.<property>.<kind>`; `undefined` device/property become `-`. */
  of(site: string, device: string | undefined, property: string | undefined, kind: SubjectKind): string {
    const d = device === undefined || device === '' ? NONE : encodeToken(device)
    const p = property === undefined || property === '' ? NONE : encodeToken(property)
    return `${this.prefix}.${encodeToken(site)}.${d}.${p}.${kind}`
  }

  /** Everything about one device of one site (what an importer subscribes to). */
  device(site: string, device: string): string {
    return `${this.prefix}.${encodeToken(site)}.${encodeToken(device)}.>`
  }

  /** Every hello of every site. */
  allHellos(): string {
    return `${this.prefix}.*.${NONE}.${NONE}.hello`
  }

  /** Commands and definition requests for one site's devices. */
  commands(site: string): string {
    return `${this.prefix}.${encodeToken(site)}.*.*.new`
  }
  requests(site: string): string {
    return `${this.prefix}.${encodeToken(site)}.*.${NONE}.get`
  }

  /** Where importers ask exporters to say hello now. */
  discover(): string {
    return `${this.prefix}.${NONE}.discover`
  }

  /**
   * Splits a device subject into its names, or undefined when it is not one (wrong prefix or
   * token count). The prefix may itself contain dots.
   */
  parse(
    subject: string,
  ): { site: string; device: string | undefined; property: string | undefined; kind: string } | undefined {
    if (!subject.startsWith(`${this.prefix}.`)) return undefined
    const t = subject.slice(this.prefix.length + 1).split('.')
    if (t.length !== 4) return undefined
    const [s, d, p, kind] = t as [string, string, string, string]
    return {
      site: decodeToken(s),
      device: d === NONE ? undefined : decodeToken(d),
      property: p === NONE ? undefined : decodeToken(p),
      kind,
    }
  }
}

/**
 * Compiles shell-style globs on device names (`*` any run, `?` one character, `[...]` a class) into
 * one predicate. An empty list matches nothing.
 */
export function globMatcher(patterns: readonly string[]): (name: string) => boolean {
  if (patterns.length === 0) return () => false
  const res = patterns.map((p) => {
    let src = ''
    for (let i = 0; i < p.length; i++) {
      const c = p[i]!
      if (c === '*') src += '.*'
      else if (c === '?') src += '.'
      else if (c === '[') {
        const close = p.indexOf(']', i + 2)
        if (close < 0) src += '\\['
        else {
          let cls = p.slice(i + 1, close).replace(/\\/g, '\\\\')
          if (cls.startsWith('!')) cls = `^${cls.slice(1)}`
          src += `[${cls}]`
          i = close
        }
      } else src += c.replace(/[.+^${}()|\\\]]/g, '\\$&')
    }
    return new RegExp(`^${src}$`, 's')
  })
  const cache = new Map<string, boolean>()
  return (name) => {
    let hit = cache.get(name)
    if (hit === undefined) {
      hit = res.some((re) => re.test(name))
      // Bounded: device names are few, but a hostile peer could invent many.
      if (cache.size > 4096) cache.clear()
      cache.set(name, hit)
    }
    return hit
  }
}
