/**
 * The simulated ESP32 Wi-Fi station's behaviour. The radio cannot run here, so
 * this models it: join latency by what the platform can skip, loss when the
 * access point goes away, and the radio's power state for the energy meter.
 *
 * A join is a scan for the access point, authentication and association
 * (with the WPA2 4-way handshake), then an address. What the platform can
 * shorten is declared in `PlatformCapabilities.wifiJoin` (hal/sim/capabilities.ts,
 * held equal to hal/moddable's): the simulator credits a shortcut only when it
 * is declared there and the firmware passed a hint that allows it.
 */
import type { PlatformCapabilities, WifiHint } from '../../hal/types';

export type RadioState = 'off' | 'joining' | 'associated';

/**
 * Parts of an ESP32 WPA2 join, ms. The totals are measured; the split is
 * derived from them and from two partial measurements, so each part is an
 * estimate:
 * - cold join (full scan + association + DHCP) ≈ 900 ms and a join with
 *   channel, BSSID and static IP ≈ 200 ms: T. von Eicken, "Low power Wi-Fi
 *   ESP32" (2018), also in firmware/link/energy.ts (`joinColdMs`, `joinHintMs`);
 * - a fast scan of the one known channel ≈ 120 ms: esp32.io forum, "Wifi Fast
 *   Scan on specific channel only" (2019, ESP32 at 240 MHz);
 * - DHCP from association to an address: 20–30 ms to 200–400 ms depending on
 *   the access point (espressif esp-hal issue #2274, ESP32-C6, 2024); taken
 *   as 200 ms;
 * - association and 4-way handshake: 200 − 120 = 80 ms; the full scan:
 *   900 − 80 − 200 = 620 ms.
 */
export const JOIN_PARTS = Object.freeze({
  fullScanMs: 620,
  fastScanMs: 120,
  associateMs: 80,
  dhcpMs: 200,
});

export interface WifiTiming {
  /** How long a join tries before it reports failure when no AP answers, ms. */
  joinTimeoutMs: number;
  /** How the platform may shorten a join (hal/sim/capabilities.ts). */
  joinKinds: PlatformCapabilities['wifiJoin'];
}

export const ACCESS_POINT: WifiHint = Object.freeze({ channel: 6, bssid: '02:00:5e:10:00:01', ip: '10.0.0.42' });

/** How one join goes: which shortcuts applied and how long it takes. */
export interface JoinPlan {
  scan: 'full' | 'channel-bssid';
  address: 'dhcp' | 'cached';
  ms: number;
}

/** The join a platform with `kinds` makes with `hint`: a shortcut only where declared and where the hint still fits the AP. */
export function planJoin(kinds: PlatformCapabilities['wifiJoin'], hint: WifiHint | null): JoinPlan {
  const fits = hint !== null && hint.bssid === ACCESS_POINT.bssid && hint.channel === ACCESS_POINT.channel;
  const scan = fits && kinds.includes('channel-bssid') ? 'channel-bssid' : 'full';
  const address = fits && hint.ip === ACCESS_POINT.ip && kinds.includes('cached-ip') ? 'cached' : 'dhcp';
  const ms = (scan === 'full' ? JOIN_PARTS.fullScanMs : JOIN_PARTS.fastScanMs) + JOIN_PARTS.associateMs
    + (address === 'dhcp' ? JOIN_PARTS.dhcpMs : 0);
  return { scan, address, ms };
}

export class SimWifi {
  state: RadioState = 'off';
  /** Whether the access point is reachable (fault injection clears it). */
  apUp = true;
  joins = 0;
  joinFailures = 0;
  losses = 0;

  constructor(readonly timing: WifiTiming) {}

  /** This attempt's join, or undefined when the AP is down (then it fails after `joinTimeoutMs`). */
  join(hint: WifiHint | null): JoinPlan | undefined {
    if (!this.apUp) return undefined;
    return planJoin(this.timing.joinKinds, hint);
  }
}
