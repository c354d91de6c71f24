/**
 * The run summary (`npm run sim -- --json`), declared once: each field's key,
 * what it means, how it is computed, its computation and its words on the CLI
 * text. `SimSummary` is derived from these declarations, the CLI prints
 * `summaryLines`, and a test holds the README's field table to `SUMMARY_FIELDS`.
 * Adding a field is one entry here (and its README row).
 */
import { createHash } from 'node:crypto';
import type { EngineName } from '../engine/types';
import type { DeviceHost } from '../device/host';
import type { RecordedEvent } from '../device/context';
import type { World } from '../net/world';
import type { EnergyProfile } from '../../firmware/power/policy';
import { EVENTS } from '../../hal/events';
import { formatDuration } from '../cli/duration';
import { accountTelemetry, type DeviceInspection, type TelemetryAccount } from './telemetry';

/** What a finished run offers the summary. */
export interface RunFacts {
  engine: EngineName;
  seed: number;
  scenario: string;
  simulatedMs: number;
  wallMs: number;
  profile: EnergyProfile;
  devices: readonly DeviceHost[];
  events: readonly RecordedEvent[];
  /** Each device's inspection at the end of the run. */
  finals: readonly DeviceInspection[];
  world: World;
  /** Computed once for the telemetry fields (test-sim/summary/telemetry.ts). */
  telemetry: TelemetryAccount;
}

type Line = 'run' | 'devices' | 'power' | 'tls' | 'telemetry';

/** The summary as a field's words may read it (declared loosely: the summary's type is derived from the fields). */
type Peers = Readonly<Record<string, unknown>>;

/** A field's words on one CLI line, placed by `at` among the line's words. */
interface Words<T> {
  line: Line;
  at: number;
  words(value: T, summary: Peers): string;
}

interface FieldSpec<T> {
  /** What the value means (the README table's text). */
  meaning: string;
  /** How it is computed, in a few words (the README table's text). */
  how: string;
  compute(run: RunFacts): T;
  /** Its words on the CLI text; none: JSON only. */
  text?: Words<T> | Words<T>[];
  /** Whole CLI lines of its own, after the others. */
  lines?(value: T): string[];
}

const field = <T>(spec: FieldSpec<T>): FieldSpec<T> => spec;
const sum = (run: RunFacts, f: (d: DeviceHost) => number) => run.devices.reduce((total, d) => total + f(d), 0);
const on = (run: RunFacts, event: string) => run.events.filter((e) => e.event === event);
const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;
const orNa = (value: number | null) => (value === null ? 'n/a' : String(value));

export const SUMMARY_FIELDS = {
  simulated_ms: field({
    meaning: 'simulated time', how: 'the virtual clock at the end, ms',
    compute: (r) => Math.round(r.simulatedMs),
    text: { line: 'run', at: 1, words: (v) => `${formatDuration(v)} simulated` },
  }),
  wall_ms: field({
    meaning: 'wall time of the run', how: 'measured, ms',
    compute: (r) => Math.round(r.wallMs),
    text: { line: 'run', at: 2, words: (v, s) => `in ${(v / 1000).toFixed(1)} s (${v > 0 ? Math.round(Number(s.simulated_ms) / v) : '∞'}x)` },
  }),
  engine: field({
    meaning: 'where the firmware ran: `xs` or `node`', how: '`--engine`',
    compute: (r): EngineName => r.engine,
    text: { line: 'run', at: 3, words: (v) => `on ${v},` },
  }),
  seed: field({
    meaning: 'seed of every random choice', how: '`--seed`',
    compute: (r) => r.seed,
    text: { line: 'run', at: 4, words: (v) => `seed ${v}` },
  }),
  scenario: field({
    meaning: 'scenario name', how: '`--scenario`',
    compute: (r) => r.scenario,
    text: { line: 'run', at: 0, words: (v) => `scenario ${v}:` },
  }),
  devices: field({
    meaning: 'simulated devices', how: 'the scenario\'s `devices`',
    compute: (r) => r.devices.length,
    text: { line: 'devices', at: 0, words: (v) => `${v} device(s),` },
  }),
  events: field({
    meaning: 'events recorded (firmware log and simulator)', how: 'length of the event log',
    compute: (r) => r.events.length,
    text: { line: 'devices', at: 3, words: (v) => `${v} events` },
  }),
  events_sha256: field({
    meaning: 'digest of the ordered event log with its virtual timestamps: equal for equal seeds', how: 'SHA-256 of one JSON line `[t, device, event, fields]` per event',
    compute: (r) => eventsDigest(r.events),
  }),
  boots: field({
    meaning: 'boots of all devices (power-on, wakes, resets, restarts)', how: 'counted by the simulator',
    compute: (r) => sum(r, (d) => d.lifecycle.boots),
    text: { line: 'devices', at: 1, words: (v) => `${v} boot(s),` },
  }),
  crashes: field({
    meaning: 'exceptions that escaped the firmware (each reboots the device)', how: 'counted by the simulator',
    compute: (r) => sum(r, (d) => d.lifecycle.crashes),
    text: { line: 'devices', at: 2, words: (v) => `${v} crash(es),` },
  }),
  xs_compute: field({
    meaning: 'XS compute over the run (0 under node)', how: 'sum of xsnap\'s meter over every delivery',
    compute: (r) => sum(r, (d) => d.lifecycle.compute),
  }),
  xs_peak_heap_slots: field({
    meaning: 'largest XS heap of one boot, slots (0 under node)', how: 'xsnap\'s heap count after each delivery, after a collection at each boot',
    compute: (r) => Math.max(0, ...r.devices.map((d) => d.lifecycle.peakHeapSlots)),
  }),
  tls_handshakes: field({
    meaning: 'TLS handshakes completed', how: 'counted by the simulator\'s TLS streams',
    compute: (r) => sum(r, (d) => d.net.tlsHandshakes),
    text: { line: 'tls', at: 0, words: (v) => `${v} handshake(s)` },
  }),
  tls_resumed: field({
    meaning: 'of those, handshakes that resumed a session', how: 'counted by the simulator\'s TLS streams',
    compute: (r) => sum(r, (d) => d.net.tlsResumed),
    text: { line: 'tls', at: 1, words: (v, s) => `(${Number(s.tls_handshakes) - v} full, ${v} resumed),` },
  }),
  tls_failures: field({
    meaning: 'failed connection attempts by category (`wifi`, `dns`, `tcp`, `timeout`, `tls-*`, `alpn`, `closed`)', how: 'counted by the simulator\'s TLS streams',
    compute: (r) => {
      const failures: Record<string, number> = {};
      for (const d of r.devices) for (const [category, n] of Object.entries(d.net.tlsFailures)) failures[category] = (failures[category] ?? 0) + n;
      return failures;
    },
    text: { line: 'tls', at: 2, words: (v) => `failures ${JSON.stringify(v)};` },
  }),
  bytes_tx: field({
    meaning: 'application bytes the devices sent', how: 'sum of TLS stream writes',
    compute: (r) => sum(r, (d) => d.net.bytesTx),
    text: { line: 'tls', at: 3, words: (v) => `${v} B sent,` },
  }),
  bytes_rx: field({
    meaning: 'application bytes the devices received', how: 'sum of TLS stream reads',
    compute: (r) => sum(r, (d) => d.net.bytesRx),
    text: { line: 'tls', at: 4, words: (v) => `${v} B received` },
  }),
  bytes_on_air: field({
    meaning: 'application bytes plus the 29-byte TLS record overhead, both directions', how: 'the energy meter',
    compute: (r) => sum(r, (d) => d.meter.read().bytesOnAir),
  }),
  profile: field({
    meaning: 'chip energy profile', how: '`esp32` unless the library caller chose another',
    compute: (r) => r.profile.name,
  }),
  power_mode: field({
    meaning: 'the power policy device 0\'s firmware chose (`always`, `duty`), null when it never said', how: 'the `power.policy` event',
    compute: (r) => (r.events.find((e) => e.event === EVENTS.powerPolicy && e.device === 0)?.fields?.mode as string | undefined) ?? null,
    text: { line: 'power', at: 0, words: (v) => `${v ?? 'n/a'};` },
  }),
  energy_mj: field({
    meaning: 'energy drawn by all devices, mJ', how: 'the energy meter (test-sim/energy)',
    compute: (r) => round(sum(r, (d) => d.meter.read().energyMj), 1),
    text: { line: 'power', at: 2, words: (v) => `(${v} mJ),` },
  }),
  avg_ma: field({
    meaning: 'average current per device, mA', how: 'the energy meter',
    compute: (r) => round(sum(r, (d) => d.meter.read().avgMa) / Math.max(1, r.devices.length), 3),
    text: [
      { line: 'power', at: 1, words: (v) => `${v} mA on average` },
      { line: 'power', at: 4, words: (v) => `a 2500 mAh cell lasts ${v > 0 ? Math.round(2500 / v / 24) : '∞'} days` },
    ],
  }),
  radio_on_ms: field({
    meaning: 'time the radio was on (joining or associated) while awake, all devices, ms', how: 'the energy meter',
    compute: (r) => Math.round(sum(r, (d) => d.meter.read().radioOnMs)),
    text: { line: 'power', at: 3, words: (v) => `radio on ${formatDuration(v)};` },
  }),
  state_transitions: field({
    meaning: 'link state machine transitions', how: '`link.transition` events',
    compute: (r) => on(r, EVENTS.linkTransition).length,
  }),
  connects: field({
    meaning: 'connection attempts (secure streams opened)', how: 'counted by the simulator\'s TLS streams',
    compute: (r) => sum(r, (d) => d.net.connects),
  }),
  backoff_ms_total: field({
    meaning: 'sum of the backoff delays the firmware chose, ms', how: '`link.backoff` events',
    compute: (r) => on(r, EVENTS.linkBackoff).reduce((t, e) => t + Number(e.fields?.delayMs ?? 0), 0),
  }),
  samples_generated: field({
    meaning: 'samples the devices took in this run', how: 'queue ids issued: first boot\'s `nextSeq` to the firmware\'s last',
    compute: (r) => r.telemetry.samples_generated,
    text: { line: 'telemetry', at: 0, words: (v) => `${v} samples,` },
  }),
  samples_delivered: field({
    meaning: 'of those, samples the broker received (null: an external broker, not visible)', how: 'distinct ids on the broker\'s side',
    compute: (r) => r.telemetry.samples_delivered,
    text: { line: 'telemetry', at: 1, words: (v) => `${orNa(v)} delivered,` },
  }),
  samples_lost: field({
    meaning: 'samples neither delivered, queued nor counted as dropped (null: not visible)', how: 'consumed ids the broker never received, less those dropped',
    compute: (r) => r.telemetry.samples_lost,
    text: { line: 'telemetry', at: 3, words: (v) => `${orNa(v)} lost,` },
  }),
  duplicates: field({
    meaning: 'samples the broker received more than once (null: not visible)', how: 'ids received less distinct ids',
    compute: (r) => r.telemetry.duplicates,
    text: { line: 'telemetry', at: 4, words: (v) => `${orNa(v)} duplicates,` },
  }),
  samples_dropped: field({
    meaning: 'samples the queue dropped when full (counted and reported)', how: 'the queue\'s `droppedTotal` over the run',
    compute: (r) => r.telemetry.samples_dropped,
    text: { line: 'telemetry', at: 5, words: (v) => `${v} dropped (queue full);` },
  }),
  dropped_reported: field({
    meaning: 'dropped samples the broker was told about in batches (null: not visible)', how: 'sum of `dropped` over distinct batches',
    compute: (r) => r.telemetry.dropped_reported,
  }),
  samples_pending: field({
    meaning: 'samples still queued at the end', how: 'the queue\'s records at the end',
    compute: (r) => r.telemetry.samples_pending,
    text: { line: 'telemetry', at: 2, words: (v) => `${v} still queued,` },
  }),
  queue_max_bytes: field({
    meaning: 'largest queue size on flash, bytes', how: 'the queue\'s `maxBytes`',
    compute: (r) => r.telemetry.queue_max_bytes,
  }),
  flash_writes: field({
    meaning: 'flash writes of all devices', how: 'counted by the simulated flash',
    compute: (r) => sum(r, (d) => d.flash.writes),
    text: { line: 'telemetry', at: 6, words: (v) => `${v} flash writes` },
  }),
  flash_erases: field({
    meaning: 'flash block erases of all devices', how: 'counted by the simulated flash',
    compute: (r) => sum(r, (d) => d.flash.erases),
  }),
  configuration_faults: field({
    meaning: 'one line per distinct configuration or credential fault the firmware reported', how: '`link.configuration-fault` events',
    compute: (r) => [...new Set(on(r, EVENTS.linkConfigurationFault).map((e) => `${e.fields?.message} (check ${e.fields?.check})`))],
    lines: (v) => v.map((f) => `configuration fault: ${f}`),
  }),
  firmware: field({
    meaning: 'the firmware\'s own view of device 0 at the end (`FirmwareView`, firmware/app/view.ts)', how: 'the firmware\'s `inspect()`',
    compute: (r): DeviceInspection | null => r.finals[0] ?? null,
  }),
} as const;

export type SummaryKey = keyof typeof SUMMARY_FIELDS;

/** The `--json` summary: one value per declared field. */
export type SimSummary = { [K in SummaryKey]: ReturnType<(typeof SUMMARY_FIELDS)[K]['compute']> };

export function summarize(run: RunFacts): SimSummary {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(SUMMARY_FIELDS)) out[key] = (spec as FieldSpec<unknown>).compute(run);
  return out as SimSummary;
}

const LINES: readonly { line: Line; prefix: string }[] = [
  { line: 'run', prefix: '' },
  { line: 'devices', prefix: '' },
  { line: 'power', prefix: 'power: ' },
  { line: 'tls', prefix: 'TLS: ' },
  { line: 'telemetry', prefix: 'telemetry: ' },
];

/** The CLI's text for a summary: each line's words from the fields, in their declared places. */
export function summaryLines(s: SimSummary): string[] {
  const words = new Map<Line, { at: number; text: string }[]>();
  const extra: string[] = [];
  for (const [key, spec] of Object.entries(SUMMARY_FIELDS) as [SummaryKey, FieldSpec<unknown>][]) {
    const value = s[key];
    for (const w of spec.text === undefined ? [] : Array.isArray(spec.text) ? spec.text : [spec.text]) {
      words.set(w.line, [...(words.get(w.line) ?? []), { at: w.at, text: w.words(value, s) }]);
    }
    if (spec.lines) extra.push(...spec.lines(value));
  }
  return [
    ...LINES.map(({ line, prefix }) => prefix + (words.get(line) ?? []).sort((a, b) => a.at - b.at).map((w) => w.text).join(' ')),
    ...extra,
  ];
}

/** The declared fields with their meaning and computation, for the README check. */
export function fieldTable(): { key: SummaryKey; meaning: string; how: string }[] {
  return (Object.entries(SUMMARY_FIELDS) as [SummaryKey, FieldSpec<unknown>][]).map(([key, spec]) => ({ key, meaning: spec.meaning, how: spec.how }));
}

/** SHA-256 over one JSON line `[t, device, event, fields]` per event, in the order they happened. */
export function eventsDigest(events: readonly RecordedEvent[]): string {
  const hash = createHash('sha256');
  for (const e of events) hash.update(`${JSON.stringify([e.t, e.device, e.event, e.fields ?? null])}\n`);
  return hash.digest('hex');
}

export { accountTelemetry };
