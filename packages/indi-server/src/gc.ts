import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'

/**
 * V8's young-generation collection, for IndiServerOptions.reclaimMemory: enabled here, in the
 * server's own process, rather than asking users for `node --expose-gc`. setFlagsFromString only
 * makes `gc` available to contexts created afterwards, so the main context is unchanged. A scavenge
 * of this server's small young generation takes well under a millisecond; it runs once per 8 MiB
 * read from drivers. Undefined if this V8 will not give it (the server then works without).
 */
export function youngGenerationGc(): (() => void) | undefined {
  try {
    v8.setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as ((options?: { type: 'minor' | 'major' }) => void) | undefined
    if (typeof gc !== 'function') return undefined
    return () => gc({ type: 'minor' })
  } catch {
    return undefined
  }
}
