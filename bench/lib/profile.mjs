// Summarises a V8 .cpuprofile (node --cpu-prof) into the functions with the most self time, so a
// missed goal comes with the reason next to the figure.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** Top `n` functions by self time over all profiles in `dir`, as { fn, ms, pct }. */
export function topSelfTime(dir, n = 12) {
  const self = new Map()
  let total = 0
  let files = []
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))
  } catch {
    return []
  }
  for (const f of files) {
    const p = JSON.parse(readFileSync(join(dir, f), 'utf8'))
    const byId = new Map(p.nodes.map((node) => [node.id, node]))
    p.samples.forEach((id, i) => {
      const dt = p.timeDeltas[i] ?? 0
      const cf = byId.get(id).callFrame
      const where = cf.url ? ` ${cf.url.split('/').slice(-2).join('/')}:${cf.lineNumber + 1}` : ''
      const key = `${cf.functionName || '(anonymous)'}${where}`
      self.set(key, (self.get(key) ?? 0) + dt)
      total += dt
    })
  }
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([fn, us]) => ({ fn, ms: Math.round(us / 1000), pct: Math.round((1000 * us) / total) / 10 }))
}
