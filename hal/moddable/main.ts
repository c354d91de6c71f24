/**
 * The Moddable entry (manifests set `creation.main` to this module): reads
 * mc/config, installs the TextEncoder/TextDecoder globals firmware/util/text
 * expects, and boots firmware `main` on the Moddable HAL.
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

/** Not preloaded: assignments to the global object must happen at run time. */
function installTextCodecs(): void {
  const g = globalThis as Record<string, unknown>;
  g.TextEncoder ??= TextEncoder;
  g.TextDecoder ??= TextDecoder;
}

export default function (): void {
  installTextCodecs();
  const mc = config as Record<string, unknown>;
  const text = (key: string): string | undefined => (typeof mc[key] === 'string' && mc[key] !== '' ? (mc[key] as string) : undefined);
  const staticIp = text('staticIp');
  startDevice(main, {
    platform: (text('halPlatform') ?? 'simulator') as ModdablePlatform,
    config: firmwareConfig(mc),
    ssid: text('ssid'),
    password: text('password'),
    address: staticIp ? { ip: staticIp, netmask: text('netmask') ?? '', gateway: text('gateway') ?? '', dns: text('dns') } : undefined,
    flashPartition: text('flashPartition'),
  });
}
