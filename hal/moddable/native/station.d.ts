/**
 * The Wi-Fi station under hal/moddable/wifi.ts: module
 * `hal/moddable/native/station`.
 *
 * Implementations (hal/moddable/native/manifest.json):
 * - `station-esp32.js` + `station-esp32.c`: ESP-IDF directly. A join with a
 *   channel and a BSSID is a fast scan of that one channel for that access
 *   point (falling back to a full scan by itself when it is not there); the
 *   address is a configured static one, else the last DHCP lease for the same
 *   network while it is younger than half its lease time (kept in RTC memory),
 *   else DHCP.
 * - `station-sim.ts` (mac, lin, win): Moddable's `wifi` module, which stands for
 *   the host's network; hints and addresses are ignored.
 */

export interface StationJoinOptions {
  ssid: string;
  password?: string;
  /** With `bssid`: the channel of the last join (1..13). */
  channel?: number;
  /** With `channel`: the access point of the last join, `aa:bb:cc:dd:ee:ff`. */
  bssid?: string;
  /** A static IPv4 address instead of DHCP; `netmask` and `gateway` are then required, `dns` defaults to the gateway. */
  ip?: string;
  netmask?: string;
  gateway?: string;
  dns?: string;
}

export type StationEvent =
  /** Associated (`fastScan`: found by the hinted one-channel scan). */
  | { kind: 'connected'; channel: number; bssid: string; fastScan: boolean }
  /** IPv4 is up; `source` says where the address came from. */
  | { kind: 'ip'; ip: string; source: 'dhcp' | 'lease' | 'static' }
  /** The hinted access point was not found; a full scan is under way. */
  | { kind: 'fallback'; reason: number }
  /** The join failed or the association was lost (802.11 / ESP-IDF reason code). */
  | { kind: 'disconnected'; reason: number; passwordRejected: boolean }
  | { kind: 'lost-ip' };

/** Power the radio on and join; events follow through `onEvent`. Throws on bad options. */
export function join(options: StationJoinOptions, onEvent: (event: StationEvent) => void): void;

/** Disconnect and power the radio off; no event follows. */
export function leave(): void;

/** Drop the kept DHCP lease: the next join asks DHCP. */
export function forgetLease(): void;

/** The current association, if any. */
export function info(): { channel: number; bssid: string; ip?: string } | undefined;
