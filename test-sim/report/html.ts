/**
 * report.html: one self-contained page (inline CSS and SVG, no scripts, no
 * fonts, nothing fetched) with the run's key numbers and one timeline of
 * stacked lanes on a shared time axis. Everything narrower than a pixel is
 * aggregated, so a week draws as readably as an hour.
 */
import { EVENTS } from '../../hal/events';
import type { SimResult, SimSummary } from '../sim';
import type { RecordedEvent } from '../device/host';
import { ENERGY_PROFILES, type EnergyProfile } from '../../firmware/power/policy';
import { formatDuration } from '../cli/duration';
import { LINK_STATES, RADIO_STATES, timeShares, type Incident, type Interval, type ReportState, type Timeline } from './timeline';
import type { Failure } from '../../firmware/link/classify';

export const BATTERY_MAH = 2500;

export interface HtmlOptions {
  title?: string;
  /** One line saying what the scenario does. */
  description?: string;
}

/** Colours of the link states: connecting in blues, Online green, Backoff amber, Sleep grey. */
export const STATE_COLORS: Readonly<Record<ReportState, string>> = {
  Boot: '#9c7bc8',
  WifiJoin: '#a9cdf0',
  TimeSync: '#7fb2e5',
  TlsConnect: '#4a8ad4',
  MqttConnect: '#2a5ea8',
  Online: '#2e9e4f',
  Closing: '#86c99a',
  Backoff: '#f0a202',
  Sleep: '#c4c4c4',
  Off: '#3b3b3b',
  Crashed: '#b3261e',
};
const STATE_LABELS: Readonly<Record<ReportState, string>> = {
  Boot: 'Boot',
  WifiJoin: 'Wi-Fi join',
  TimeSync: 'Time sync',
  TlsConnect: 'TLS connect',
  MqttConnect: 'MQTT connect',
  Online: 'Online',
  Closing: 'Closing (goodbye)',
  Backoff: 'Backoff',
  Sleep: 'Sleep',
  Off: 'Off (no power)',
  Crashed: 'Crashed',
};
export const RADIO_COLORS: Record<string, string> = { off: '#ececec', joining: '#e4572e', associated: '#17a2b8' };
const RADIO_LABELS: Record<string, string> = { off: 'off', joining: 'joining (listening, ~100 mA)', associated: 'associated' };

/** Words for each failure class the firmware has (firmware/link/classify.ts `Failure`): a new class fails to compile here. */
const FAILURE_WORDS: Readonly<Record<Failure, string>> = {
  wifi: 'Wi-Fi unavailable',
  dns: 'DNS failing',
  tcp: 'broker unreachable (TCP)',
  timeout: 'connect timeouts',
  'tls-network': 'TLS broken by the network',
  credentials: 'credentials rejected',
  clock: 'server certificate not valid at the device clock',
  time: 'no trustworthy time',
  'broker-refused': 'broker refused (CONNACK 3)',
  protocol: 'protocol errors',
  keepalive: 'half-open link (no PINGRESP)',
  'broker-closed': 'broker closed the link',
};

/** Words for a failure class as recorded in an event (the class name when it is not one the firmware knows). */
function failureWords(failure: string): string {
  return (FAILURE_WORDS as Readonly<Record<string, string>>)[failure] ?? failure;
}

// Geometry (SVG user units = CSS px at 100 %).
const W = 1360;
const L = 64;
const R = 176;
const PW = W - L - R;
const LEGEND_H = 18;
const GAP = 12;

const esc = (s: unknown): string => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const fix = (n: number, d = 1): string => (Math.round(n * 10 ** d) / 10 ** d).toString();
const thousands = (n: number): string => n.toLocaleString('en-US');

/** A time for tooltips: 5m00.0s, 1h05m02s, 2d03h04m. */
export function formatTime(ms: number): string {
  if (ms < 1000) return `${fix(ms, 1)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${fix(s, 2)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${(s % 60).toFixed(1).padStart(4, '0')}s`;
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  const two = (n: number) => String(n).padStart(2, '0');
  return d > 0 ? `${d}d${two(h)}h${two(m)}m` : `${h}h${two(m)}m${two(sec)}s`;
}

function formatSpan(ms: number): string {
  return ms < 60_000 ? formatTime(ms) : formatDuration(ms);
}

/** Share of a whole as people read it: 81%, 99.8%, 0.2%, <0.1%. */
export function percent(part: number, whole: number): string {
  const p = (100 * part) / Math.max(1e-9, whole);
  if (p <= 0) return '0%';
  if (p >= 100) return '100%';
  if (p >= 99) return `${Math.min(99.9, Math.floor(p * 10) / 10)}%`;
  if (p >= 10) return `${Math.round(p)}%`;
  if (p >= 0.1) return `${fix(p, 1)}%`;
  return p >= 0.01 ? `${fix(p, 2)}%` : '<0.01%';
}

function formatEnergy(mj: number): string {
  if (mj === 0) return '0';
  if (mj >= 10_000) return `${fix(mj / 1000, 1)} J`;
  if (mj >= 1000) return `${fix(mj / 1000, 2)} J`;
  return `${fix(mj, 1)} mJ`;
}

export function batteryDays(avgMa: number, capacityMah = BATTERY_MAH): number | null {
  return avgMa > 0 ? capacityMah / avgMa / 24 : null;
}

class Svg {
  readonly parts: string[] = [];
  add(s: string): void {
    this.parts.push(s);
  }
  text(x: number, y: number, s: string, attrs = ''): void {
    this.parts.push(`<text x="${fix(x)}" y="${fix(y)}"${attrs ? ` ${attrs}` : ''}>${esc(s)}</text>`);
  }
}

/** Nice tick step for a time axis of `span` ms and at most `maxTicks` ticks. */
function timeStep(span: number, maxTicks: number): number {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800].map((s) => s * 1000);
  return steps.find((s) => span / s <= maxTicks) ?? steps[steps.length - 1];
}

function niceCeil(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

interface Geometry {
  x: (t: number) => number;
  durationMs: number;
}

/** Intervals at least this many pixels wide are drawn as they are; narrower ones are summed per pixel column. */
const WIDE_PX = 3;

/**
 * Bands for merged intervals. An interval at least WIDE_PX wide is one rect;
 * the narrower ones are summed per pixel column, and a column is drawn in the
 * state it spent most time in, with every other state it visited stacked on
 * top (at least 2 px each, so a short connection stays visible in a week).
 * Each rect or column says how many intervals it stands for (`data-intervals`).
 */
function bands(svg: Svg, g: Geometry, intervals: Interval[], y: number, h: number, lane: string, order: readonly string[],
  colors: Record<string, string>, labels: Record<string, string>): void {
  const { x } = g;
  const rank = (s: string) => {
    const i = order.indexOf(s);
    return i < 0 ? order.length : i;
  };
  const tOf = (px: number) => ((px - L) / PW) * g.durationMs;
  interface Column { shares: Map<string, number>; count: number; from: number; to: number }
  const columns = new Map<number, Column>();
  svg.add(`<g class="lane-${lane}">`);
  for (const iv of intervals) {
    const w = x(iv.to) - x(iv.from);
    if (w >= WIDE_PX) {
      svg.add(`<rect class="band" data-state="${esc(iv.state)}" data-intervals="1" x="${fix(x(iv.from), 2)}" y="${y}" width="${fix(w, 2)}" height="${h}" fill="${colors[iv.state] ?? '#999'}">`
        + `<title>${esc(labels[iv.state] ?? iv.state)}: ${esc(formatTime(iv.from))} → ${esc(formatTime(iv.to))} (${esc(formatSpan(iv.to - iv.from))})</title></rect>`);
      continue;
    }
    // Split the interval over the columns it touches (by index, so rounding cannot skip one).
    let c = Math.max(0, Math.min(PW - 1, Math.floor(x(iv.from) - L)));
    let t = iv.from;
    let first = true;
    for (;;) {
      const end = c >= PW - 1 ? iv.to : Math.min(iv.to, Math.max(t, tOf(L + c + 1)));
      let col = columns.get(c);
      if (!col) columns.set(c, col = { shares: new Map(), count: 0, from: t, to: end });
      col.shares.set(iv.state, (col.shares.get(iv.state) ?? 0) + (end - t));
      col.to = Math.max(col.to, end);
      if (first) col.count++;
      first = false;
      if (end >= iv.to) break;
      t = end;
      c++;
    }
  }
  const keys = [...columns.keys()].sort((a, b) => a - b);
  for (const c of keys) {
    const col = columns.get(c)!;
    const entries = [...col.shares.entries()].sort((a, b) => b[1] - a[1]);
    const total = Math.max(1e-9, entries.reduce((t, [, d]) => t + d, 0));
    const [dominant] = entries[0];
    const minority = entries.slice(1).sort((a, b) => rank(a[0]) - rank(b[0]));
    // A lone column gets 2 px so it can be seen.
    const lone = !columns.has(c - 1) && !columns.has(c + 1);
    const cx = L + c - (lone ? 0.5 : 0);
    const cw = lone ? 2 : 1;
    const detail = entries.slice(0, 6).map(([st, d]) => `${labels[st] ?? st} ${formatSpan(d)}`).join(', ');
    svg.add(`<g class="agg" data-intervals="${col.count}"><title>${esc(formatTime(col.from))} → ${esc(formatTime(col.to))}: ${esc(detail)}${entries.length > 6 ? ', …' : ''}</title>`);
    let top = y;
    const heights = minority.map(([, d]) => Math.max(2, (d / total) * h));
    const used = Math.min(h - 2, heights.reduce((a, b) => a + b, 0));
    const scale = used / Math.max(1e-9, heights.reduce((a, b) => a + b, 0));
    minority.forEach(([st], k) => {
      const hh = heights[k] * scale;
      svg.add(`<rect x="${fix(cx, 2)}" y="${fix(top, 2)}" width="${cw}" height="${fix(hh, 2)}" fill="${colors[st] ?? '#999'}"/>`);
      top += hh;
    });
    svg.add(`<rect x="${fix(cx, 2)}" y="${fix(top, 2)}" width="${cw}" height="${fix(y + h - top, 2)}" fill="${colors[dominant] ?? '#999'}"/></g>`);
  }
  svg.add('</g>');
}

function legend(svg: Svg, y: number, title: string, items: { swatch: string; label: string; title?: string }[]): void {
  let x = L;
  svg.add(`<text x="${x}" y="${y + 13}" class="lane-title">${esc(title)}</text>`);
  x += title.length * 7.4 + 18;
  for (const item of items) {
    svg.add(`<g>${item.title ? `<title>${esc(item.title)}</title>` : ''}${item.swatch}`.replaceAll('{x}', fix(x)).replaceAll('{y}', fix(y + 4)));
    svg.text(x + 16, y + 13, item.label, 'class="legend"');
    svg.add('</g>');
    x += 16 + item.label.length * 6.3 + 16;
  }
}

const box = (color: string) => `<rect x="{x}" y="{y}" width="12" height="11" fill="${color}" stroke="#0003"/>`;

/** Points of a step trace reduced to first, min, max, last per pixel column. */
function pixelSteps(trace: { t: number; ma: number }[], x: (t: number) => number): { px: number; ma: number }[] {
  const out: { px: number; ma: number }[] = [];
  let col = Number.NaN;
  let bucket: { px: number; ma: number }[] = [];
  const flush = () => {
    if (!bucket.length) return;
    if (bucket.length <= 4) {
      out.push(...bucket);
    } else {
      let lo = bucket[0], hi = bucket[0];
      for (const p of bucket) {
        if (p.ma < lo.ma) lo = p;
        if (p.ma > hi.ma) hi = p;
      }
      const mid = lo.px <= hi.px ? [lo, hi] : [hi, lo];
      out.push(bucket[0], ...mid, bucket[bucket.length - 1]);
    }
    bucket = [];
  };
  for (const p of trace) {
    const px = x(p.t);
    const c = Math.floor(px);
    if (c !== col) {
      flush();
      col = c;
    }
    bucket.push({ px, ma: p.ma });
  }
  flush();
  return out;
}

/** Average current per pixel column from the energy (which includes bursts: boot, TLS handshake, bytes on air). */
function pixelAverages(trace: { t: number; ma: number; cumulativeMj: number }[], volts: number, t0: number, t1: number, columns: number): number[] {
  const out: number[] = [];
  if (!trace.length) return out;
  let k = 0;
  const energyAt = (t: number) => {
    while (k + 1 < trace.length && trace[k + 1].t <= t) k++;
    const p = trace[k];
    return t < p.t ? p.cumulativeMj : p.cumulativeMj + (p.ma * (t - p.t) * volts) / 1000;
  };
  let prev = energyAt(t0);
  for (let c = 0; c < columns; c++) {
    const tb = t0 + ((c + 1) / columns) * (t1 - t0);
    const e = energyAt(tb);
    const dt = (tb - (t0 + (c / columns) * (t1 - t0))) / 1000;
    out.push(dt > 0 ? (e - prev) / dt / volts : 0);
    prev = e;
  }
  return out;
}

interface Mark {
  t: number;
  title: string;
}

/** Marks within `px` pixels of each other become one, with a count and the first titles. */
function cluster(marks: Mark[], x: (t: number) => number, px: number): { x: number; n: number; title: string }[] {
  const out: { x: number; n: number; titles: string[] }[] = [];
  for (const m of marks) {
    const mx = x(m.t);
    const last = out[out.length - 1];
    if (last && mx - last.x < px) {
      last.n++;
      if (last.titles.length < 8) last.titles.push(m.title);
    } else {
      out.push({ x: mx, n: 1, titles: [m.title] });
    }
  }
  return out.map((c) => ({ x: c.x, n: c.n, title: c.titles.join('\n') + (c.n > c.titles.length ? `\n… and ${c.n - c.titles.length} more` : '') }));
}

function incidentWord(i: Incident): string {
  switch (i.kind) {
    case 'tls.error': return `connection failed (${i.category})`;
    case 'mqtt.closed': return `MQTT session closed (${i.category})`;
    case 'wifi': return i.category === 'WifiLost' ? 'Wi-Fi lost' : 'Wi-Fi join failed';
    case 'time': return 'time sync failed';
    case 'crash': return 'firmware crashed';
    case 'power-cut': return 'power cut';
    case 'configuration-fault': return `configuration fault (${i.category})`;
  }
}

export function renderSvg(result: SimResult, tl: Timeline): string {
  const s = result.summary;
  const durationMs = Math.max(1, tl.durationMs);
  const x = (t: number) => L + (Math.min(Math.max(t, 0), durationMs) / durationMs) * PW;
  const g: Geometry = { x, durationMs };
  const svg = new Svg();
  const profile: EnergyProfile = ENERGY_PROFILES[s.profile as EnergyProfile['name']] ?? ENERGY_PROFILES.esp32;

  let y = 22; // first row: outage labels
  const lanesTop = y;
  const deferred: string[] = [];

  // 1. Link state.
  const shares = timeShares(tl.states);
  const present = LINK_STATES.filter((st) => shares[st]).concat(Object.keys(shares).filter((st) => !(LINK_STATES as readonly string[]).includes(st)) as never[]);
  const pct = (d: number) => percent(d, durationMs);
  legend(svg, y, 'Link state', present.map((st) => ({
    swatch: box(STATE_COLORS[st] ?? '#999'),
    label: `${STATE_LABELS[st] ?? st} ${pct(shares[st])}`,
    title: `${STATE_LABELS[st] ?? st}: ${formatSpan(shares[st])} in total`,
  })));
  y += LEGEND_H;
  bands(svg, g, tl.states, y, 40, 'state', LINK_STATES, STATE_COLORS, STATE_LABELS);
  y += 40 + GAP;

  // 2. Radio.
  const radioShares = timeShares(tl.radio);
  legend(svg, y, 'Radio', RADIO_STATES.filter((st) => radioShares[st] || st === 'off').map((st) => ({
    swatch: box(RADIO_COLORS[st]),
    label: `${RADIO_LABELS[st]} ${pct(radioShares[st] ?? 0)}`,
  })));
  y += LEGEND_H;
  bands(svg, g, tl.radio, y, 22, 'radio', RADIO_STATES, RADIO_COLORS, RADIO_LABELS);
  y += 22 + GAP;

  // 3. Current, log scale.
  const curH = 120;
  const lo = 0.004;
  const maxMa = result.energyTrace.reduce((m, p) => Math.max(m, p.ma), 200);
  const hi = niceCeil(maxMa * 1.3);
  const yOf = (ma: number) => y + LEGEND_H + curH - ((Math.log10(Math.min(hi, Math.max(lo, ma))) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * curH;
  const columns = Math.round(PW);
  // Points at the very end are the simulator tearing the device down, not something it did.
  const running = result.energyTrace.filter((p, k) => k === 0 || p.t < durationMs);
  const steps = pixelSteps(running, x);
  const dense = running.length > 3 * columns;
  // The summary averages over every device; the lane shows one.
  const last = result.energyTrace[result.energyTrace.length - 1];
  const laneAvg = s.devices > 1 && last
    ? (last.cumulativeMj + (last.ma * Math.max(0, durationMs - last.t) * profile.volts) / 1000) / (durationMs / 1000) / profile.volts
    : s.avg_ma;
  legend(svg, y, 'Current (mA, log scale)', [
    { swatch: `<rect x="{x}" y="{y}" width="12" height="3" fill="${dense ? '#d9822b' : '#f5b26b'}" transform="translate(0 4)"/>`, label: 'average over each pixel, with bursts (boot, TLS, bytes on air)' },
    dense
      ? { swatch: '<rect x="{x}" y="{y}" width="12" height="11" fill="#e8a39a"/>', label: 'range within each pixel' }
      : { swatch: '<rect x="{x}" y="{y}" width="12" height="3" fill="#c0392b" transform="translate(0 4)"/>', label: 'current of the power state' },
    { swatch: '<rect x="{x}" y="{y}" width="12" height="1.5" fill="#333" transform="translate(0 5)"/>', label: `${s.devices > 1 ? `device ${tl.device} average` : 'run average'} ${fix(laneAvg, 3)} mA` },
  ]);
  y += LEGEND_H;
  svg.add(`<rect x="${L}" y="${y}" width="${PW}" height="${curH}" fill="none" stroke="#ddd"/>`);
  for (let d = Math.ceil(Math.log10(lo)); d <= Math.log10(hi); d++) {
    const v = 10 ** d;
    const yy = yOf(v);
    svg.add(`<line x1="${L}" x2="${L + PW}" y1="${fix(yy)}" y2="${fix(yy)}" stroke="#e2e2e2"/>`);
    svg.text(L - 6, yy + 4, v >= 1 ? String(v) : String(Number(v.toPrecision(1))), 'class="tick" text-anchor="end"');
  }
  if (dense) {
    // Per pixel column, the range of currents it visited.
    const ranges = new Map<number, [number, number]>();
    let carried = running[0]?.ma ?? 0;
    for (const p of steps) {
      const c = Math.min(columns - 1, Math.floor(p.px - L));
      const r = ranges.get(c) ?? [carried, carried];
      ranges.set(c, [Math.min(r[0], p.ma), Math.max(r[1], p.ma)]);
      carried = p.ma;
    }
    let d = '';
    let prev: [number, number] = [carried, carried];
    for (let c = 0; c < columns; c++) {
      const r = ranges.get(c) ?? [prev[1], prev[1]];
      prev = r;
      d += `M${L + c + 0.5} ${fix(yOf(r[1]) - 0.5)}V${fix(yOf(r[0]) + 0.5)}`;
    }
    svg.add(`<path class="current-range" d="${d}" stroke="#e8a39a" stroke-width="1" fill="none"><title>range of the current within each pixel column (${esc(formatSpan(durationMs / columns))})</title></path>`);
  }
  const averages = pixelAverages(result.energyTrace, profile.volts, 0, durationMs, columns);
  if (averages.length) {
    let d = '';
    averages.forEach((a, c) => {
      const yy = fix(a > 0 ? yOf(a) : y + curH);
      d += `${c ? 'L' : 'M'}${fix(L + c, 1)} ${yy}L${fix(L + c + 1, 1)} ${yy}`;
    });
    svg.add(`<path class="current-average" d="${d}" fill="none" stroke="${dense ? '#d9822b' : '#f5b26b'}" stroke-width="${dense ? 1.6 : 3}" stroke-linejoin="round"><title>average current per pixel column (${esc(formatSpan(durationMs / columns))} each), including the charge of bursts</title></path>`);
  }
  if (steps.length && !dense) {
    let d = `M${fix(steps[0].px, 2)} ${fix(yOf(steps[0].ma))}`;
    for (let k = 1; k < steps.length; k++) d += `H${fix(steps[k].px, 2)}V${fix(yOf(steps[k].ma))}`;
    d += `H${L + PW}`;
    svg.add(`<path class="current" d="${d}" fill="none" stroke="#c0392b" stroke-width="1.2"><title>current drawn in each power state (mA)</title></path>`);
  }
  const avgY = yOf(laneAvg);
  svg.add(`<line class="avg" x1="${L}" x2="${L + PW}" y1="${fix(avgY)}" y2="${fix(avgY)}" stroke="#333" stroke-dasharray="5 4"><title>average over the run: ${esc(fix(laneAvg, 3))} mA</title></line>`);
  // Name the levels the trace actually visits.
  const named: [number, string][] = [
    [profile.deepSleepMa, 'deep sleep'],
    [profile.lightSleepMa, 'awake, radio off'],
    [profile.cpuIdleMa, 'awake, radio off (no light sleep)'],
    [profile.connectedLightSleepMa, 'Wi-Fi connected, idle'],
    [profile.connectedModemSleepMa, 'connected, modem sleep'],
    [profile.rxMa, 'radio listening (join)'],
    [profile.bootMa, 'booting'],
    [profile.cpuMa, 'CPU busy'],
    [profile.txMa, 'radio transmitting'],
  ];
  const visited = new Set(running.map((p) => p.ma));
  let lastLabelY = Infinity;
  for (const [ma, name] of named.filter(([ma]) => visited.has(ma)).sort((a, b) => a[0] - b[0])) {
    let yy = yOf(ma) + 4;
    if (yy > lastLabelY - 12) yy = lastLabelY - 12;
    svg.text(L + PW + 6, yy, `${name} ${ma}`, 'class="level"');
    lastLabelY = yy;
  }
  y += curH + GAP;

  // 4. Cumulative energy.
  const enH = 84;
  const total = result.energyTrace.length ? result.energyTrace[result.energyTrace.length - 1].cumulativeMj : 0;
  const eMax = niceCeil(Math.max(total, 1));
  legend(svg, y, 'Energy used so far', [
    { swatch: '<rect x="{x}" y="{y}" width="12" height="2" fill="#6a3d9a" transform="translate(0 5)"/>', label: `cumulative, ${formatEnergy(total)} at the end` },
  ]);
  y += LEGEND_H;
  svg.add(`<rect x="${L}" y="${y}" width="${PW}" height="${enH}" fill="none" stroke="#ddd"/>`);
  const eY = (mj: number) => y + enH - (mj / eMax) * enH;
  for (const f of [0, 0.5, 1]) {
    const yy = eY(eMax * f);
    svg.add(`<line x1="${L}" x2="${L + PW}" y1="${fix(yy)}" y2="${fix(yy)}" stroke="#e2e2e2"/>`);
    svg.text(L - 6, yy + 4, formatEnergy(eMax * f).replace(' ', '\u2009'), 'class="tick" text-anchor="end"');
  }
  if (result.energyTrace.length) {
    // Energy only grows: per column, the last point is enough (plus the first one).
    const pts: string[] = [];
    let col = Number.NaN;
    const trace = result.energyTrace;
    for (let k = 0; k < trace.length; k++) {
      const c = Math.floor(x(trace[k].t));
      if (c !== col || k === trace.length - 1 || Math.floor(x(trace[k + 1].t)) !== c) {
        pts.push(`${fix(x(trace[k].t), 1)},${fix(eY(trace[k].cumulativeMj))}`);
        col = c;
      }
    }
    const last = trace[trace.length - 1];
    if (last.t < durationMs) pts.push(`${fix(x(durationMs), 1)},${fix(eY(last.cumulativeMj + (last.ma * (durationMs - last.t) * profile.volts) / 1000))}`);
    svg.add(`<polyline class="energy" points="${pts.join(' ')}" fill="none" stroke="#6a3d9a" stroke-width="1.6"><title>cumulative energy (mJ)</title></polyline>`);
    svg.text(L + PW + 6, eY(total) + 4, formatEnergy(total), 'class="level"');
  }
  y += enH + GAP;

  // 5. Deliveries, failures, backoffs.
  const dlH = 92;
  legend(svg, y, 'Deliveries and failures', [
    { swatch: '<rect x="{x}" y="{y}" width="4" height="11" fill="#2e9e4f" transform="translate(4 0)"/>', label: `batch acknowledged (samples) ×${tl.deliveries.length}` },
    { swatch: '<text x="{x}" y="{y}" dx="1" dy="10" fill="#c0392b" font-weight="700">✕</text>', label: `failure ×${tl.failures.length}` },
    { swatch: '<text x="{x}" y="{y}" dx="1" dy="10" fill="#c98600">▼</text>', label: `backoff ×${tl.backoffs.length}` },
  ]);
  y += LEGEND_H;
  svg.add(`<rect x="${L}" y="${y}" width="${PW}" height="${dlH}" fill="none" stroke="#ddd"/>`);
  const base = y + 52;
  svg.add(`<line x1="${L}" x2="${L + PW}" y1="${base}" y2="${base}" stroke="#bbb"/>`);
  svg.text(L - 6, y + 30, 'acked', 'class="tick" text-anchor="end"');
  svg.text(L - 6, base + 17, 'failed', 'class="tick" text-anchor="end"');
  svg.text(L - 6, base + 33, 'backoff', 'class="tick" text-anchor="end"');
  // Deliveries: one bar per batch, height by sample count; batches closer than a few pixels add up.
  const dClusters: { x: number; count: number; n: number; titles: string[]; dropped: number }[] = [];
  for (const d of tl.deliveries) {
    const dx = x(d.t);
    const last = dClusters[dClusters.length - 1];
    const title = `${formatTime(d.t)}: ${d.count} sample(s) acknowledged (seq ${d.first}–${d.last})${d.dropped ? `, ${d.dropped} dropped reported` : ''}`;
    if (last && dx - last.x < 2) {
      last.count += d.count;
      last.n++;
      last.dropped += d.dropped;
      if (last.titles.length < 8) last.titles.push(title);
    } else {
      dClusters.push({ x: dx, count: d.count, n: 1, titles: [title], dropped: d.dropped });
    }
  }
  const maxCount = Math.max(1, ...dClusters.map((c) => c.count));
  let lastLabelX = -Infinity;
  svg.add('<g class="lane-deliveries">');
  dClusters.forEach((c, k) => {
    const bh = 5 + (Math.sqrt(c.count) / Math.sqrt(maxCount)) * 30;
    const nextX = dClusters[k + 1]?.x ?? Infinity;
    const label = String(c.count);
    const room = Math.min(c.x - lastLabelX, nextX - c.x) >= label.length * 6 + 4;
    const title = c.titles.join('\n') + (c.n > c.titles.length ? `\n… and ${c.n - c.titles.length} more batches` : '');
    svg.add(`<g class="delivery" data-count="${c.count}" data-batches="${c.n}"><title>${esc(title)}</title>`
      + `<rect x="${fix(c.x - 1, 2)}" y="${fix(base - bh)}" width="2" height="${fix(bh)}" fill="${c.dropped ? '#b3261e' : '#2e9e4f'}"/>`
      + (room ? `<text x="${fix(c.x)}" y="${fix(base - bh - 3)}" class="count" text-anchor="middle">${label}</text>` : '')
      + '</g>');
    if (room) lastLabelX = c.x;
  });
  svg.add('</g>');
  svg.add('<g class="lane-failures">');
  for (const c of cluster(tl.failures.map((f) => ({ t: f.t, title: `${formatTime(f.t)}: ${incidentWord(f)}${f.message ? ` — ${f.message.slice(0, 200)}` : ''}` })), x, 12)) {
    svg.add(`<g class="failure" data-n="${c.n}"><title>${esc(c.title)}</title><text x="${fix(c.x)}" y="${base + 17}" text-anchor="middle" fill="#c0392b" font-weight="700" font-size="12">✕</text>`
      + (c.n > 1 ? `<text x="${fix(c.x + 5)}" y="${base + 12}" class="small" fill="#c0392b">${c.n}</text>` : '') + '</g>');
  }
  svg.add('</g><g class="lane-backoffs">');
  for (const c of cluster(tl.backoffs.map((b) => ({ t: b.t, title: `${formatTime(b.t)}: backoff ${formatSpan(b.delayMs)} (attempt ${b.attempt}, ${b.failure}, ${b.schedule} schedule)` })), x, 12)) {
    svg.add(`<g class="backoff" data-n="${c.n}"><title>${esc(c.title)}</title><text x="${fix(c.x)}" y="${base + 33}" text-anchor="middle" fill="#c98600" font-size="10">▼</text>`
      + (c.n > 1 ? `<text x="${fix(c.x + 5)}" y="${base + 28}" class="small" fill="#a06b00">${c.n}</text>` : '') + '</g>');
  }
  svg.add('</g>');
  y += dlH;
  const lanesBottom = y;

  // Outages, inferred from failures: shaded behind every lane, outlined and labelled on top.
  const background: string[] = [];
  tl.outages.forEach((o, k) => {
    const x0 = x(o.from);
    const x1 = Math.max(x0 + 2, x(o.to));
    const causes = Object.entries(o.failures).sort((a, b) => b[1] - a[1]);
    const words = causes.map(([f, n]) => `${failureWords(f)} ×${n}`).join(', ');
    const head = `${o.recovered ? 'link down' : 'no link to the end'} ${formatSpan(o.to - o.from)}`;
    const title = `<title>${esc(`${head} (${formatTime(o.from)} → ${formatTime(o.to)}), inferred from ${o.attempts} failed attempt(s): ${words}`)}</title>`;
    const rect = `x="${fix(x0, 2)}" y="${lanesTop}" width="${fix(x1 - x0, 2)}" height="${lanesBottom - lanesTop}"`;
    background.push(`<rect class="outage" ${rect} fill="#d62728" fill-opacity="0.08">${title}</rect>`);
    deferred.push(`<rect ${rect} fill="none" stroke="#d62728" stroke-opacity="0.55" stroke-dasharray="3 3"/>`);
    const room = (tl.outages[k + 1] ? x(tl.outages[k + 1].from) : W) - x0 - 6;
    const main = causes[0] ? failureWords(causes[0][0]) : '';
    const label = [`${head}: ${main}`, head, 'down'].find((l) => l.length * 6.3 <= room);
    if (label) deferred.push(`<text x="${fix(x0 + 1)}" y="${lanesTop - 6}" class="outage-label">${title}${esc(label)}</text>`);
  });

  // Time axis, with a light grid through every lane.
  const step = timeStep(durationMs, 14);
  const axisY = y + 4;
  for (let t = 0; t <= durationMs + 1e-6; t += step) {
    const xx = x(t);
    svg.add(`<line x1="${fix(xx)}" x2="${fix(xx)}" y1="${lanesTop}" y2="${axisY + 4}" stroke="#0000001a"/>`);
    svg.text(xx, axisY + 17, t === 0 ? '0' : formatDuration(t), 'class="tick" text-anchor="middle"');
  }
  svg.text(L + PW / 2, axisY + 34, `time since the start of the run (simulated; ${formatDuration(step)} per tick)`, 'class="axis-title" text-anchor="middle"');
  const height = axisY + 42;

  return `<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 ${W} ${height}" width="${W}" height="${height}" role="img" aria-label="timeline of device ${tl.device}">`
    + '<style>text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;fill:#222}.lane-title{font-weight:600;font-size:13px}.legend{font-size:11.5px;fill:#333}'
    + '.tick{font-size:11px;fill:#555}.level{font-size:10.5px;fill:#555}.count{font-size:10px;fill:#1d6b34}.small{font-size:9px}.axis-title{font-size:11.5px;fill:#555}'
    + '.outage-label{font-size:11px;fill:#b3261e;font-weight:600}</style>'
    + background.join('') + svg.parts.join('') + deferred.join('') + '</svg>';
}

/** Plain sentences that say what the timeline shows. */
export function narrative(s: SimSummary, tl: Timeline, events: RecordedEvent[] = []): string[] {
  const lines: string[] = [];
  const wakes = events.filter((e) => e.device === tl.device && e.event === EVENTS.deviceBoot && e.fields?.reason === 'deep-sleep').map((e) => e.t);
  const p = tl.policy;
  const shares = timeShares(tl.states);
  const share = (...st: string[]) => percent(st.reduce((t, k) => t + (shares[k] ?? 0), 0), tl.durationMs);
  const connecting = ['Boot', 'WifiJoin', 'TimeSync', 'TlsConnect', 'MqttConnect'];
  if (p?.mode === 'duty') {
    lines.push(`Duty-cycled: the device sleeps between samples and connects only to upload${p.uploadIntervalMs ? ` (every ${formatDuration(p.uploadIntervalMs)})` : ''}; `
      + `asleep ${share('Sleep')} of the time, connecting ${share(...connecting)}, online ${share('Online')}${shares.Backoff ? `, in backoff ${share('Backoff')}` : ''}.`);
    if (wakes.length > 1) {
      const gaps = wakes.slice(1).map((t, k) => t - wakes[k]).sort((a, b) => a - b);
      lines.push(`It woke from deep sleep ${thousands(wakes.length)} times (typically every ${formatSpan(gaps[gaps.length >> 1])}) to take a sample; `
        + `it connected ${thousands(s.connects)} time(s) to upload (${s.tls_handshakes} TLS handshakes). Each wake-up is a spike in the current lane and a small step in the energy lane.`);
    }
  } else if (p) {
    lines.push(`Always connected: online ${share('Online')} of the time, connecting ${share(...connecting)}, in backoff ${share('Backoff')}.`);
  }
  if (!tl.outages.length) lines.push('No connection failed.');
  const shown = tl.outages.length > 5 ? 3 : tl.outages.length;
  for (const o of tl.outages.slice(0, shown)) {
    const causes = Object.entries(o.failures).sort((a, b) => b[1] - a[1]).map(([f, n]) => `${failureWords(f)} ×${n}`).join(', ');
    lines.push(o.recovered
      ? `Link down from ${formatTime(o.from)} for ${formatSpan(o.to - o.from)} (${causes}); online again at ${formatTime(o.to)} after ${o.attempts} failed attempt(s).`
      : `No link from ${formatTime(o.from)} to the end of the run (${causes}; ${o.attempts} failed attempt(s)).`);
  }
  if (tl.outages.length > shown) {
    const rest = tl.outages.slice(shown);
    const down = rest.reduce((t, o) => t + o.to - o.from, 0);
    lines.push(`… and ${rest.length} more outages, ${formatSpan(down)} in all (hover over the red areas for each).`);
  }
  const acked = tl.deliveries.reduce((t, d) => t + d.count, 0);
  const tail = [
    s.samples_pending ? `${s.samples_pending} still queued at the end` : 'none left queued',
    s.samples_lost ? `${s.samples_lost} LOST` : s.samples_lost === 0 ? 'none lost' : '',
    s.duplicates ? `${s.duplicates} delivered twice (QoS 1 resend)` : '',
  ].filter(Boolean).join(', ');
  lines.push(`${s.samples_generated} samples taken; the broker acknowledged ${acked} in ${tl.deliveries.length} batch(es); ${tail}.`);
  for (const f of s.configuration_faults) lines.push(`Configuration fault reported: ${f}`);
  return lines;
}

export function renderHtml(result: SimResult, tl: Timeline, options: HtmlOptions = {}): string {
  const s = result.summary;
  const title = options.title ?? `fieldlink simulator: ${s.scenario}`;
  const p = tl.policy;
  const days = batteryDays(s.avg_ma);
  const na = (v: number | null) => (v === null ? 'n/a' : thousands(v));
  const failures = Object.entries(s.tls_failures).map(([k, v]) => `${k} ×${v}`).join(', ');
  const card = (label: string, value: string, sub = '', cls = '') =>
    `<div class="card${cls ? ` ${cls}` : ''}"><div class="label">${esc(label)}</div><div class="value">${esc(value)}</div>${sub ? `<div class="sub">${esc(sub)}</div>` : ''}</div>`;
  const cards = [
    card(`Average current${s.devices > 1 ? ' (per device)' : ''}`, `${fix(s.avg_ma, 3)} mA`, `${s.profile}, ${formatSpan(s.radio_on_ms)} radio on`),
    card(`Energy${s.devices > 1 ? ` (${s.devices} devices)` : ''}`, formatEnergy(s.energy_mj), `${thousands(s.energy_mj)} mJ`),
    card(`Battery (${BATTERY_MAH} mAh)`, days === null ? 'n/a' : `${days >= 100 ? Math.round(days) : fix(days, 1)} days`, `${BATTERY_MAH} / avg mA / 24`),
    card('TLS handshakes', `${s.tls_handshakes - s.tls_resumed} full, ${s.tls_resumed} resumed`, failures ? `failed: ${failures}` : 'no failures', failures ? 'warn' : ''),
    card('Samples', `${na(s.samples_delivered)} / ${thousands(s.samples_generated)}`, `delivered / generated; ${s.samples_pending} pending`),
    card('Lost', na(s.samples_lost), `${na(s.duplicates)} duplicate(s), ${s.samples_dropped} dropped by the queue`, s.samples_lost ? 'bad' : ''),
    card('Configuration faults', String(s.configuration_faults.length), s.configuration_faults.length ? 'see below' : 'none', s.configuration_faults.length ? 'bad' : ''),
  ].join('');
  const policy = p
    ? `<b>${esc(p.mode === 'duty' ? 'duty-cycled' : p.mode === 'always' ? 'always connected' : p.mode)}</b>`
      + `${p.configured ? ` (configured: ${esc(p.configured)})` : ''}${p.why ? ` — ${esc(p.why)}` : ''}`
      + (p.alwaysMa !== undefined && p.dutyMa !== undefined
        ? `; estimated always-connected ${esc(fix(p.alwaysMa, 3))} mA vs duty-cycled ${esc(fix(p.dutyMa, 3))} mA${p.breakEvenMs ? `, break-even upload interval ${esc(formatSpan(p.breakEvenMs))}` : ''}`
        : '')
    : 'not reported';
  const devices = s.devices > 1 ? ` · the timeline shows device ${tl.device} of ${s.devices}` : '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:16px 20px;color:#222;background:#fff}
h1{font-size:20px;margin:0 0 2px}
.desc{color:#444;margin:0 0 6px;font-size:14px}
.meta,.policy{font-size:13px;color:#333;margin:2px 0}
.cards{display:flex;flex-wrap:wrap;gap:8px;margin:10px 0 8px}
.card{border:1px solid #ddd;border-radius:6px;padding:6px 10px;min-width:140px;background:#fbfbfb}
.card .label{font-size:11.5px;color:#555}.card .value{font-size:19px;font-weight:600}.card .sub{font-size:11px;color:#666}
.card.warn{border-color:#f0a202;background:#fff8e6}.card.bad{border-color:#d62728;background:#fdeeee}
ul.story{margin:4px 0 8px;padding-left:20px;font-size:13px}ul.story li{margin:1px 0}
.note{font-size:11.5px;color:#666;margin-top:4px}
svg.timeline{display:block;max-width:100%;height:auto}
</style>
</head>
<body>
<h1>${esc(title)}</h1>
${options.description ? `<p class="desc">${esc(options.description)}</p>` : ''}
<p class="meta">Scenario <b>${esc(s.scenario)}</b> · ${esc(formatDuration(s.simulated_ms))} simulated in ${esc(fix(s.wall_ms / 1000, 1))} s · engine <b>${esc(s.engine)}</b> · seed ${esc(s.seed)} · ${esc(s.devices)} device(s), ${esc(thousands(s.boots))} boot(s), ${esc(s.connects)} connect(s)${esc(devices)}</p>
<p class="policy">Power policy: ${policy}</p>
<div class="cards">${cards}</div>
<ul class="story">${narrative(s, tl, result.events).map((l) => `<li>${esc(l)}</li>`).join('')}</ul>
${renderSvg(result, tl)}
<p class="note">Hover over a band or a marker for details. Bands narrower than a pixel are drawn as one column whose colours are stacked by time share. Outages (red dashed) are inferred from the device's failures: they start at the first failure the device saw, not when the fault began. Energy and current are the simulator's model (${esc(s.profile)} profile); report.json holds the same timeline as data.</p>
</body>
</html>
`;
}
