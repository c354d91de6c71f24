/**
 * A seeded week of realistic trouble, shared by the end-to-end telemetry test
 * and `npm run bench`: frequent short Wi-Fi drops, a few broker outages of
 * minutes, one of hours, and the odd power cut.
 */
import { SeededRandom } from '../device/random';
import type { Fault } from './scenario';

export interface TraceOptions {
  durationMs: number;
  seed: number;
  /** Include power cuts (the bench's anchors keep no queue, so it leaves them out). */
  powerCuts?: boolean;
}

const MIN = 60_000;
const HOUR = 60 * MIN;

export function outageTrace(options: TraceOptions): Fault[] {
  const random = new SeededRandom(options.seed ^ 0x7ace);
  const days = options.durationMs / (24 * HOUR);
  const faults: Fault[] = [];
  const at = (from: number, to: number) => from + random.next() * (to - from);
  const end = options.durationMs - 2 * HOUR;
  // Wi-Fi: about 6 drops a day, 10 s to 3 min.
  for (let i = 0; i < Math.round(6 * days); i++) faults.push({ kind: 'wifi-down', atMs: at(HOUR, end), forMs: at(10_000, 3 * MIN) });
  // Broker: about one outage of 2 to 20 minutes every other day.
  for (let i = 0; i < Math.max(1, Math.round(days / 2)); i++) faults.push({ kind: 'broker-down', atMs: at(HOUR, end), forMs: at(2 * MIN, 20 * MIN) });
  // One long broker outage of 2 to 4 hours.
  faults.push({ kind: 'broker-down', atMs: at(HOUR, Math.max(HOUR, end - 4 * HOUR)), forMs: at(2 * HOUR, 4 * HOUR) });
  if (options.powerCuts) {
    for (let i = 0; i < Math.max(1, Math.round(days / 3)); i++) faults.push({ kind: 'power-cut', atMs: at(HOUR, end), forMs: at(1000, 10 * MIN) });
  }
  return faults.sort((a, b) => a.atMs - b.atMs).map((f) => ({ ...f, atMs: Math.round(f.atMs), forMs: Math.round(f.forMs), device: 0 }));
}

export interface BenchTraceOptions {
  durationMs: number;
  seed: number;
  /** Length of the one long outage (the uplink is gone: the broker refuses every connection). Default 3 days; 0 for none. */
  longOutageMs?: number;
}

/**
 * The bench's trace: `outageTrace` with power cuts, plus about one blackhole
 * (the path drops every packet, TCP half-open) of 5 to 30 minutes a day, a DNS
 * failure of 10 to 60 minutes every other day, broker refusals (CONNACK 3,
 * server unavailable) of 5 to 30 minutes every other day, and one long outage
 * (3 days by default) placed at random in the run when it fits, else shortened
 * to half the run.
 */
export function benchTrace(options: BenchTraceOptions): Fault[] {
  const random = new SeededRandom(options.seed ^ 0xbe4c);
  const days = options.durationMs / (24 * HOUR);
  const at = (from: number, to: number) => from + random.next() * (to - from);
  const end = options.durationMs - 2 * HOUR;
  const faults: Fault[] = outageTrace({ durationMs: options.durationMs, seed: options.seed, powerCuts: true });
  for (let i = 0; i < Math.max(1, Math.round(days)); i++) faults.push({ kind: 'blackhole', atMs: at(HOUR, end), forMs: at(5 * MIN, 30 * MIN) });
  for (let i = 0; i < Math.max(1, Math.round(days / 2)); i++) faults.push({ kind: 'dns-down', atMs: at(HOUR, end), forMs: at(10 * MIN, 60 * MIN) });
  for (let i = 0; i < Math.max(1, Math.round(days / 2)); i++) faults.push({ kind: 'connack-refused', atMs: at(HOUR, end), forMs: at(5 * MIN, 30 * MIN), code: 3 });
  const long = Math.min(options.longOutageMs ?? 3 * 24 * HOUR, options.durationMs / 2);
  if (long > 0) faults.push({ kind: 'broker-down', atMs: at(HOUR, Math.max(HOUR, options.durationMs - long - HOUR)), forMs: long });
  // One switch drives the broker side: a fault that overlaps one already kept (the long outage first) is left out,
  // since its end would end the other early.
  const brokerSide = (f: Fault) => f.kind === 'broker-down' || f.kind === 'blackhole' || f.kind === 'connack-refused';
  const kept: Fault[] = [];
  const ordered = [...faults].sort((a, b) => (b.forMs === long ? 1 : 0) - (a.forMs === long ? 1 : 0) || a.atMs - b.atMs);
  for (const f of ordered) {
    const clash = brokerSide(f) && kept.some((k) => brokerSide(k) && f.atMs < k.atMs + k.forMs && k.atMs < f.atMs + f.forMs);
    if (!clash) kept.push(f);
  }
  return kept.sort((a, b) => a.atMs - b.atMs).map((f) => ({ ...f, atMs: Math.round(f.atMs), forMs: Math.round(f.forMs), device: 0 }));
}
