/**
 * `lower_bound` is computed from physics, not from a policy: it imports no
 * firmware policy, it never exceeds what staying connected or waking per upload
 * would cost, outages only lower it (no attempt is wasted), and a longer
 * allowed latency never raises it. The sweep page draws one line per policy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lowerBound, outages } from '../../../tools/bench/lower-bound';
import { benchHtml } from '../../../tools/bench/html';
import type { PolicyBench } from '../../../tools/bench/policies';
import { chipCosts } from '../../energy/costs';
import type { Fault } from '../../scenarios/scenario';

const DAY = 86_400_000;
const base = { durationMs: 7 * DAY, sampleIntervalMs: 60_000, uploadIntervalMs: 900_000, faults: [] as Fault[], costs: chipCosts('esp32'), topicBytes: 32, clientIdBytes: 11 };

test('the lower bound imports no policy: only the cost table, the scenario types and the HAL types', () => {
  const source = readFileSync(join(import.meta.dirname, '../../../tools/bench/lower-bound.ts'), 'utf8');
  const imports = [...source.matchAll(/from '([^']+)'/g)].map((m) => m[1]);
  assert.deepEqual(imports.sort(), ['../../test-sim/energy/costs', '../../test-sim/scenarios/scenario'].sort());
});

test('a longer allowed latency never raises the bound; outages never raise it', () => {
  let last = Infinity;
  for (const minutes of [1, 5, 15, 60, 240]) {
    const b = lowerBound({ ...base, uploadIntervalMs: minutes * 60_000 });
    assert.ok(b.energy_mj <= last + 1e-9, `${minutes} min: ${b.energy_mj} <= ${last}`);
    last = b.energy_mj;
  }
  const calm = lowerBound(base);
  const outage = lowerBound({ ...base, faults: [{ kind: 'broker-down', atMs: DAY, forMs: 3 * DAY }] });
  assert.ok(outage.energy_mj <= calm.energy_mj);
  assert.equal(outage.samples, calm.samples, 'every sample is delivered either way');
});

test('outages merge overlapping faults of every kind that cuts the broker off', () => {
  const merged = outages([
    { kind: 'wifi-down', atMs: 0, forMs: 10 },
    { kind: 'blackhole', atMs: 5, forMs: 10 },
    { kind: 'power-cut', atMs: 100, forMs: 10 },
    { kind: 'dns-down', atMs: 200, forMs: 10 },
  ], 1000);
  assert.deepEqual(merged, [[0, 15], [200, 210]]);
});

test('bench.html draws the sweep: battery days and latency, a line per policy and the lower bound', () => {
  const spread = (v: number) => ({ min: v, median: v, max: v });
  const point = (policy: string, s: number, u: number) => ({
    policy, sample_interval_s: s, upload_interval_min: u, energy_per_delivered_sample_mj: 100, avg_ma: 0.5, battery_days: 200 / u + s,
    latency_p50_s: u * 30, latency_p95_s: u * 60, samples_lost: 0, lower_bound_mj: 10, lower_bound_battery_days: 900,
  });
  const sweep = ['adaptive', 'esp-mqtt'].flatMap((p) => [10, 60, 600].flatMap((s) => [1, 15, 60, 240].map((u) => point(p, s, u))));
  const bench = {
    days: 1, seeds: [], rows: [], sweep, sweep_policies: ['adaptive', 'esp-mqtt'], sweep_days: 1,
    lower_bound: { what: 'physics', metrics: { energy_per_delivered_sample_mj: spread(10), avg_ma: spread(0.1), bytes_on_air_per_day: spread(1000), battery_days: spread(900) }, strategy: ['duty'] },
  } as unknown as PolicyBench;
  const html = benchHtml(bench, { seeds: [1], days: 1 });
  assert.equal((html.match(/<svg /g) ?? []).length, 6, 'battery days and latency for each of 3 sample intervals');
  // Battery charts: 2 policies + the bound; latency charts: p50 and p95 of 2 policies.
  assert.equal((html.match(/<polyline /g) ?? []).length, 3 * 3 + 3 * 4);
  assert.doesNotMatch(html, /<script/);
});
