/**
 * The device configuration: every key a user sets (through mcconfig `config`
 * on Moddable, a scenario's `config` in the simulator). `resolveConfig` fills
 * defaults and refuses a bad value with one line naming the key. `DEFAULTS`
 * is the one source of default values; manifests/app.json repeats some of
 * them for mcconfig, and a test holds the two equal.
 */
import type { LinkConfig } from '../link/config';
import { DEFAULT_POLICY } from '../link/decide';
import { sizeOf } from '../mqtt/codec';
import { PROFILES, checkClientId, checkPublish, type ProfileName } from '../mqtt/profile';

export interface DeviceConfig extends LinkConfig {
  /** Telemetry topic; `{thing}` is replaced. AWS guidance: `dt/<app>/<thing>/<type>`. */
  topic: string;
  keepAliveS: number;
  /** PUBACK deadline; 0 means twice the keepalive. */
  pubackTimeoutMs: number;
  sampleIntervalMs: number;
  uploadIntervalMs: number;
  powerMode: 'auto' | 'always' | 'duty';
  /** Chip, for the power policy's energy profile (firmware/power/policy.ts). */
  chip: 'esp32' | 'esp32s3' | 'esp32c3';
  /** SNTP servers; with two or more, a time is taken only when two agree. */
  timeServers: string[];
  /** When this firmware was built (ms since the epoch): no earlier time is accepted. tools/moddable/build.ts writes it. */
  buildTimeMs: number;
  /** Re-sync the clock after this long. */
  timeResyncMs: number;
}

export const DEFAULTS = Object.freeze({
  thing: 'sim-thing-1',
  endpoint: 'local-ats.iot.sim-local-1.amazonaws.com',
  port: 443,
  profile: 'aws' as ProfileName,
  credentials: Object.freeze({ ca: 'root-ca.pem', certificate: 'device.pem', key: 'device.key' }),
  topic: 'dt/fieldlink/{thing}/telemetry',
  keepAliveS: 1200,
  pubackTimeoutMs: 0,
  sampleIntervalMs: 60_000,
  uploadIntervalMs: 15 * 60_000,
  powerMode: 'auto' as const,
  chip: 'esp32' as const,
  timeServers: Object.freeze(['pool.ntp.org', 'time.google.com', 'time.cloudflare.com']),
  // The release date of this firmware version: the floor when the build did not say.
  buildTimeMs: Date.UTC(2026, 0, 1),
  timeResyncMs: 86_400_000,
});

/** Every key `resolveConfig` reads: those with a default, and those derived from others when absent. */
export const CONFIG_KEYS: readonly string[] = Object.freeze([...Object.keys(DEFAULTS), 'serverName', 'alpn', 'backoff']);

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function resolveConfig(raw: unknown): DeviceConfig {
  const r = (raw ?? {}) as Record<string, unknown>;
  const fail = (key: string, want: string): never => {
    throw new ConfigError(`config.${key} must be ${want}, got ${JSON.stringify(r[key])}`);
  };
  /** The value set for `key`, else `fallback` (by default the key's entry in DEFAULTS). */
  const get = (key: string, fallback?: unknown): unknown => r[key] ?? fallback ?? (DEFAULTS as Record<string, unknown>)[key];
  const str = (key: string, fallback?: string): string => {
    const v = get(key, fallback);
    return typeof v === 'string' && v.length > 0 ? v : fail(key, 'a non-empty string');
  };
  const int = (key: string, min: number, max: number): number => {
    const v = get(key);
    return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : fail(key, `an integer from ${min} to ${max}`);
  };
  const oneOf = <T extends string>(key: string, allowed: readonly T[]): T => {
    const v = get(key);
    return allowed.includes(v as T) ? (v as T) : fail(key, allowed.map((a) => `"${a}"`).join(' or '));
  };
  const profile = oneOf<ProfileName>('profile', ['aws', 'generic']);
  const powerMode = oneOf('powerMode', ['auto', 'always', 'duty'] as const);
  const endpoint = str('endpoint');
  const port = int('port', 1, 65535);
  const thing = str('thing');
  const idError = checkClientId(PROFILES[profile], thing);
  if (idError) throw new ConfigError(`config.thing "${thing}": ${idError.message}`);
  /** A copy of an array of non-empty strings (at least `min`), the fallback when absent. */
  const names = (key: string, fallback: readonly string[] | undefined, min: number, want: string): string[] => {
    const v = get(key, fallback);
    return Array.isArray(v) && v.length >= min && v.every((p) => typeof p === 'string' && p.length > 0) ? v.slice() : fail(key, want);
  };
  const alpn = names('alpn', port === 443 && profile === 'aws' ? ['x-amzn-mqtt-ca'] : [], 0, 'an array of protocol names');
  const timeServers = names('timeServers', undefined, 1, 'a non-empty array of host names');
  const c = get('credentials') as Record<string, unknown>;
  if (![c.ca, c.certificate, c.key].every((v) => typeof v === 'string')) fail('credentials', 'an object with ca, certificate and key names');
  const credentials = { ca: c.ca as string, certificate: c.certificate as string, key: c.key as string };
  const sampleIntervalMs = int('sampleIntervalMs', 1000, 86_400_000);
  const b = (r.backoff ?? {}) as Record<string, unknown>;
  if (typeof b !== 'object' || b === null || Array.isArray(b)) fail('backoff', 'an object with baseMs, capMs and jitter');
  const backoff: DeviceConfig['backoff'] = {};
  for (const key of ['baseMs', 'capMs'] as const) {
    if (b[key] === undefined) continue;
    const v = b[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 0xffffffff) fail('backoff', `${key} as an integer of milliseconds`);
    backoff[key] = v as number;
  }
  if (b.jitter !== undefined) {
    if (b.jitter !== 'full' && b.jitter !== 'none') fail('backoff', 'jitter "full" or "none"');
    backoff.jitter = b.jitter as 'full' | 'none';
  }
  const network = { ...DEFAULT_POLICY.network, ...backoff };
  if (network.capMs < network.baseMs) {
    throw new ConfigError(`config.backoff capMs (${network.capMs}) must be at least baseMs (${network.baseMs})`);
  }
  const keepAliveS = int('keepAliveS', 0, 65535);
  const topic = str('topic').split('{thing}').join(thing);
  let topicError: Error | undefined = checkPublish(PROFILES[profile], topic, 0, 1);
  // What MQTT itself forbids in a topic (wildcards, ill-formed UTF-8) only the encoder checks.
  try {
    sizeOf({ type: 'publish', topic, payload: new Uint8Array(0), qos: 0, retain: false, dup: false });
  } catch (error) {
    topicError = error as Error;
  }
  if (topicError || (profile === 'aws' && topic.charCodeAt(0) === 0x24)) {
    throw new ConfigError(`config.topic "${topic}": ${topicError ? topicError.message : 'a leading "$" is reserved: AWS IoT reserves $ topics'}`);
  }
  return {
    thing,
    endpoint,
    port,
    serverName: str('serverName', endpoint),
    alpn,
    profile,
    credentials,
    topic,
    keepAliveS,
    pubackTimeoutMs: int('pubackTimeoutMs', 0, 0x7fffffff),
    sampleIntervalMs,
    uploadIntervalMs: int('uploadIntervalMs', sampleIntervalMs, 7 * 86_400_000),
    powerMode,
    chip: oneOf('chip', ['esp32', 'esp32s3', 'esp32c3'] as const),
    timeServers,
    buildTimeMs: int('buildTimeMs', 0, 2 ** 48),
    timeResyncMs: int('timeResyncMs', 60_000, 0x7fffffff),
    backoff,
  };
}
