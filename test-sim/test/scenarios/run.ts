/** Runs a built-in scenario in XS and answers questions about its event record. */
import { runSimulation, type SimResult } from '../../sim';
import { loadScenario } from '../../scenarios/scenario';
import type { RecordedEvent } from '../../device/host';

export async function scenario(name: string, seed = 1): Promise<SimResult & { on: (event: string, device?: number) => RecordedEvent[] }> {
  const result = await runSimulation({ engine: 'xs', scenario: loadScenario(name), seed });
  return { ...result, on: (event, device = 0) => result.events.filter((e) => e.event === event && e.device === device) };
}

/** Milliseconds the radio was powered within [from, to), from the `radio` events. */
export function radioOnMs(events: RecordedEvent[], from: number, to: number, device = 0): number {
  let on = 0;
  let state = 'off';
  let since = 0;
  for (const e of events.filter((x) => x.event === 'radio' && x.device === device)) {
    if (state !== 'off') on += Math.max(0, Math.min(e.t, to) - Math.max(since, from));
    state = String(e.fields?.state);
    since = e.t;
  }
  if (state !== 'off') on += Math.max(0, to - Math.max(since, from));
  return on;
}

export const minutes = (m: number) => m * 60_000;
