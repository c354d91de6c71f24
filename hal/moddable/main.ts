/**
 * The Moddable entry (manifests set `creation.main` to this module): reads
 * mc/config and the credential store, installs the TextEncoder/TextDecoder
 * globals firmware/util/text expects, and boots firmware `main` on the Moddable
 * HAL.
 *
 * The credential store (hal/moddable/store-layout.ts: NVS on ESP32, files on
 * the simulator) is per device and wins over mc/config, which is the same for
 * a whole fleet: `endpoint`, `thing`, `port`, Wi-Fi `ssid` and `password`, a
 * static address. Only firmware's own keys reach firmware (config.ts): the
 * Wi-Fi password never does.
 *
 * To feed a real sensor, write your own entry that calls `startDevice` with a
 * `sensor` hook, and point `creation.main` at it.
 */
import config from 'mc/config';
import TextDecoder from 'text/decoder';
import TextEncoder from 'text/encoder';
import { main } from '../../firmware/app/main';
import { firmwareConfig } from './config';
import { startDevice, type ModdablePlatform } from './hal';
import { read as readStore, where as storeWhere } from './native/credentials';
import { STORE_FILES, STORE_TEXT } from './store-layout';

/** Not preloaded: assignments to the global object must happen at run time. */
function installTextCodecs(): void {
  const g = globalThis as Record<string, unknown>;
  g.TextEncoder ??= TextEncoder;
  g.TextDecoder ??= TextDecoder;
}

/** The store's text entries, and the names of every entry it has (never the values). */
function readStoreText(): { text: Record<string, string>; entries: string[] } {
  const text: Record<string, string> = {};
  const entries: string[] = [];
  for (const name of STORE_FILES) if (readStore(name) !== undefined) entries.push(name);
  for (const name of STORE_TEXT) {
    const bytes = readStore(name);
    if (bytes === undefined) continue;
    entries.push(name);
    text[name] = String.fromArrayBuffer(bytes); // XS checks the UTF-8 (throws on bad bytes)
  }
  return { text, entries };
}

/** A non-empty text setting, or undefined. */
function text(mc: Record<string, unknown>, key: string): string | undefined {
  return typeof mc[key] === 'string' && mc[key] !== '' ? (mc[key] as string) : undefined;
}

export default function (): void {
  installTextCodecs();
  const stored = readStoreText();
  const mc = { ...(config as Record<string, unknown>), ...stored.text };
  const staticIp = text(mc, 'staticIp');
  startDevice(main, {
    platform: (text(mc, 'halPlatform') ?? 'simulator') as ModdablePlatform,
    config: firmwareConfig(mc),
    ssid: text(mc, 'ssid'),
    password: text(mc, 'password'),
    address: staticIp ? { ip: staticIp, netmask: text(mc, 'netmask') ?? '', gateway: text(mc, 'gateway') ?? '', dns: text(mc, 'dns') } : undefined,
    flashPartition: text(mc, 'flashPartition'),
    store: { where: storeWhere(), entries: stored.entries },
  });
}
