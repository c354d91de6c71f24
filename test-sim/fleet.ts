/**
 * Fleet storm: many devices (the same firmware and state machine, in-process
 * under Node) through a shared broker outage, twice: with the firmware's
 * full-jitter backoff and with a no-jitter baseline. Reports the connect rate
 * after the broker returns and the time until every device is online again.
 */
import { EVENTS } from '../hal/events';
import { runSimulation, type SimResult } from './sim';
import type { Scenario } from './scenarios/scenario';

export interface FleetRun {
  peak_connects_per_s: number;
  recovery_s: number | null;
  /** Connection attempts per second from the broker's return, until the fleet is back. */
  connects_per_s: number[];
}

export interface FleetSummary {
  devices: number;
  outage_end_s: number;
  peak_connects_per_s: number;
  recovery_s: number | null;
  baseline_peak_connects_per_s: number;
  baseline_recovery_s: number | null;
  connects_per_s: number[];
  baseline_connects_per_s: number[];
}

/** Connection attempts per second in [from, to], from the sorted attempt times of a run. */
export function connectsPerSecond(connectTimes: readonly number[], from: number, to: number): number[] {
  const perSecond = new Array(Math.max(1, Math.ceil((to - from) / 1000) + 1)).fill(0);
  for (const t of connectTimes) if (t >= from && t <= to) perSecond[Math.floor((t - from) / 1000)]++;
  return perSecond;
}

function analyse(result: SimResult, outageEnd: number, devices: number): FleetRun {
  const online = new Map<number, number>();
  for (const e of result.events) if (e.event === EVENTS.mqttConnected && e.t >= outageEnd && !online.has(e.device)) online.set(e.device, e.t);
  const recovered = online.size === devices ? Math.max(...online.values()) : undefined;
  const perSecond = connectsPerSecond(result.connectTimes, outageEnd, recovered ?? result.summary.simulated_ms);
  return {
    peak_connects_per_s: Math.max(...perSecond),
    recovery_s: recovered === undefined ? null : Math.round((recovered - outageEnd) / 100) / 10,
    connects_per_s: perSecond,
  };
}

export async function runFleet(scenario: Scenario, seed: number, onProgress?: (label: string, now: number, total: number) => void): Promise<FleetSummary> {
  const outage = scenario.faults.find((f) => f.kind === 'broker-down');
  if (!outage) throw new Error(`fleet scenario ${scenario.name} has no broker-down fault`);
  const outageEnd = outage.atMs + outage.forMs;
  const run = async (label: string, jitter: 'full' | 'none') => {
    const config = { ...scenario.config, backoff: { ...(scenario.config.backoff as object), jitter } };
    const result = await runSimulation({
      engine: 'node',
      world: 'model',
      scenario: { ...scenario, config },
      seed,
      onProgress: onProgress && ((now, total) => onProgress(label, now, total)),
    });
    return analyse(result, outageEnd, scenario.devices);
  };
  const adaptive = await run('full jitter', 'full');
  const baseline = await run('no-jitter baseline', 'none');
  return {
    devices: scenario.devices,
    outage_end_s: outageEnd / 1000,
    peak_connects_per_s: adaptive.peak_connects_per_s,
    recovery_s: adaptive.recovery_s,
    baseline_peak_connects_per_s: baseline.peak_connects_per_s,
    baseline_recovery_s: baseline.recovery_s,
    connects_per_s: adaptive.connects_per_s,
    baseline_connects_per_s: baseline.connects_per_s,
  };
}
