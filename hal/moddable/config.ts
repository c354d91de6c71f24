/**
 * mc/config (the manifests' `config`, overridden by `key=value` on the mcconfig
 * command line) to the raw configuration firmware `main` takes. Pure.
 *
 * - Only keys the firmware knows are passed (firmware CONFIG_KEYS), so Wi-Fi
 *   secrets and Moddable's own keys never reach firmware code or its logs.
 * - mcconfig stores command-line values as strings (tools/mcmanifest.js: `port=8443`
 *   becomes "8443"), so a key whose default is a number takes a string of
 *   digits as that number.
 * - `alpn` may be a comma-separated string (`alpn=x-amzn-mqtt-ca`); an empty
 *   string means none. So may `sntp` (`sntp=pool.ntp.org,time.google.com`),
 *   which becomes firmware's `timeServers`.
 */
import { CONFIG_KEYS, DEFAULTS } from '../../firmware/app/config';

/** mc/config keys with another name in firmware config (`sntp=a,b` is `timeServers`). */
const RENAMED: Readonly<Record<string, string>> = Object.freeze({ sntp: 'timeServers' });

export function firmwareKeys(): string[] {
  return CONFIG_KEYS.slice();
}

/**
 * The mc/config names of the firmware keys a command line can set (a string, a
 * number or a comma list; not an object such as `credentials`): what
 * tools/moddable/build.ts accepts as key=value.
 */
export function firmwareConfigSources(): string[] {
  const defaults = DEFAULTS as Readonly<Record<string, unknown>>;
  return firmwareKeys()
    .filter((key) => typeof defaults[key] !== 'object' || Array.isArray(defaults[key]))
    .map((key) => Object.keys(RENAMED).find((source) => RENAMED[source] === key) ?? key);
}

export function firmwareConfig(mc: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const defaults = DEFAULTS as Readonly<Record<string, unknown>>;
  const out: Record<string, unknown> = {};
  for (const key of firmwareKeys()) {
    const source = Object.keys(RENAMED).find((k) => RENAMED[k] === key);
    let value = mc[key] ?? (source === undefined ? undefined : mc[source]);
    if (value === undefined) continue;
    if (typeof defaults[key] === 'number' && typeof value === 'string' && /^\d+$/.test(value.trim())) {
      value = Number(value.trim());
    }
    if ((key === 'alpn' || key === 'timeServers') && typeof value === 'string') {
      value = value.split(',').map((p) => p.trim()).filter((p) => p.length > 0);
    }
    out[key] = value;
  }
  return out;
}
