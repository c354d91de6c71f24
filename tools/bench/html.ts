/**
 * bench.html: the policy table (median and range over seeds), the lower bound,
 * the sensitivity band, and the sweep drawn as SVG (battery days and p95
 * latency against the upload interval, one panel per sample interval, one line
 * per policy). Self-contained: no scripts, no external assets.
 */
import type { PolicyBench, Spread, SweepPoint } from './policies';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];

function esc(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

function fmt(v: number | null | undefined, digits = 2): string {
  return v === null || v === undefined ? 'n/a' : v.toLocaleString('en', { maximumFractionDigits: digits });
}

export function fmtSpread(s: Spread, digits = 2): string {
  if (s.median === null) return 'n/a';
  return s.min === s.max ? fmt(s.median, digits) : `${fmt(s.median, digits)} (${fmt(s.min, digits)}-${fmt(s.max, digits)})`;
}

/** One log-scaled line chart: x the upload interval, y a metric, a line per policy (latency: p50 solid, p95 dashed). */
function chart(points: SweepPoint[], policies: string[], sampleS: number, metric: 'battery_days' | 'latency', title: string): string {
  const W = 320;
  const H = 220;
  const pad = { l: 48, r: 10, t: 24, b: 34 };
  const mine = points.filter((p) => p.sample_interval_s === sampleS);
  const xs = [...new Set(mine.map((p) => p.upload_interval_min))].sort((a, b) => a - b);
  const value = (p: SweepPoint) => (metric === 'battery_days' ? p.battery_days : p.latency_p95_s);
  const second = (p: SweepPoint) => (metric === 'battery_days' ? null : p.latency_p50_s);
  const ys = [...mine.map(value), ...mine.map(second)].filter((v): v is number => v !== null && v > 0);
  if (metric === 'battery_days') ys.push(...mine.map((p) => p.lower_bound_battery_days));
  if (!xs.length || !ys.length) return '';
  const lx = (x: number) => Math.log10(x);
  const [x0, x1] = [lx(xs[0]), lx(xs[xs.length - 1]) || lx(xs[0]) + 1];
  const [y0, y1] = [Math.floor(Math.log10(Math.min(...ys))), Math.ceil(Math.log10(Math.max(...ys)) + 1e-9)];
  const px = (x: number) => pad.l + ((lx(x) - x0) / Math.max(1e-9, x1 - x0)) * (W - pad.l - pad.r);
  const py = (y: number) => H - pad.b - ((Math.log10(y) - y0) / Math.max(1e-9, y1 - y0)) * (H - pad.t - pad.b);
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="10">`];
  parts.push(`<text x="${W / 2}" y="14" text-anchor="middle" font-size="11">${esc(title)}</text>`);
  for (let e = y0; e <= y1; e++) {
    const y = py(10 ** e);
    parts.push(`<line x1="${pad.l}" x2="${W - pad.r}" y1="${y}" y2="${y}" stroke="#ddd"/><text x="${pad.l - 4}" y="${y + 3}" text-anchor="end">${fmt(10 ** e, 3)}</text>`);
  }
  for (const x of xs) parts.push(`<text x="${px(x)}" y="${H - pad.b + 12}" text-anchor="middle">${x}</text>`);
  parts.push(`<text x="${(pad.l + W - pad.r) / 2}" y="${H - 6}" text-anchor="middle">upload interval (min)</text>`);
  const line = (pts: [number, number][], color: string, dash = '') =>
    `<polyline fill="none" stroke="${color}" stroke-width="1.8"${dash ? ` stroke-dasharray="${dash}"` : ''} points="${pts.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`
    + pts.map(([x, y]) => `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="2.2" fill="${color}"/>`).join('');
  policies.forEach((policy, i) => {
    for (const [get, dash] of [[value, metric === 'latency' ? '5 3' : ''], [second, '']] as const) {
      const pts = mine.filter((p) => p.policy === policy).map((p) => [p.upload_interval_min, get(p)] as [number, number | null])
        .filter((p): p is [number, number] => p[1] !== null && p[1] > 0).sort((a, b) => a[0] - b[0]);
      if (pts.length) parts.push(line(pts, COLORS[i % COLORS.length], dash));
    }
  });
  if (metric === 'battery_days') {
    const bound = xs.map((x) => [x, mine.find((p) => p.upload_interval_min === x)!.lower_bound_battery_days] as [number, number]);
    parts.push(line(bound, '#555', '4 3'));
  }
  parts.push('</svg>');
  return parts.join('');
}

export function benchHtml(bench: PolicyBench, generated: { seeds: number[]; days: number }): string {
  const rows = bench.rows.map((r) => `<tr><td><b>${esc(r.policy)}</b><br><small>${esc(r.recreates)}</small></td>`
    + `<td>${r.status ? esc(r.status) : fmtSpread(r.metrics.energy_per_delivered_sample_mj, 1)}</td>`
    + `<td>${fmtSpread(r.bands.optimistic.energy_per_delivered_sample_mj, 1)} to ${fmtSpread(r.bands.pessimistic.energy_per_delivered_sample_mj, 1)}</td>`
    + `<td>${fmtSpread(r.metrics.avg_ma, 3)}</td><td>${fmtSpread(r.metrics.battery_days, 0)}</td>`
    + `<td>${fmtSpread(r.metrics.latency_p50_s, 0)} / ${fmtSpread(r.metrics.latency_p95_s, 0)} / ${fmtSpread(r.metrics.latency_max_s, 0)}</td>`
    + `<td>${fmtSpread(r.metrics.peak_ma, 0)}</td><td>${fmtSpread(r.metrics.bytes_on_air_per_day, 0)}</td><td>${fmtSpread(r.metrics.aws_messages_per_day, 0)}</td>`
    + `<td>${fmtSpread(r.metrics.samples_lost, 0)} / ${fmtSpread(r.metrics.samples_dropped, 0)}</td></tr>`).join('\n');
  const lb = bench.lower_bound.metrics;
  const charts = bench.sweep.length
    ? [10, 60, 600].map((s) => `<div class="pair">${chart(bench.sweep, bench.sweep_policies, s, 'battery_days', `battery days, sample every ${s} s`)}${chart(bench.sweep, bench.sweep_policies, s, 'latency', `latency p50 (solid) / p95 (dashed), s, sample every ${s} s`)}</div>`).join('\n')
    : '<p>The sweep was not run (--no-sweep).</p>';
  const legend = bench.sweep_policies.map((p, i) => `<span style="color:${COLORS[i % COLORS.length]}">&#9632; ${esc(p)}</span>`).join(' ')
    + ' <span style="color:#555">- - lower_bound</span>';
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>fieldlink bench</title>
<style>body{font-family:sans-serif;margin:20px;max-width:1200px}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:4px 6px;vertical-align:top}th{background:#f3f3f3}small{color:#555}.pair{display:flex;gap:16px;margin:8px 0}</style>
</head><body>
<h1>npm run bench</h1>
<p>${generated.days} simulated days per run, seeds ${generated.seeds.join(', ')}; each cell is the median over seeds with the range in parentheses. Band: the same runs priced with the optimistic and pessimistic cost tables (test-sim/energy/costs.ts).</p>
<table><tr><th>policy</th><th>mJ per delivered sample</th><th>band (optimistic to pessimistic)</th><th>avg mA</th><th>battery days</th><th>latency p50 / p95 / max (s)</th><th>peak mA</th><th>bytes on air/day</th><th>AWS messages/day</th><th>lost / dropped</th></tr>
${rows}
<tr><td><b>lower_bound</b><br><small>${esc(bench.lower_bound.what)}</small></td><td>${fmtSpread(lb.energy_per_delivered_sample_mj, 1)}</td><td></td><td>${fmtSpread(lb.avg_ma, 3)}</td><td>${fmtSpread(lb.battery_days, 0)}</td><td></td><td></td><td>${fmtSpread(lb.bytes_on_air_per_day, 0)}</td><td></td><td>0 / 0</td></tr>
</table>
<h2>Sweep (${bench.sweep_days} day(s), seed ${generated.seeds[0]}, no long outage)</h2>
<p>${legend}</p>
${charts}
</body></html>
`;
}
