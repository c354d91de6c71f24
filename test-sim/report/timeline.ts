/**
 * What a report draws, derived from one simulator run's event record: device
 * 0's link states and radio power as merged intervals, its current and
 * cumulative energy (downsampled), the batches the broker acknowledged, the
 * failures and backoffs, and the outages inferred from them (fault events are
 * not recorded, so an outage is "from the first failure to the next MQTT
 * connection").
 */
import { EVENTS } from '../../hal/events';
import type { RecordedEvent } from '../device/host';
import { TRANSITIONS, type LinkState } from '../../firmware/link/states';
import type { SimResult } from '../sim';

/** [from, to) in virtual ms, one state. */
export interface Interval {
  from: number;
  to: number;
  state: string;
}

export interface EnergyPoint {
  t: number;
  /** Current drawn from t on, mA. */
  ma: number;
  /** Energy spent up to t, mJ. */
  mj: number;
}

export interface Delivery {
  t: number;
  count: number;
  first: number;
  last: number;
  dropped: number;
}

export type IncidentKind = 'tls.error' | 'mqtt.closed' | 'wifi' | 'time' | 'crash' | 'power-cut' | 'configuration-fault';

export interface Incident {
  t: number;
  kind: IncidentKind;
  /** Failure category or close kind. */
  category: string;
  message: string;
}

export interface BackoffMark {
  t: number;
  delayMs: number;
  failure: string;
  schedule: string;
  attempt: number;
}

export interface Outage {
  from: number;
  to: number;
  /** False when the run ended before the link came back. */
  recovered: boolean;
  /** Failure classes (from link.backoff) during the outage, with counts. */
  failures: Record<string, number>;
  attempts: number;
}

export interface PowerPolicy {
  mode: string;
  configured?: string;
  why?: string;
  alwaysMa?: number;
  dutyMa?: number;
  breakEvenMs?: number;
  uploadIntervalMs?: number;
}

export interface Timeline {
  device: number;
  durationMs: number;
  policy: PowerPolicy | null;
  states: Interval[];
  radio: Interval[];
  energy: EnergyPoint[];
  deliveries: Delivery[];
  failures: Incident[];
  backoffs: BackoffMark[];
  outages: Outage[];
}

/** What the state lane draws: the firmware's link states, and `Off` (not powered: before boot, after a power cut) and `Crashed` from host events. */
export type ReportState = LinkState | 'Off' | 'Crashed';
/** In legend order: the firmware's own list (firmware/link/states.ts), then the host's two. */
export const LINK_STATES: readonly ReportState[] = [...(Object.keys(TRANSITIONS) as LinkState[]), 'Off', 'Crashed'];
export const RADIO_STATES = ['off', 'joining', 'associated'] as const;

/** Most points the energy trace keeps in report.json. */
export const MAX_ENERGY_POINTS = 4000;

const num = (value: unknown, fallback = 0): number => (typeof value === 'number' && Number.isFinite(value) ? value : fallback);
const str = (value: unknown, fallback = ''): string => (value === undefined || value === null ? fallback : String(value));
/** Virtual times are fractional; a tenth of a millisecond is plenty. */
const ms = (t: number): number => Math.round(t * 10) / 10;

export function buildTimeline(result: SimResult, device = 0, maxEnergyPoints = MAX_ENERGY_POINTS): Timeline {
  const durationMs = result.summary.simulated_ms;
  const events = result.events.filter((e) => e.device === device);
  const policyEvent = events.find((e) => e.event === EVENTS.powerPolicy);
  return {
    device,
    durationMs,
    policy: policyEvent ? policyFrom(policyEvent) : null,
    states: linkStates(events, durationMs),
    radio: radioStates(events, durationMs),
    energy: downsampleSteps(result.energyTrace.map((p) => ({ t: ms(p.t), ma: p.ma, mj: Math.round(p.cumulativeMj * 100) / 100 })), maxEnergyPoints),
    deliveries: events.filter((e) => e.event === EVENTS.telemetryAcked).map((e) => ({
      t: ms(e.t), count: num(e.fields?.count), first: num(e.fields?.first), last: num(e.fields?.last), dropped: num(e.fields?.dropped),
    })),
    failures: incidents(events),
    backoffs: events.filter((e) => e.event === EVENTS.linkBackoff).map((e) => ({
      t: ms(e.t), delayMs: num(e.fields?.delayMs), failure: str(e.fields?.failure, '?'), schedule: str(e.fields?.schedule, '?'), attempt: num(e.fields?.attempt),
    })),
    outages: outages(events, durationMs),
  };
}

function policyFrom(e: RecordedEvent): PowerPolicy {
  const f = e.fields ?? {};
  const optional = (v: unknown) => (typeof v === 'number' ? v : undefined);
  return {
    mode: str(f.mode, '?'),
    configured: f.configured === undefined ? undefined : str(f.configured),
    why: f.why === undefined ? undefined : str(f.why),
    alwaysMa: optional(f.alwaysMa),
    dutyMa: optional(f.dutyMa),
    breakEvenMs: optional(f.breakEvenMs),
    uploadIntervalMs: optional(f.uploadIntervalMs),
  };
}

/** Appends [from, t) in `state` unless empty, merging with the previous interval in the same state. */
class IntervalBuilder {
  readonly intervals: Interval[] = [];
  private state: string;
  private since = 0;

  constructor(initial: string) {
    this.state = initial;
  }

  get current(): string {
    return this.state;
  }

  set(t: number, state: string): void {
    if (state === this.state) return;
    this.close(t);
    this.state = state;
    this.since = t;
  }

  private close(t: number): void {
    const from = ms(this.since);
    const to = ms(t);
    if (to <= from) return;
    const last = this.intervals[this.intervals.length - 1];
    if (last && last.state === this.state && last.to === from) last.to = to;
    else this.intervals.push({ from, to, state: this.state });
  }

  finish(end: number): Interval[] {
    this.close(end);
    this.since = end;
    return this.intervals;
  }
}

/**
 * The link state over time. Transitions give it while the firmware runs; the
 * host's events give the rest: `device.boot` is Boot, `device.deep-sleep` keeps
 * the state the device went to sleep in (Sleep, or Backoff when it sleeps
 * through a backoff) across the wake-ups that only take a sample (those boot
 * and sleep again without a transition), `device.power-cut` is Off until the
 * next boot, `device.crash` is Crashed until the next boot.
 */
function linkStates(events: RecordedEvent[], durationMs: number): Interval[] {
  const b = new IntervalBuilder('Off');
  let asleepIn: string | undefined;
  for (const e of events) {
    const t = Math.min(e.t, durationMs);
    switch (e.event) {
      case EVENTS.deviceBoot:
        b.set(t, 'Boot');
        break;
      case EVENTS.linkTransition:
        b.set(t, str(e.fields?.to, '?'));
        break;
      case EVENTS.deviceDeepSleep:
        // A wake-up that only took a sample sleeps again in Boot: it is still in the sleep it woke from.
        if (b.current !== 'Boot' || asleepIn === undefined) asleepIn = b.current === 'Boot' ? 'Sleep' : b.current;
        b.set(t, asleepIn);
        break;
      case EVENTS.devicePowerCut:
        asleepIn = undefined;
        b.set(t, 'Off');
        break;
      case EVENTS.deviceCrash:
        asleepIn = undefined;
        b.set(t, 'Crashed');
        break;
    }
    if (e.event === EVENTS.linkTransition && e.fields?.to !== 'Sleep' && e.fields?.to !== 'Backoff') asleepIn = undefined;
  }
  return b.finish(durationMs);
}

function radioStates(events: RecordedEvent[], durationMs: number): Interval[] {
  const b = new IntervalBuilder('off');
  for (const e of events) {
    if (e.event === EVENTS.radio) b.set(Math.min(e.t, durationMs), str(e.fields?.state, 'off'));
    else if (e.event === EVENTS.devicePowerCut || e.event === EVENTS.deviceCrash) b.set(Math.min(e.t, durationMs), 'off');
  }
  return b.finish(durationMs);
}

function incidents(events: RecordedEvent[]): Incident[] {
  const out: Incident[] = [];
  for (const e of events) {
    const f = e.fields ?? {};
    const at = ms(e.t);
    switch (e.event) {
      case EVENTS.tlsError:
        out.push({ t: at, kind: 'tls.error', category: str(f.category, '?'), message: str(f.message) });
        break;
      case EVENTS.mqttClosed: {
        // The device closing its own session (duty cycle) is not a failure.
        if (f.kind === 'disconnected') break;
        // A link error closes the session at the same instant: one failure, not two.
        const last = out[out.length - 1];
        if (last?.kind === 'tls.error' && last.t === at) break;
        out.push({ t: at, kind: 'mqtt.closed', category: str(f.kind, '?'), message: str(f.message) });
        break;
      }
      case EVENTS.linkTransition:
        // Wi-Fi and time failures leave no error event of their own.
        if (f.event === 'WifiFailed' || f.event === 'WifiLost') out.push({ t: at, kind: 'wifi', category: str(f.event), message: `${str(f.from)} → ${str(f.to)}` });
        else if (f.event === 'TimeFailed') out.push({ t: at, kind: 'time', category: 'TimeFailed', message: 'time sync failed' });
        break;
      case EVENTS.deviceCrash:
        out.push({ t: at, kind: 'crash', category: 'crash', message: str(f.message) });
        break;
      case EVENTS.devicePowerCut:
        out.push({ t: at, kind: 'power-cut', category: str(f.during, 'power-cut'), message: 'power cut' });
        break;
      case EVENTS.linkConfigurationFault:
        out.push({ t: at, kind: 'configuration-fault', category: str(f.failure, '?'), message: `${str(f.message)}${f.check ? ` (check ${str(f.check)})` : ''}` });
        break;
    }
  }
  return out;
}

/**
 * Outages as the device saw them: from a failure (each one is followed by a
 * `link.backoff`) while no outage is open, to the next `mqtt.connected`.
 */
function outages(events: RecordedEvent[], durationMs: number): Outage[] {
  const out: Outage[] = [];
  let open: Outage | undefined;
  for (const e of events) {
    if (e.event === EVENTS.linkBackoff) {
      open ??= { from: ms(e.t), to: durationMs, recovered: false, failures: {}, attempts: 0 };
      const failure = str(e.fields?.failure, '?');
      open.failures[failure] = (open.failures[failure] ?? 0) + 1;
      open.attempts++;
    } else if (e.event === EVENTS.mqttConnected && open) {
      open.to = ms(e.t);
      open.recovered = true;
      out.push(open);
      open = undefined;
    }
  }
  if (open) out.push(open);
  return out;
}

/**
 * Keeps at most about `maxPoints` points of a step trace: per time bucket the
 * first and last point and those with the lowest and highest current (so every
 * spike and every dip survives), always the first and the last point. The kept
 * points are real points of the trace, so the energy at each is exact.
 */
export function downsampleSteps(trace: EnergyPoint[], maxPoints: number): EnergyPoint[] {
  if (trace.length <= maxPoints) return trace;
  const t0 = trace[0].t;
  const span = Math.max(1e-9, trace[trace.length - 1].t - t0);
  const buckets = Math.max(1, Math.floor((maxPoints - 2) / 4));
  const keep = new Uint8Array(trace.length);
  keep[0] = keep[trace.length - 1] = 1;
  let bucket = -1;
  let first = 0, last = 0, lo = 0, hi = 0;
  const flush = () => {
    if (bucket >= 0) keep[first] = keep[last] = keep[lo] = keep[hi] = 1;
  };
  for (let i = 0; i < trace.length; i++) {
    const b = Math.min(buckets - 1, Math.floor(((trace[i].t - t0) / span) * buckets));
    if (b !== bucket) {
      flush();
      bucket = b;
      first = last = lo = hi = i;
      continue;
    }
    last = i;
    if (trace[i].ma < trace[lo].ma) lo = i;
    if (trace[i].ma > trace[hi].ma) hi = i;
  }
  flush();
  const out: EnergyPoint[] = [];
  for (let i = 0; i < trace.length; i++) if (keep[i]) out.push(trace[i]);
  return out;
}

/** Time spent in each state, ms. */
export function timeShares(intervals: Interval[]): Record<string, number> {
  const shares: Record<string, number> = {};
  for (const i of intervals) shares[i.state] = (shares[i.state] ?? 0) + (i.to - i.from);
  return shares;
}
