#!/usr/bin/env node
// npm run bench: indi-ts and indilib's indiserver side by side on the same driver and workloads.
// See README.md. Options: --runs N  --only a,b  --servers indiserver,ours,relay  --quick  --write-results-md
//   --render results/latest.json  --quiet-wait S  --profile
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { emitRate } from './lib/emit.mjs'
import { killAllStarted, sleep, waitQuiet, withTimeout } from './lib/proc.mjs'
import { topSelfTime } from './lib/profile.mjs'
import { buildTable, consoleTable, markdownTable, svgChart } from './lib/report.mjs'
import { indiserver, ours, relay } from './lib/servers.mjs'
import { blobs, fanout, idle, latency, slowClient } from './lib/workloads.mjs'

const BENCH = dirname(fileURLToPath(import.meta.url))
const ROOT = join(BENCH, '..')
const RESULTS = join(BENCH, 'results')
const BUILD = join(RESULTS, 'build')
const LOGS = join(RESULTS, 'logs')
const MiB = 1024 * 1024

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    only: { type: 'string' },
    servers: { type: 'string', default: 'indiserver,ours' },
    quick: { type: 'boolean', default: false },
    'write-results-md': { type: 'boolean', default: false },
    // re-render the table from a saved latest.json, without running anything
    render: { type: 'string' },
    // seconds to wait for >= 60 % idle CPU before each run
    'quiet-wait': { type: 'string', default: '20' },
    // run our server under --cpu-prof and keep the top self-time functions
    profile: { type: 'boolean', default: false },
  },
})
const runs = Number(args.runs)
const quick = args.quick
const q = (full, small) => (quick ? small : full)

/** The workloads, their sizes and their hard bounds (see README.md for what each one shows). */
const WORKLOADS = {
  fanout1: {
    title: 'fanout-1 unpaced',
    run: (s) => fanout(s, { clients: 1, count: q(200_000, 20_000), rate: 0, boundMs: q(20_000, 5000) }),
  },
  // Paced rates sit below indiserver 1.9.9's edge (40,000/s for one client, ~15,000/s for ten) where it
  // keeps up in some runs and collapses in others; see README "Caveats".
  fanout1paced: {
    title: 'fanout-1 paced 30,000/s',
    run: (s) => fanout(s, { clients: 1, count: q(90_000, 30_000), rate: 30_000, boundMs: 20_000 }),
  },
  fanout10: {
    title: 'fanout-10 unpaced',
    run: (s) => fanout(s, { clients: 10, count: q(50_000, 5000), rate: 0, boundMs: q(20_000, 5000) }),
  },
  fanout10paced: {
    title: 'fanout-10 paced 5,000/s',
    run: (s) => fanout(s, { clients: 10, count: q(25_000, 10_000), rate: 5000, boundMs: 20_000 }),
  },
  blob: {
    title: 'BLOBs',
    run: (s) => blobs(s, { count: q(20, 4), size: 8 * MiB, ping: 1, boundMs: 60_000 }),
  },
  latency: {
    title: 'latency',
    run: (s) => latency(s, { count: q(5000, 500), boundMs: 30_000 }),
  },
  idle: {
    title: 'idle connections',
    run: (s) => idle(s, { idle: q(500, 50), boundMs: 30_000 }),
  },
  slow: {
    title: 'slow client',
    mb: 128,
    run: (s) => slowClient(s, { count: q(10, 3), size: 8 * MiB, nums: 100, boundMs: 60_000 }),
  },
  emit: { title: 'driver emit rate', emit: true },
}
const EMIT_COUNT = q(1_000_000, 100_000)
const HARD_LIMIT_MS = 90_000 // per run of one workload on one server, on top of the workload's own bound

function sh(cmd, cmdArgs) {
  try {
    return execFileSync(cmd, cmdArgs, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim()
  } catch {
    return undefined
  }
}

function log(line) {
  process.stderr.write(`${line}\n`)
}

function build() {
  mkdirSync(BUILD, { recursive: true })
  mkdirSync(LOGS, { recursive: true })
  const notes = {}
  const flood = join(BUILD, 'flood')
  try {
    execFileSync('gcc', ['-O2', '-o', flood, join(BENCH, 'drivers/flood.c')], { stdio: 'inherit' })
  } catch (err) {
    throw new Error(`cannot build the flood driver with gcc: ${err.message}`)
  }
  const libindi = join(BUILD, 'emit_libindi')
  try {
    execFileSync('g++', ['-O2', '-o', libindi, join(BENCH, 'drivers/emit_libindi.cpp'), '-lindidriver'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
  } catch (err) {
    notes.libindiDriver = `g++ against libindidriver failed (apt-get install -y libindi-dev?): ${String(err.stderr ?? err.message).split('\n')[0]}`
  }
  return { flood, libindi: notes.libindiDriver ? undefined : libindi, notes }
}

function metadata() {
  const sha = sh('git', ['-C', ROOT, 'rev-parse', 'HEAD']) ?? 'unknown'
  const dirty = sh('git', ['-C', ROOT, 'status', '--porcelain', '--', 'packages', 'bench'])
  return {
    date: new Date().toISOString(),
    gitSha: sha,
    gitDirty: Boolean(dirty),
    node: process.version,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    indiserverVersion: sh('dpkg-query', ['-W', '-f', `indi-bin $${'{'}Version}`, 'indi-bin']) ?? 'unknown',
    runs,
    quick,
    loadavgAtStart: os.loadavg(),
  }
}

let profileSerial = 0
let quietBudgetMs = 120_000

async function runServerWorkload(kind, wl, driver) {
  let server
  // --profile: our server runs under --cpu-prof (it writes the profile when it exits on SIGTERM).
  const profDir =
    args.profile && kind.id === 'ours' ? join(RESULTS, 'profiles', `${wl.id}-${profileSerial++}`) : undefined
  const nodeArgs = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []
  let result
  try {
    server = await kind.start({ driver, mb: wl.mb, logDir: LOGS, root: ROOT, nodeArgs })
    result = await withTimeout(wl.run(server), HARD_LIMIT_MS, `${kind.id}`)
  } catch (err) {
    result = { error: err.message }
  } finally {
    await server?.stop()
  }
  if (profDir) {
    result.profileDir = relative(ROOT, profDir)
    result.profileTop = topSelfTime(profDir, 12)
    for (const f of result.profileTop.slice(0, 8))
      log(`    ${String(f.pct).padStart(5)} %  ${f.ms} ms  ${f.fn}`)
  }
  return result
}

async function runEmit(kindId, built) {
  if (kindId === 'indiserver') {
    if (!built.libindi) return { error: built.notes.libindiDriver ?? 'libindi driver not built' }
    return emitRate(built.libindi, [], {
      count: EMIT_COUNT,
      boundMs: 30_000,
      env: { EMIT_COUNT: String(EMIT_COUNT) },
    })
  }
  if (kindId === 'ours') {
    // Reuse the driver engineer's emitter (packages/indi-driver/bench/emit-driver.mjs) rather than a copy.
    const script = join(ROOT, 'packages/indi-driver/bench/emit-driver.mjs')
    if (!existsSync(join(ROOT, 'packages/indi-driver/dist/index.js'))) return { error: 'not built' }
    if (!existsSync(script)) return { error: 'no emit-driver.mjs' }
    return emitRate(process.execPath, [script, String(EMIT_COUNT)], { count: EMIT_COUNT, boundMs: 30_000 })
  }
  return { error: 'no driver for this column' }
}

async function main() {
  process.on('SIGINT', () => {
    killAllStarted()
    process.exit(130)
  })
  process.on('exit', killAllStarted)
  const built = build()
  const meta = metadata()
  const kinds = { indiserver, ours, relay }
  const servers = args.servers.split(',').map((id) => {
    if (!kinds[id]) throw new Error(`unknown server ${id}`)
    return kinds[id]
  })
  const only = args.only ? new Set(args.only.split(',')) : undefined
  const results = {}
  const t0 = Date.now()
  log(
    `bench: ${meta.cpu} ×${meta.cores}, node ${meta.node}, ${meta.indiserverVersion}, git ${meta.gitSha.slice(0, 10)}`,
  )
  if (!existsSync(ours.cli(ROOT)))
    log(`bench: ${relative(ROOT, ours.cli(ROOT))} not built: the indi-ts column reads n/a`)
  for (const [id, wl] of Object.entries(WORKLOADS)) {
    if (only && !only.has(id)) continue
    wl.id = id
    results[id] = {}
    for (const kind of servers) results[id][kind.id] = []
    for (let run = 0; run < runs; run++) {
      for (const kind of servers) {
        const prev = results[id][kind.id]
        // Our server not built: record it once instead of trying every run.
        if (prev.length > 0 && /not built/.test(prev[0].error ?? '')) continue
        // Start each run from a quiet machine: collect the bench's own garbage now (npm run bench passes
        // --expose-gc) rather than in the middle of a measurement, where a pause of the receiver can tip
        // indiserver into its backlog collapse.
        globalThis.gc?.()
        await sleep(300)
        // Bounded twice: per run, and in total, so a machine that never quietens costs at most 2 minutes.
        const tw = Date.now()
        const idleAtStart = await waitQuiet(0.6, Math.min(Number(args['quiet-wait']) * 1000, quietBudgetMs))
        quietBudgetMs = Math.max(0, quietBudgetMs - (Date.now() - tw))
        const t = Date.now()
        const load1 = os.loadavg()[0]
        const r = wl.emit ? await runEmit(kind.id, built) : await runServerWorkload(kind, wl, built.flood)
        // Other work on this machine shows here; noisy runs are visible in the JSON.
        r.loadavg1AtStart = load1
        r.cpuIdleAtStart = idleAtStart
        prev.push(r)
        log(
          `bench: ${wl.title} [${kind.id}] run ${run + 1}/${runs}: ${summary(r)} (${((Date.now() - t) / 1000).toFixed(1)} s)`,
        )
      }
    }
  }
  meta.elapsedS = Math.round((Date.now() - t0) / 1000)
  meta.loadavgAtEnd = os.loadavg()
  const refId = 'indiserver'
  const oursId = servers.find((k) => k.id === 'ours') ? 'ours' : servers.find((k) => k.id !== refId)?.id
  const settings = {
    workloads: Object.fromEntries(Object.entries(WORKLOADS).map(([k, v]) => [k, v.title])),
    emitCount: EMIT_COUNT,
    indiserverArgs: '-p <port> -u /tmp/indibench-<pid>-<n> -m 128 -r 0 <flood>',
    oursArgs: 'node packages/indi-server/dist/cli.js -p <port> -m 128 <flood>',
    columns: { indilib: refId, 'indi-ts': oursId },
    servers: servers.map((k) => k.id),
    notes: built.notes,
  }
  report(meta, settings, results)
}

/** Writes latest.json/.svg/.md (and RESULTS.md/.svg when asked) and prints the table. */
function report(meta, settings, results) {
  const { indilib: refId, 'indi-ts': oursId } = settings.columns
  const extraIds = settings.servers.filter((id) => id !== refId && id !== oursId)
  const table = buildTable(results, refId, oursId, extraIds)
  mkdirSync(RESULTS, { recursive: true })
  if (!args.render) {
    writeFileSync(
      join(RESULTS, 'latest.json'),
      `${JSON.stringify({ meta, settings, results, table }, null, 2)}\n`,
    )
  }
  writeFileSync(join(RESULTS, 'latest.svg'), svgChart(table, meta))
  const md = resultsMarkdown(meta, table, settings, results)
  writeFileSync(join(RESULTS, 'latest.md'), md)
  if (args['write-results-md']) {
    // results/ is git-ignored; the committed representative run keeps its own copy of the chart.
    writeFileSync(join(BENCH, 'RESULTS.md'), md.replace('(results/latest.svg)', '(RESULTS.svg)'))
    writeFileSync(join(BENCH, 'RESULTS.svg'), svgChart(table, meta))
    // Committed files pass the repo's lint: let biome lay out the Markdown table its way.
    sh(join(ROOT, 'node_modules/.bin/biome'), ['format', '--write', join(BENCH, 'RESULTS.md')])
  }
  console.log(`\nindi-ts vs indilib: medians of ${meta.runs} runs (${meta.elapsedS} s)\n`)
  console.log(consoleTable(table))
  console.log(`\nwrote ${relative(process.cwd(), join(RESULTS, 'latest.json'))}, latest.svg, latest.md`)
}

function summary(r) {
  if (r.error) return `error: ${r.error}`
  const keys = [
    'rate',
    'delivered',
    'complete',
    'mbPerS',
    'corrupt',
    'p50us',
    'p99us',
    'kibPerConn',
    'answered',
  ]
  const more = ['normalComplete', 'peakRssMiB', 'slowDisconnected', 'perSecond', 'received']
  return [...keys, ...more]
    .filter((k) => r[k] !== undefined)
    .map((k) => `${k}=${typeof r[k] === 'number' ? Math.round(r[k] * 100) / 100 : r[k]}`)
    .join(' ')
}

function resultsMarkdown(meta, table, settings, results) {
  const notes = Object.values(settings.notes)
  const idle = Object.values(results)
    .flatMap((w) => Object.values(w).flat())
    .map((r) => r.cpuIdleAtStart)
    .filter(Number.isFinite)
    .sort((a, b) => a - b)
  const pct = (x) => `${Math.round(x * 100)} %`
  const load = (l) => (l ? l.map((x) => x.toFixed(1)).join(' / ') : 'n/a')
  const busy = idle.length
    ? `CPU idle before each run: median ${pct(idle[Math.floor(idle.length / 2)])}, lowest ${pct(idle[0])}${idle[0] < 0.6 ? " (some runs started on a busy machine: other engineers' builds and tests)" : ''}; load average at start ${load(meta.loadavgAtStart)}, at end ${load(meta.loadavgAtEnd)}`
    : ''
  return `# Benchmark results: indi-ts vs indilib

Generated by \`npm run bench\` (bench/run.mjs); medians of ${meta.runs} runs${meta.quick ? ' (--quick sizes)' : ''}.
See [README.md](README.md) for what each workload does and how to read this table.

- date: ${meta.date}
- git: ${meta.gitSha}${meta.gitDirty ? ' (with uncommitted changes)' : ''}
- machine: ${meta.cpu} × ${meta.cores} cores, ${meta.memGiB} GiB, Linux ${meta.kernel}
- Node ${meta.node}; indilib: ${meta.indiserverVersion}
- indiserver: \`${settings.indiserverArgs}\`; indi-ts: \`${settings.oursArgs}\`
- whole run: ${meta.elapsedS} s
${busy ? `- ${busy}\n` : ''}
${markdownTable(table)}
${notes.length ? `\nNotes: ${notes.join('; ')}\n` : ''}
![chart](results/latest.svg)
`
}

if (args.render) {
  const saved = JSON.parse(readFileSync(args.render, 'utf8'))
  saved.settings.servers ??= Object.keys(Object.values(saved.results)[0] ?? {})
  report(saved.meta, saved.settings, saved.results)
} else await main()
