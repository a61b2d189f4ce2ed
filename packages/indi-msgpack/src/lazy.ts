/**
 * `@indi-ts/indi-msgpack/lazy`: loads this package on first use. Imported eagerly, msgpackr and its
 * native addon add ~8 MiB to the RSS of every process that imports it (measured: a server's 46 →
 * 54 MiB at start), so a server or driver that only speaks XML imports this module instead, which
 * imports nothing until asked.
 */
type IndiMsgpack = typeof import('./index.js')

let loaded: IndiMsgpack | undefined
let loading: Promise<IndiMsgpack> | undefined

/** The package, loaded once. */
export function loadIndiMsgpack(): Promise<IndiMsgpack> {
  loading ??= import('./index.js').then((m) => {
    loaded = m
    return m
  })
  return loading
}

/** The package if `loadIndiMsgpack()` has resolved, else undefined. */
export function loadedIndiMsgpack(): IndiMsgpack | undefined {
  return loaded
}
