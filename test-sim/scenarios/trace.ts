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
