import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSimulation, type SimResult } from '../../sim';
import { loadScenario } from '../../scenarios/scenario';
import { writeReport, type ReportJson } from '../../report/report';
import { buildTimeline, downsampleSteps, MAX_ENERGY_POINTS, type Interval } from '../../report/timeline';
import { renderHtml } from '../../report/html';
import type { RecordedEvent } from '../../device/host';

interface Run {
  result: SimResult;
  html: string;
  json: ReportJson;
  paths: { html: string; json: string };
}

async function run(name: string, durationMs?: number): Promise<Run> {
  const result = await runSimulation({ engine: 'node', scenario: loadScenario(name), seed: 1, durationMs });
  const dir = mkdtempSync(join(tmpdir(), `report-${name}-`));
  const paths = writeReport(result, { dir, description: `scenario ${name}` });
  return { result, paths, html: readFileSync(paths.html, 'utf8'), json: JSON.parse(readFileSync(paths.json, 'utf8')) };
}

/** The `<g class="lane-NAME">…</g>` group of the timeline (lanes hold no nested lane groups). */
function lane(html: string, name: string): string {
  const start = html.indexOf(`<g class="lane-${name}">`);
  assert.ok(start >= 0, `lane ${name} is drawn`);
  let depth = 0;
  const re = /<g[\s>]|<\/g>/g;
  re.lastIndex = start;
  for (let m = re.exec(html); m; m = re.exec(html)) {
    depth += m[0] === '</g>' ? -1 : 1;
    if (depth === 0) return html.slice(start, m.index + 4);
  }
  throw new Error(`lane ${name} is not closed`);
}

const sumAttr = (fragment: string, attr: string) => [...fragment.matchAll(new RegExp(`${attr}="(\\d+)"`, 'g'))].reduce((t, m) => t + Number(m[1]), 0);

/** The link states device 0 went through, from its transitions only: same instant keeps the last, repeats merge. */
function mergedTransitions(events: RecordedEvent[]): string[] {
  const points: { t: number; state: string }[] = [];
  for (const e of events) {
    if (e.device !== 0) continue;
    const state = e.event === 'device.boot' ? 'Boot' : e.event === 'link.transition' ? String(e.fields?.to) : undefined;
    if (state === undefined) continue;
    if (points.length && points[points.length - 1].t === e.t) points[points.length - 1].state = state;
    else points.push({ t: e.t, state });
  }
  const states: string[] = [];
  for (const p of points) if (states[states.length - 1] !== p.state) states.push(p.state);
  return states;
}

function assertContiguous(intervals: Interval[], durationMs: number): void {
  assert.ok(intervals.length > 0);
  assert.equal(intervals[0].from, 0);
  assert.equal(intervals[intervals.length - 1].to, durationMs);
  for (let i = 0; i < intervals.length; i++) {
    assert.ok(intervals[i].from < intervals[i].to, `interval ${i} is not empty`);
    if (i > 0) {
      assert.equal(intervals[i].from, intervals[i - 1].to, `interval ${i} starts where ${i - 1} ends`);
      assert.notEqual(intervals[i].state, intervals[i - 1].state, `intervals ${i - 1} and ${i} are merged`);
    }
  }
}

function assertSelfContained(html: string): void {
  assert.doesNotMatch(html, /\b(src|href)\s*=\s*["']?\s*(https?:)?\/\//i, 'nothing is fetched');
  assert.doesNotMatch(html, /<script|<link\b|@import|url\(/i, 'no scripts, stylesheets or fonts');
}

describe('report of broker-outage (always connected, node engine)', () => {
  let r: Run;
  before(async () => {
    r = await run('broker-outage');
  });

  test('report.json parses and carries the summary and a compact timeline', () => {
    assert.deepEqual(r.json.summary, r.result.summary);
    const tl = r.json.timeline;
    assert.equal(tl.durationMs, r.result.summary.simulated_ms);
    assert.equal(tl.policy?.mode, 'always');
    assert.ok(tl.energy.length <= MAX_ENERGY_POINTS);
    assert.equal(r.json.derived.battery_days, Math.round((2500 / r.result.summary.avg_ma / 24) * 10) / 10);
    assertContiguous(tl.states, tl.durationMs);
    assertContiguous(tl.radio, tl.durationMs);
    assert.deepEqual(tl.states.map((i) => i.state), mergedTransitions(r.result.events), 'one state interval per merged transition');
    const radioOn = tl.radio.filter((i) => i.state !== 'off').reduce((t, i) => t + i.to - i.from, 0);
    assert.ok(Math.abs(radioOn - r.result.summary.radio_on_ms) < 50, `radio on ${radioOn} ms vs the meter's ${r.result.summary.radio_on_ms} ms`);
  });

  test('the outage is inferred from the failures: one, from 5 min until the device is back online', () => {
    const [outage, ...more] = r.json.timeline.outages;
    assert.equal(more.length, 0);
    assert.ok(outage.recovered);
    assert.ok(outage.from >= 300_000 && outage.from < 302_000, `starts at the first failure (${outage.from})`);
    const backOnline = r.result.events.find((e) => e.event === 'mqtt.connected' && e.t > 300_000)!;
    assert.equal(outage.to, Math.round(backOnline.t * 10) / 10);
    assert.equal(outage.attempts, r.result.events.filter((e) => e.event === 'link.backoff').length);
    assert.ok((outage.failures.tcp ?? 0) >= 5);
  });

  test('the page has an SVG with a lane for link state, radio, current, energy and deliveries', () => {
    assert.equal((r.html.match(/<svg\b/g) ?? []).length, 1);
    for (const title of ['Link state', 'Radio', 'Current (mA, log scale)', 'Energy used so far', 'Deliveries and failures']) {
      assert.ok(r.html.includes(`class="lane-title">${title}<`), `lane title ${title}`);
    }
    // Every state interval is drawn (a band, or part of a column of narrower ones).
    assert.equal(sumAttr(lane(r.html, 'state'), 'data-intervals'), r.json.timeline.states.length);
    assert.equal(sumAttr(lane(r.html, 'radio'), 'data-intervals'), r.json.timeline.radio.length);
    for (const state of ['Online', 'Backoff']) assert.match(lane(r.html, 'state'), new RegExp(`data-state="${state}"`));
    assert.match(r.html, /<path class="current" d="M/);
    assert.match(r.html, /<polyline class="energy" points="/);
    const acked = r.result.events.filter((e) => e.event === 'telemetry.acked' && e.device === 0);
    const deliveries = lane(r.html, 'deliveries');
    assert.equal(sumAttr(deliveries, 'data-batches'), acked.length);
    assert.equal(sumAttr(deliveries, 'data-count'), acked.reduce((t, e) => t + Number(e.fields?.count), 0));
    assert.equal(sumAttr(lane(r.html, 'backoffs'), 'data-n'), r.result.events.filter((e) => e.event === 'link.backoff').length);
    assert.equal(sumAttr(lane(r.html, 'failures'), 'data-n'), r.json.timeline.failures.length);
    // The scenario's own bound: the backoff allows 5 to 14 attempts in the outage (test-sim/test/scenarios/broker-outage.test.ts).
    assert.ok(r.json.timeline.failures.length >= 5, `${r.json.timeline.failures.length} failures drawn`);
    assert.match(r.html, /class="outage"/);
    // A 10-minute outage, and back within the backoff step that spans the broker's return (at most 5 minutes).
    assert.match(r.html, /link down 1[0-5]m/);
  });

  test('the header shows the run and its key numbers', () => {
    const s = r.result.summary;
    const card = (label: string, value: string) => assert.ok(r.html.includes(`${label}</div><div class="value">${value}</div>`), `${label}: ${value}`);
    card('Average current', `${s.avg_ma} mA`);
    card('Energy', `${Math.round(s.energy_mj / 100) / 10} J`);
    card('Battery (2500 mAh)', `${Math.round((2500 / s.avg_ma / 24) * 10) / 10} days`);
    card('TLS handshakes', `${s.tls_handshakes - s.tls_resumed} full, ${s.tls_resumed} resumed`);
    card('Samples', `${s.samples_delivered} / ${s.samples_generated}`);
    card('Lost', String(s.samples_lost));
    card('Configuration faults', '0');
    assert.ok(r.html.includes(`${s.samples_pending} pending`));
    assert.ok(r.html.includes(`${s.duplicates} duplicate(s)`));
    assert.match(r.html, /Scenario <b>broker-outage<\/b> · 1h simulated/);
    assert.match(r.html, /engine <b>node<\/b> · seed 1/);
    assert.match(r.html, /Power policy: <b>always connected<\/b> \(configured: always\) — set by configuration/);
  });

  test('the page is self-contained', () => assertSelfContained(r.html));
});

describe('report of the default scenario for 2 hours (duty-cycled, node engine)', () => {
  let r: Run;
  before(async () => {
    r = await run('default', 2 * 3_600_000);
  });

  test('deep sleep is one Sleep band between uploads, across the wake-ups that only take a sample', () => {
    const tl = r.json.timeline;
    assert.equal(tl.policy?.mode, 'duty');
    assertContiguous(tl.states, tl.durationMs);
    const sleeps = tl.states.filter((i) => i.state === 'Sleep');
    const uploads = r.result.events.filter((e) => e.event === 'telemetry.acked' && e.device === 0);
    assert.equal(sleeps.length, uploads.length, 'one sleep after each upload');
    assert.ok(sleeps.slice(0, -1).every((i) => i.to - i.from > 800_000), 'each lasts until the next upload');
    assert.ok(tl.energy.some((p) => p.ma <= 0.011), 'deep sleep current is in the trace');
    assert.deepEqual(r.json.summary, r.result.summary);
  });

  test('the page shows the policy, the wake-ups, and every band and delivery', () => {
    assert.match(r.html, /Power policy: <b>duty-cycled<\/b> \(configured: auto\)/);
    assert.match(r.html, /It woke from deep sleep 1\d\d times \(typically every 1m\)/);
    assert.equal(sumAttr(lane(r.html, 'state'), 'data-intervals'), r.json.timeline.states.length);
    assert.equal(sumAttr(lane(r.html, 'deliveries'), 'data-batches'), r.json.timeline.deliveries.length);
    assert.match(r.html, /deep sleep 0\.01/);
    assertSelfContained(r.html);
  });
});

test('a long run stays drawable: intervals narrower than a pixel are summed per pixel column', () => {
  // A synthetic week: a 3 s connection every 15 minutes, asleep in between.
  const events: RecordedEvent[] = [{ t: 0, device: 0, event: 'device.boot', fields: { reason: 'power-on' } }];
  const trace: SimResult['energyTrace'] = [];
  const week = 7 * 86_400_000;
  let mj = 0;
  for (let t = 0; t < week; t += 900_000) {
    const go = (dt: number, from: string, to: string) => events.push({ t: t + dt, device: 0, event: 'link.transition', fields: { from, event: 'x', to } });
    go(0.5, 'Sleep', 'WifiJoin');
    go(200, 'WifiJoin', 'TlsConnect');
    go(2000, 'TlsConnect', 'MqttConnect');
    go(2030, 'MqttConnect', 'Online');
    events.push({ t: t + 2031, device: 0, event: 'telemetry.acked', fields: { first: 1, last: 15, count: 15, dropped: 0 } });
    go(2032, 'Online', 'Sleep');
    trace.push({ t, ma: 100, cumulativeMj: mj }, { t: t + 2032, ma: 0.01, cumulativeMj: (mj += 700) });
  }
  const summary = { simulated_ms: week, scenario: 'synthetic', engine: 'node', seed: 1, devices: 1, profile: 'esp32', avg_ma: 0.5, energy_mj: mj,
    tls_failures: {}, configuration_faults: [], samples_generated: 10080, samples_delivered: 10080, samples_lost: 0, duplicates: 0, samples_pending: 0,
    samples_dropped: 0, tls_handshakes: 672, connects: 672, boots: 1, radio_on_ms: 0, wall_ms: 1 } as unknown as SimResult['summary'];
  const result: SimResult = { summary, events, connectTimes: [], energyTrace: trace };
  const tl = buildTimeline(result);
  assert.equal(tl.states.length, 1 + 672 * 5, 'Boot, then five states per connection');
  const html = renderHtml(result, tl);
  const states = lane(html, 'state');
  assert.equal(sumAttr(states, 'data-intervals'), tl.states.length);
  const rects = (states.match(/<rect/g) ?? []).length;
  assert.ok(rects < 6 * 1200, `${rects} rects for ${tl.states.length} intervals`);
  assert.ok(html.length < 2_000_000, `${html.length} bytes`);
  assert.equal(sumAttr(lane(html, 'deliveries'), 'data-batches'), 672);
  assertSelfContained(html);
});

test('downsampling the energy trace keeps its first and last point, every peak and every dip', () => {
  const trace = Array.from({ length: 100_000 }, (_, i) => ({ t: i * 10, ma: i % 997 === 0 ? 180 : i % 1001 === 0 ? 0.01 : 2.33, mj: i }));
  const kept = downsampleSteps(trace, 4000);
  assert.ok(kept.length <= 4000, `${kept.length} points`);
  assert.equal(kept[0], trace[0]);
  assert.equal(kept[kept.length - 1], trace[trace.length - 1]);
  const count = (points: { ma: number }[], ma: number) => points.filter((p) => p.ma === ma).length;
  assert.equal(count(kept, 180), count(trace, 180), 'every peak survives');
  assert.equal(count(kept, 0.01), count(trace, 0.01), 'every dip survives');
  for (let i = 1; i < kept.length; i++) assert.ok(kept[i].t > kept[i - 1].t);
  assert.equal(downsampleSteps(trace.slice(0, 10), 4000).length, 10);
});
