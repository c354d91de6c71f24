/**
 * The policy comparison of `npm run bench`: every row of tools/bench/rows.ts
 * over the same seeded traces (test-sim/scenarios/trace.ts `benchTrace`: Wi-Fi
 * drops, broker outages and refusals, blackholes, DNS failures, power cuts and
 * one outage of three days), each metric as min/median/max over the seeds,
 * next to `lower_bound` (tools/bench/lower-bound.ts) and a sweep of sample and
 * upload intervals.
 *
 * Runs use the Node engine (the same firmware; XS's cost per event comes from
 * the calibration in test-sim/energy/costs.ts) and the in-process model broker,
 * so every figure is deterministic for a seed. The tests run the same firmware
 * in XS against real TLS and real brokers.
 */
import { DEFAULTS } from '../../firmware/app/config';
import type { Category } from '../../test-sim/energy/meter';
import { runJobs } from './pool';
import { ROWS } from './rows';
import { batteryDays as batteryDaysOf, DAY, type BandFigures, type Job, type RunMetrics, type RunResult } from './run';
import type { LowerBound } from './lower-bound';

export interface Spread {
  min: number | null;
  median: number | null;
  max: number | null;
}

export type SpreadOf<T> = { [K in keyof T]: Spread };

export interface RowSummary {
  policy: string;
  recreates: string;
  sources: string[];
  platform: string;
  /** For a row that stops delivering: what happened instead of a mJ figure. */
  status: string | null;
  metrics: SpreadOf<RunMetrics>;
  energy_by_category_mj: SpreadOf<Record<Category, number>>;
  bands: { pessimistic: SpreadOf<BandFigures>; optimistic: SpreadOf<BandFigures> };
}

export interface SeedSummary {
  seed: number;
  faults: number;
  rows: { policy: string; metrics: RunMetrics; energy_by_category_mj: Record<Category, number>; bands: RunResult['bands'] }[];
  lower_bound: LowerBound;
}

export interface SweepPoint {
  policy: string;
  sample_interval_s: number;
  upload_interval_min: number;
  energy_per_delivered_sample_mj: number | null;
  avg_ma: number;
  battery_days: number;
  latency_p50_s: number | null;
  latency_p95_s: number | null;
  samples_lost: number;
  lower_bound_mj: number;
  lower_bound_battery_days: number;
}

export interface PolicyBench {
  days: number;
  seeds: SeedSummary[];
  rows: RowSummary[];
  lower_bound: { what: string; metrics: SpreadOf<Pick<LowerBound, 'energy_per_delivered_sample_mj' | 'avg_ma' | 'bytes_on_air_per_day'>> & { battery_days: Spread }; strategy: string[] };
  sweep: SweepPoint[];
  sweep_policies: string[];
  sweep_days: number;
}

export interface PolicyBenchOptions {
  seeds: number[];
  days: number;
  /** Worker processes. */
  jobs: number;
  /** Run the interval sweep (adaptive and the two best anchors). */
  sweep: boolean;
  sweepDays: number;
  rows?: string[];
  onProgress?(line: string): void;
}

export const SWEEP_SAMPLE_S = [10, 60, 600] as const;
export const SWEEP_UPLOAD_MIN = [1, 15, 60, 240] as const;
const LONG_OUTAGE_MS = 3 * DAY;

export function spread(values: (number | null)[]): Spread {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return { min: null, median: null, max: null };
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return { min: v[0], median: Math.round(median * 1000) / 1000, max: v[v.length - 1] };
}

function spreadOf<T extends object>(items: T[]): SpreadOf<T> {
  const keys = Object.keys(items[0] ?? {}) as (keyof T)[];
  return Object.fromEntries(keys.map((k) => [k, spread(items.map((i) => i[k] as number | null))])) as SpreadOf<T>;
}

export async function runPolicyBench(options: PolicyBenchOptions): Promise<PolicyBench> {
  const rows = ROWS.filter((r) => !options.rows || options.rows.includes(r.name));
  const base = { days: options.days, sampleIntervalMs: DEFAULTS.sampleIntervalMs, uploadIntervalMs: DEFAULTS.uploadIntervalMs, longOutageMs: LONG_OUTAGE_MS };
  const jobs: Job[] = options.seeds.flatMap((seed) => rows.map((r) => ({ ...base, row: r.name, seed })));
  const progress = (label: string) => (done: number, total: number, job: Job) =>
    options.onProgress?.(`${label}: ${done}/${total} runs (last: ${job.row}, seed ${job.seed})`);
  const results = await runJobs(jobs, options.jobs, progress('policies'));

  const seeds: SeedSummary[] = options.seeds.map((seed) => {
    const mine = results.filter((r) => r.seed === seed);
    return {
      seed,
      faults: mine[0]?.faults ?? 0,
      rows: mine.map((r) => ({ policy: r.row, metrics: r.metrics, energy_by_category_mj: r.energy_by_category_mj, bands: r.bands })),
      lower_bound: mine[0].lower_bound,
    };
  });

  const summaries: RowSummary[] = rows.map((row) => {
    const mine = results.filter((r) => r.row === row.name);
    const metrics = spreadOf(mine.map((r) => r.metrics));
    let status: string | null = null;
    if (row.report === 'stops') {
      const last = metrics.last_delivery_h;
      status = `stops delivering after the first disconnect (last delivery after ${last.median} h, median; range ${last.min}-${last.max} h)`;
      for (const key of ['energy_per_delivered_sample_mj'] as const) metrics[key] = { min: null, median: null, max: null };
    }
    return {
      policy: row.name,
      recreates: row.recreates,
      sources: row.sources,
      platform: row.platform.name,
      status,
      metrics,
      energy_by_category_mj: spreadOf(mine.map((r) => r.energy_by_category_mj)),
      bands: { pessimistic: spreadOf(mine.map((r) => r.bands.pessimistic)), optimistic: spreadOf(mine.map((r) => r.bands.optimistic)) },
    };
  });

  const bounds = seeds.map((s) => s.lower_bound);
  const lower = {
    what: 'lower_bound: every sample read by the ULP in deep sleep, one upload per allowed latency (the upload interval) only while the broker is reachable, '
      + 'the fastest ESP-IDF boot, the best join hal/moddable can do, a resumed mbedTLS ECDSA handshake, only the bytes that must move; '
      + 'or staying associated, whichever is cheaper (tools/bench/lower-bound.ts)',
    metrics: {
      ...spreadOf(bounds.map((b) => ({ energy_per_delivered_sample_mj: b.energy_per_delivered_sample_mj, avg_ma: b.avg_ma, bytes_on_air_per_day: b.bytes_on_air_per_day }))),
      battery_days: spread(bounds.map((b) => batteryDaysOf(b.avg_ma))),
    },
    strategy: [...new Set(bounds.map((b) => b.strategy))],
  };

  // The sweep: adaptive and the two anchors with the lowest median energy per delivered sample.
  const anchors = summaries
    .filter((s) => s.policy !== 'adaptive' && s.status === null && s.metrics.energy_per_delivered_sample_mj.median !== null)
    .sort((a, b) => a.metrics.energy_per_delivered_sample_mj.median! - b.metrics.energy_per_delivered_sample_mj.median!)
    .slice(0, 2)
    .map((s) => s.policy);
  const sweepPolicies = ['adaptive', ...anchors].filter((p) => rows.some((r) => r.name === p));
  let sweep: SweepPoint[] = [];
  if (options.sweep) {
    const sweepJobs: Job[] = [];
    for (const policy of sweepPolicies) {
      for (const s of SWEEP_SAMPLE_S) {
        for (const u of SWEEP_UPLOAD_MIN) {
          sweepJobs.push({ row: policy, seed: options.seeds[0], days: options.sweepDays, sampleIntervalMs: s * 1000, uploadIntervalMs: Math.max(u * 60_000, s * 1000), longOutageMs: 0 });
        }
      }
    }
    const out = await runJobs(sweepJobs, options.jobs, progress('sweep'));
    sweep = out.map((r, i) => ({
      policy: r.row,
      sample_interval_s: sweepJobs[i].sampleIntervalMs / 1000,
      upload_interval_min: sweepJobs[i].uploadIntervalMs / 60_000,
      energy_per_delivered_sample_mj: r.metrics.energy_per_delivered_sample_mj,
      avg_ma: r.metrics.avg_ma,
      battery_days: r.metrics.battery_days,
      latency_p50_s: r.metrics.latency_p50_s,
      latency_p95_s: r.metrics.latency_p95_s,
      samples_lost: r.metrics.samples_lost,
      lower_bound_mj: r.lower_bound.energy_per_delivered_sample_mj,
      lower_bound_battery_days: batteryDaysOf(r.lower_bound.avg_ma),
    }));
  }
  return { days: options.days, seeds, rows: summaries, lower_bound: lower, sweep, sweep_policies: sweepPolicies, sweep_days: options.sweepDays };
}
