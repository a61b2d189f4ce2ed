// Turns run results into the table (console and Markdown), the JSON file and a hand-written SVG chart.

const fmtInt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a')
const fmt1 = (n) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a')
const fmt2 = (n) => (Number.isFinite(n) ? n.toFixed(2) : 'n/a')

export function median(xs) {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b)
  if (s.length === 0) return Number.NaN
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/**
 * The run whose `key` is the median one (lower middle for even counts), so the other figures printed
 * beside the median come from one consistent run. Failed runs (errors) are skipped.
 */
export function medianRun(runs, key) {
  const ok = runs.filter((r) => r && !r.error && Number.isFinite(r[key]))
  if (ok.length === 0) return runs.find((r) => r?.error) ?? undefined
  const sorted = [...ok].sort((a, b) => a[key] - b[key])
  return sorted[Math.floor((sorted.length - 1) / 2)]
}

/**
 * Row definitions: which workload, which figure, how to print it and the goal for indi-ts.
 * `goal(ours, ref)` returns true/false, or undefined when it cannot be judged.
 */
export const ROWS = [
  {
    workload: 'fanout1',
    label: 'fanout-1 unpaced: msgs/s',
    key: 'rate',
    fmt: fmtInt,
    goalText: '≥ 400,000 msgs/s',
    goal: (o) => o.rate >= 400_000 && o.complete,
  },
  {
    workload: 'fanout1',
    label: 'fanout-1 unpaced: delivered within bound',
    key: 'delivered',
    fmt: (n, r) =>
      r
        ? `${fmtInt(n)} / ${fmtInt(r.expected)}${r.timedOut ? ` in ${r.elapsedS} s` : ''}${r.missing ? ` (${fmtInt(r.missing)} skipped)` : ''}`
        : 'n/a',
    goalText: 'all, in order',
    goal: (o) => o.complete && o.missing === 0 && o.outOfOrder === 0,
  },
  {
    workload: 'fanout1paced',
    label: 'fanout-1 paced 30,000/s: msgs/s',
    key: 'rate',
    fmt: (n, r) =>
      r ? `${fmtInt(n)}${r.complete ? '' : ` (${fmtInt(r.delivered)}/${fmtInt(r.expected)})`}` : 'n/a',
    goalText: '30,000/s kept (info)',
    goal: (o) => o.complete,
  },
  {
    workload: 'fanout10',
    label: 'fanout-10 unpaced: deliveries/s',
    key: 'rate',
    fmt: (n, r) =>
      r ? `${fmtInt(n)}${r.complete ? '' : ` (${fmtInt(r.delivered)}/${fmtInt(r.expected)})`}` : 'n/a',
    goalText: '≥ 1,000,000 /s',
    goal: (o) => o.rate >= 1_000_000 && o.complete,
  },
  {
    workload: 'fanout10paced',
    label: 'fanout-10 paced 5,000/s: deliveries/s',
    key: 'rate',
    fmt: (n, r) =>
      r ? `${fmtInt(n)}${r.complete ? '' : ` (${fmtInt(r.delivered)}/${fmtInt(r.expected)})`}` : 'n/a',
    goalText: '50,000/s kept (info)',
    goal: (o) => o.complete,
  },
  {
    workload: 'blob',
    label: 'BLOBs 20 × 8 MiB: MB/s (decoded)',
    key: 'mbPerS',
    fmt: (n, r) => (r ? `${fmt1(n)}${r.complete ? '' : ` (${r.received}/${r.expected})`}` : 'n/a'),
    goalText: '≥ 2× indiserver',
    goal: (o, ref) =>
      ref && Number.isFinite(ref.mbPerS) ? o.mbPerS >= 2 * ref.mbPerS && o.complete : undefined,
  },
  {
    workload: 'blob',
    label: 'BLOBs: corrupt',
    key: 'corrupt',
    fmt: (n) => fmtInt(n),
    goalText: '0',
    goal: (o) => o.corrupt === 0 && o.complete,
  },
  {
    workload: 'latency',
    label: 'latency p50 µs',
    key: 'p50us',
    lower: true,
    fmt: fmt1,
    goalText: '≤ indiserver',
    goal: (o, ref) => (ref && Number.isFinite(ref.p50us) ? o.p50us <= ref.p50us && o.complete : undefined),
  },
  {
    workload: 'latency',
    label: 'latency p99 µs',
    key: 'p99us',
    lower: true,
    fmt: fmt1,
    goalText: '(info)',
  },
  {
    workload: 'idle',
    label: 'idle: KiB RSS per idle connection',
    key: 'kibPerConn',
    lower: true,
    fmt: (n, r) =>
      r ? `${fmt2(n)}${r.answered === r.idle ? '' : ` (${r.answered}/${r.idle} served)`}` : 'n/a',
    goalText: '≤ 8 KiB',
    goal: (o) => o.kibPerConn <= 8 && o.complete,
  },
  {
    workload: 'slow',
    label: 'slow client: normal client complete',
    key: 'normalBlobs',
    fmt: (_, r) =>
      r
        ? `${r.normalComplete ? 'yes' : 'NO'} (${r.normalBlobs}/${r.expectedBlobs} BLOBs, ${r.normalUpdates}/${r.expectedUpdates} sets)`
        : 'n/a',
    goalText: 'yes',
    goal: (o) => o.normalComplete,
  },
  {
    workload: 'slow',
    label: 'slow client: server peak RSS MiB',
    key: 'peakRssMiB',
    lower: true,
    fmt: fmt1,
    goalText: '≤ indiserver',
    goal: (o, ref) => (ref && Number.isFinite(ref.peakRssMiB) ? o.peakRssMiB <= ref.peakRssMiB : undefined),
  },
  {
    workload: 'slow',
    label: 'slow client: what happened to it',
    key: 'slowDisconnectedAtS',
    pickBy: 'peakRssMiB',
    text: true,
    fmt: (_, r) =>
      r
        ? r.slowDisconnected
          ? `disconnected after ${fmt2(r.slowDisconnectedAtS)} s`
          : 'kept connected'
        : 'n/a',
    goalText: '(info)',
  },
  {
    workload: 'emit',
    label: 'driver emit: updates/s (libindi C++ vs indi-ts)',
    key: 'perSecond',
    fmt: (n, r) =>
      r ? `${fmtInt(n)}${r.complete ? '' : ` (${fmtInt(r.received)}/${fmtInt(r.expected)})`}` : 'n/a',
    goalText: '(info)',
  },
]

/** Builds the table rows from { workload: { server: runs[] } }. `ref` is indiserver, `ours` is indi-ts. */
export function buildTable(results, refId, oursId, extraIds = []) {
  const seen = new Set()
  return ROWS.filter((row) => results[row.workload]).map((row) => {
    row = { ...row, first: !seen.has(row.workload) }
    seen.add(row.workload)
    const w = results[row.workload]
    const pick = (id) => (w[id] ? medianRun(w[id], row.pickBy ?? row.key) : undefined)
    const ref = pick(refId)
    const ours = pick(oursId)
    // Say plainly when some runs failed or hit their bound, even if the median run did not.
    const bad = (id) => {
      const rs = w[id] ?? []
      const n = rs.filter((r) => r.error || r.complete === false || r.normalComplete === false).length
      return n > 0 && rs.length > 1 ? ` [${n}/${rs.length} runs incomplete]` : ''
    }
    const cell = (r, id) =>
      r === undefined
        ? 'n/a'
        : r.error
          ? `n/a (${r.error})`
          : `${row.fmt(r[row.key], r)}${row.first ? bad(id) : ''}`
    const okRef = ref && !ref.error
    const okOurs = ours && !ours.error
    let ratio = ''
    if (
      !row.text &&
      okRef &&
      okOurs &&
      Number.isFinite(ref[row.key]) &&
      Number.isFinite(ours[row.key]) &&
      ref[row.key] !== 0
    ) {
      const x = ours[row.key] / ref[row.key]
      ratio = `${x >= 100 ? fmtInt(x) : x.toFixed(2)}×${row.lower ? ' (lower is better)' : ''}`
    }
    let status = '—'
    if (row.goal) {
      if (!okOurs) status = 'n/a'
      else {
        const met = row.goal(ours, okRef ? ref : undefined)
        status = met === undefined ? 'n/a' : met ? 'goal met' : 'MISSED'
      }
      if (row.goalText.includes('(info)'))
        status = status === 'goal met' ? 'ok' : status === 'MISSED' ? 'did not' : status
    }
    return {
      row: row.label,
      indilib: cell(ref, refId),
      indits: cell(ours, oursId),
      extra: Object.fromEntries(extraIds.map((id) => [id, cell(pick(id), id)])),
      ratio,
      goal: row.goalText,
      status,
      values: { indilib: okRef ? ref[row.key] : undefined, indits: okOurs ? ours[row.key] : undefined },
      numeric: !row.text && row.key !== 'corrupt' && row.key !== 'normalBlobs' && row.key !== 'delivered',
      lower: Boolean(row.lower),
    }
  })
}

/** Header and cells; extra columns (the raw relay) go after the ratio, which stays indi-ts / indilib. */
function grid(table) {
  const extra = Object.keys(table[0]?.extra ?? {})
  const head = ['workload / figure', 'indilib', 'indi-ts', 'ratio', ...extra, 'goal', 'status']
  const rows = table.map((r) => [
    r.row,
    r.indilib,
    r.indits,
    r.ratio,
    ...extra.map((id) => r.extra[id]),
    r.goal,
    r.status,
  ])
  return { head, rows }
}

export function consoleTable(table) {
  const { head, rows } = grid(table)
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
  const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ')
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

export function markdownTable(table) {
  const esc = (s) => String(s).replaceAll('|', '\\|')
  const { head, rows } = grid(table)
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n')
}

const xmlEsc = (s) =>
  String(s).replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;')

/**
 * A grouped horizontal bar chart: one pair of bars per numeric row, each row scaled to its own maximum
 * (the units differ), with the printed values beside the bars. Written by hand: no chart dependency.
 */
export function svgChart(table, meta) {
  const rows = table.filter((r) => r.numeric)
  const W = 900
  const left = 300
  const barW = 420
  const rowH = 46
  const top = 60
  const H = top + rows.length * rowH + 50
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<title>indi-ts vs indilib benchmark, ${xmlEsc(meta.date)}</title>`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="16" font-weight="bold">indi-ts vs indilib (${xmlEsc(meta.indiserverVersion ?? 'indiserver')}): medians of ${meta.runs} runs</text>`,
    `<text x="12" y="40" fill="#555">${xmlEsc(`${meta.cpu} ×${meta.cores} · node ${meta.node} · ${meta.gitSha.slice(0, 10)} · ${meta.date}`)}</text>`,
    `<rect x="${left}" y="${H - 32}" width="12" height="12" fill="#9e9e9e"/><text x="${left + 18}" y="${H - 22}">indilib</text>`,
    `<rect x="${left + 90}" y="${H - 32}" width="12" height="12" fill="#1f77b4"/><text x="${left + 108}" y="${H - 22}">indi-ts</text>`,
    `<text x="${left + 180}" y="${H - 22}" fill="#555">each row scaled to its own maximum; ✓ goal met, ✗ missed</text>`,
  ]
  rows.forEach((r, i) => {
    const y = top + i * rowH
    const a = Number.isFinite(r.values.indilib) ? r.values.indilib : 0
    const b = Number.isFinite(r.values.indits) ? r.values.indits : 0
    const max = Math.max(a, b) || 1
    const mark = r.status === 'goal met' ? ' ✓' : r.status === 'MISSED' ? ' ✗' : ''
    out.push(`<text x="12" y="${y + 18}">${xmlEsc(r.row)}${r.lower ? ' ↓' : ''}</text>`)
    out.push(`<text x="12" y="${y + 33}" fill="#555">${xmlEsc(r.ratio)}${mark}</text>`)
    const bar = (v, label, yy, color) => {
      const w = Math.max(1, (v / max) * barW)
      out.push(`<rect x="${left}" y="${yy}" width="${w.toFixed(1)}" height="16" fill="${color}"/>`)
      out.push(`<text x="${(left + w + 6).toFixed(1)}" y="${yy + 12}">${xmlEsc(label)}</text>`)
    }
    bar(a, r.indilib, y + 4, '#9e9e9e')
    bar(b, r.indits, y + 22, r.status === 'MISSED' ? '#d62728' : '#1f77b4')
  })
  out.push('</svg>')
  return `${out.join('\n')}\n`
}
