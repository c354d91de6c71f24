/**
 * One bench run: a row (tools/bench/rows.ts) over one seed's trace, in the
 * simulator (Node engine, in-process model broker: deterministic for a seed),
 * measured as engineers ask: energy per delivered sample, average current,
 * battery life, latency, peak current, bytes on air, AWS messages billed,
 * samples lost and dropped, and the same run priced under the pessimistic and
 * optimistic bands.
 */
import { runSimulation } from '../../test-sim/sim';
import { benchTrace } from '../../test-sim/scenarios/trace';
import type { Fault, Scenario } from '../../test-sim/scenarios/scenario';
import { CATEGORIES, type Category, type MeterReading } from '../../test-sim/energy/meter';
import { chipCosts } from '../../test-sim/energy/costs';
import { DEFAULTS, resolveConfig } from '../../firmware/app/config';
import { lowerBound, type LowerBound } from './lower-bound';
import { ROWS } from './rows';
import type { AnchorView } from './apps/anchors';
import { EVENTS } from '../../hal/events';
import { SIM_EPOCH_MS } from '../provision/defaults';

export const DAY = 86_400_000;
/** A 2,500 mAh Li-ion cell (an 18650), used to its cut-off. */
export const BATTERY_MAH = 2500;
/** Li-ion self-discharge with its protection circuit, share of capacity per month (Battery University BU-802b: 2-3 %/month). */
export const SELF_DISCHARGE_PER_MONTH = 0.03;
/** The simulator's wall clock at t = 0 (test-sim/sim.ts). */
const EPOCH = SIM_EPOCH_MS;

export interface Job {
  row: string;
  seed: number;
  days: number;
  sampleIntervalMs: number;
  uploadIntervalMs: number;
  /** Length of the long outage in the trace (ms); 0 for none. */
  longOutageMs: number;
}

export interface BandFigures {
  energy_per_delivered_sample_mj: number | null;
  avg_ma: number;
  battery_days: number;
}

export interface RunMetrics extends BandFigures {
  energy_mj: number;
  latency_p50_s: number | null;
  latency_p95_s: number | null;
  latency_max_s: number | null;
  peak_ma: number;
  bytes_on_air_per_day: number;
  aws_messages_per_day: number;
  tls_handshakes_per_day: number;
  samples_generated: number;
  samples_delivered: number;
  samples_lost: number;
  samples_dropped: number;
  samples_pending: number;
  /** Hours into the run of the last delivery (rows reported by when they stop). */
  last_delivery_h: number | null;
}

export interface RunResult {
  row: string;
  seed: number;
  metrics: RunMetrics;
  energy_by_category_mj: Record<Category, number>;
  bands: { pessimistic: BandFigures; optimistic: BandFigures };
  lower_bound: LowerBound;
  faults: number;
  wall_ms: number;
}

export function batteryDays(avgMa: number): number {
  const selfDischargeMa = (BATTERY_MAH * SELF_DISCHARGE_PER_MONTH) / (30 * 24);
  return round(BATTERY_MAH / (avgMa + selfDischargeMa) / 24, 1);
}

export function jobTrace(job: Job): Fault[] {
  return benchTrace({ durationMs: job.days * DAY, seed: job.seed, longOutageMs: job.longOutageMs });
}

function percentile(sorted: number[], p: number): number | null {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

export async function runJob(job: Job): Promise<RunResult> {
  const row = ROWS.find((r) => r.name === job.row);
  if (!row) throw new Error(`no bench row ${job.row}`);
  const durationMs = job.days * DAY;
  const faults = jobTrace(job);
  const intervals = { sampleIntervalMs: job.sampleIntervalMs, uploadIntervalMs: job.uploadIntervalMs };
  const scenario: Scenario = {
    name: `bench-${row.name}`, description: 'bench trace', durationMs, devices: 1, bootSpreadMs: 0,
    config: { ...row.config, ...intervals }, faults,
  };
  let reading: MeterReading | undefined;
  let bandReadings: Record<'pessimistic' | 'optimistic', MeterReading> | undefined;
  let delivered = new Set<number>();
  let latencies: number[] = [];
  let lastArrival: number | null = null;
  let billed = 0;
  let sensorReads = 0;
  const thing = String(DEFAULTS.thing);
  const result = await runSimulation({
    engine: 'node', world: 'model', seed: job.seed, app: row.app, autoLightSleep: row.autoLightSleep, platform: row.platform, scenario,
    beforeTeardown: async (devices, world) => {
      const meter = devices[0].meter;
      sensorReads = devices[0].sensor.reads;
      reading = meter.read();
      bandReadings = { pessimistic: meter.readBand('pessimistic'), optimistic: meter.readBand('optimistic') };
      const record = world.deliveries!;
      delivered = new Set(record.seqs.get(thing) ?? []);
      const arrivals = record.arrivals.get(thing) ?? new Map<number, number>();
      const sampled = record.sampledAt.get(thing) ?? new Map<number, number>();
      for (const [seq, at] of arrivals) {
        lastArrival = Math.max(lastArrival ?? 0, at);
        const t = sampled.get(seq);
        if (t !== undefined) latencies.push(Math.max(0, at - (t - EPOCH)) / 1000);
      }
      billed = record.billedUnits + (world.model?.stats.connects ?? 0);
    },
  });
  const s = result.summary;
  const view = ((s.firmware as { app?: unknown } | null)?.app ?? {}) as Partial<AnchorView>;
  const isAnchor = typeof view.anchor === 'string';
  // Samples are counted where they are taken (one sensor reading each), whatever the app numbers them.
  const generated = sensorReads;
  const pending = isAnchor ? view.pending ?? 0 : s.samples_pending;
  // An anchor's drop counters live in RAM or RTC memory; its log survives power cuts.
  const dropped = isAnchor ? result.events.filter((e) => e.event === EVENTS.anchorDropped).length : s.samples_dropped;
  const deliveredCount = delivered.size;
  latencies = latencies.sort((a, b) => a - b);
  const config = resolveConfig(scenario.config);
  const bound = lowerBound({
    durationMs, ...intervals, faults, costs: chipCosts('esp32'),
    topicBytes: config.topic.length, clientIdBytes: config.thing.length,
  });
  return {
    row: row.name,
    seed: job.seed,
    metrics: {
      ...figures(reading!, deliveredCount),
      energy_mj: round(reading!.energyMj, 1),
      latency_p50_s: round1(percentile(latencies, 0.5)),
      latency_p95_s: round1(percentile(latencies, 0.95)),
      latency_max_s: round1(latencies.length ? latencies[latencies.length - 1] : null),
      peak_ma: round(reading!.peakMa, 1),
      bytes_on_air_per_day: Math.round(reading!.bytesOnAirFramed / job.days),
      aws_messages_per_day: round(billed / job.days, 1),
      tls_handshakes_per_day: round(s.tls_handshakes / job.days, 1),
      samples_generated: generated,
      samples_delivered: deliveredCount,
      samples_lost: Math.max(0, generated - deliveredCount - pending - dropped),
      samples_dropped: dropped,
      samples_pending: pending,
      last_delivery_h: lastArrival === null ? null : round(lastArrival / 3_600_000, 2),
    },
    energy_by_category_mj: Object.fromEntries(CATEGORIES.map((k) => [k, round(reading!.byCategoryMj[k], 1)])) as Record<Category, number>,
    bands: { pessimistic: figures(bandReadings!.pessimistic, deliveredCount), optimistic: figures(bandReadings!.optimistic, deliveredCount) },
    lower_bound: bound,
    faults: faults.length,
    wall_ms: s.wall_ms,
  };
}

function figures(r: MeterReading, delivered: number): BandFigures {
  return {
    energy_per_delivered_sample_mj: delivered > 0 ? round(r.energyMj / delivered, 3) : null,
    avg_ma: round(r.avgMa, 4),
    battery_days: batteryDays(r.avgMa),
  };
}

export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function round1(value: number | null): number | null {
  return value === null ? null : round(value, 1);
}
