/**
 * Scenario files: `test-sim/scenarios/<name>.json`, or any path given to
 * `--scenario`. Shape (durations as `90s`, `10m`, `24h`):
 *
 *   {
 *     "description": "one line",
 *     "duration": "24h",
 *     "devices": 1,
 *     "boot": "1m",            (devices power on at random times within this; default all at 0)
 *     "config": { ...device configuration overrides... },
 *     "faults": [ { "at": "10m", "kind": "wifi-down", "for": "2m", "device": 0 } ]
 *   }
 *
 * Fault kinds (`for` is how long the fault lasts; the device faults act on
 * `device`, default 0). What each does is in test-sim/faults/faults.ts.
 *   wifi-down       the access point disappears
 *   power-cut       the device loses power: RAM, RTC memory and the RTC clock are lost, flash is kept;
 *                   power returns after `for` (boot reason power-on)
 *   reset           the device resets (a panic, the reset button): RAM is lost, RTC memory and the RTC
 *                   clock are kept; it boots again at once (boot reason reset; `for` is ignored)
 *   sleep-fail      the device's next deep-sleep entry fails and it restarts instead (boot reason
 *                   reset), as ESP32 firmware does when esp_deep_sleep_start cannot sleep (`for` is ignored)
 *   broker-down     the broker's address refuses connections; open ones are reset
 *   blackhole       the path to the broker silently drops every packet; TCP stays half-open
 *   tcp-reset       one TCP reset of every open connection (`for` is ignored)
 *   dns-down        the endpoint name does not resolve
 *   connack-refused the broker answers CONNECT with return code `code` (default 3)
 *   flash-bitflip   one bit of the device's flash flips, in a byte the firmware wrote (`for` is ignored)
 *   puback-reorder  the broker holds each PUBACK until the next one has gone out (at most 2 s):
 *                   acknowledgements arrive out of order (test-sim/endpoint/hostile.ts)
 *   puback-withhold the broker holds every PUBACK until the fault ends; a connection the device
 *                   closed meanwhile loses its held PUBACKs
 *   qos2-flood      the broker sends 40 QoS 2 PUBLISHes, never followed by PUBREL, on every
 *                   connection (at the start on open ones, after CONNACK on new ones)
 *   packet-before-connack  the broker sends a PUBACK before its CONNACK on every new connection
 *   time-skew       the time servers lie: every answer is off by `skew` ("+3650d" in the future,
 *                   "-400d" in the past); only the server named `server` lies when it is given
 */
import { CONFIG_KEYS, ConfigError, resolveConfig } from '../../firmware/app/config';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseDuration } from '../cli/duration';
import { ROOT } from '../root';

export const FAULT_KINDS = [
  'wifi-down', 'power-cut', 'reset', 'sleep-fail', 'broker-down', 'blackhole', 'tcp-reset', 'dns-down', 'connack-refused',
  'flash-bitflip', 'puback-reorder', 'puback-withhold', 'qos2-flood', 'packet-before-connack', 'time-skew',
] as const;
/** Kinds that happen at one instant: `for` may be left out. */
const INSTANT_KINDS: readonly FaultKind[] = ['reset', 'sleep-fail', 'tcp-reset', 'flash-bitflip'];
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface Fault {
  kind: FaultKind;
  atMs: number;
  forMs: number;
  device?: number;
  /** CONNACK return code for connack-refused. */
  code?: number;
  /** time-skew: how far the servers' answers are off, ms (negative: in the past). */
  skewMs?: number;
  /** time-skew: the one server that lies (default every server). */
  server?: string;
}

export interface Scenario {
  name: string;
  description: string;
  durationMs: number;
  devices: number;
  /** Devices power on uniformly within this many ms (seeded). */
  bootSpreadMs: number;
  config: Record<string, unknown>;
  faults: Fault[];
}

/** A mistake in what the user gave us: reported as one line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const SCENARIO_DIR = join(ROOT, 'test-sim', 'scenarios');

export function loadScenario(nameOrPath: string): Scenario {
  const path = nameOrPath.endsWith('.json') || nameOrPath.includes('/') ? nameOrPath : join(SCENARIO_DIR, `${nameOrPath}.json`);
  if (!existsSync(path)) {
    throw new UsageError(`scenario not found: ${nameOrPath} (no file ${path}); built-in scenarios are in test-sim/scenarios/`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`scenario ${path} is not valid JSON: ${(error as Error).message}`);
  }
  const scenario = parseScenario(raw, basename(path, '.json'), path);
  checkDeviceConfig(scenario, path);
  return scenario;
}

/**
 * A scenario file's `config` is the firmware's: checked with the firmware's own
 * checker (and for unknown keys) before a run, since a bad value would
 * otherwise give an idle device or a crash loop. Test apps with their own
 * config build scenarios with `parseScenario` and skip this.
 */
export function checkDeviceConfig(scenario: Scenario, where = scenario.name): void {
  for (const key of Object.keys(scenario.config)) {
    if (!CONFIG_KEYS.includes(key)) throw new UsageError(`scenario ${where}: config.${key} is not a device configuration key (known: ${CONFIG_KEYS.join(', ')})`);
  }
  try {
    resolveConfig(scenario.config);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new UsageError(`scenario ${where}: ${error.message}`);
  }
}

export function parseScenario(raw: unknown, name: string, where = name): Scenario {
  const fail = (what: string): never => {
    throw new UsageError(`scenario ${where}: ${what}`);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('must be a JSON object');
  const r = raw as Record<string, unknown>;
  const known = ['description', 'duration', 'devices', 'boot', 'config', 'faults'];
  for (const key of Object.keys(r)) if (!known.includes(key)) fail(`unknown key "${key}" (known: ${known.join(', ')})`);
  const duration = (key: string, value: unknown, allowZero = false): number =>
    (typeof value === 'string' ? parseDuration(value, allowZero) : undefined) ?? fail(`${key} must be a duration like "90s", "10m" or "24h", got ${JSON.stringify(value)}`);
  const devices = r.devices ?? 1;
  if (!Number.isInteger(devices) || (devices as number) < 1 || (devices as number) > 10000) fail('devices must be an integer from 1 to 10000');
  const config = r.config ?? {};
  if (typeof config !== 'object' || config === null || Array.isArray(config)) fail('config must be an object');

  const faults = r.faults ?? [];
  if (!Array.isArray(faults)) fail('faults must be an array');
  return {
    name,
    description: typeof r.description === 'string' ? r.description : '',
    durationMs: duration('duration', r.duration ?? '1h'),
    devices: devices as number,
    bootSpreadMs: r.boot === undefined ? 0 : duration('boot', r.boot, true),
    config: config as Record<string, unknown>,
    faults: (faults as unknown[]).map((f, i) => {
      if (typeof f !== 'object' || f === null) fail(`faults[${i}] must be an object`);
      const fault = f as Record<string, unknown>;
      if (!FAULT_KINDS.includes(fault.kind as FaultKind)) fail(`faults[${i}].kind must be one of ${FAULT_KINDS.join(', ')}`);
      const device = fault.device ?? 0;
      if (!Number.isInteger(device) || (device as number) < 0 || (device as number) >= (devices as number)) {
        fail(`faults[${i}].device must name a device from 0 to ${(devices as number) - 1}`);
      }
      const code = fault.code ?? 3;
      if (!Number.isInteger(code) || (code as number) < 1 || (code as number) > 5) fail(`faults[${i}].code must be a CONNACK refusal code from 1 to 5`);
      let skewMs: number | undefined;
      if (fault.kind === 'time-skew') {
        const match = typeof fault.skew === 'string' ? /^([+-])(.+)$/.exec(fault.skew) : null;
        const size = match ? parseDuration(match[2]) : undefined;
        if (!match || size === undefined) fail(`faults[${i}].skew must be a signed duration like "+3650d" or "-400d", got ${JSON.stringify(fault.skew)}`);
        skewMs = match![1] === '-' ? -size! : size!;
        if (fault.server !== undefined && (typeof fault.server !== 'string' || fault.server.length === 0)) fail(`faults[${i}].server must be a time server's host name`);
      }
      return {
        kind: fault.kind as FaultKind,
        atMs: duration(`faults[${i}].at`, fault.at, true),
        forMs: INSTANT_KINDS.includes(fault.kind as FaultKind) && fault.for === undefined ? 0 : duration(`faults[${i}].for`, fault.for),
        device: device as number,
        code: code as number,
        ...(skewMs === undefined ? {} : { skewMs, server: fault.server as string | undefined }),
      };
    }),
  };
}
