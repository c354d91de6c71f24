/**
 * The HAL's Wi-Fi station over `hal/moddable/native/station` (ESP-IDF directly
 * on ESP32; Moddable's `wifi` module, the host's network, on the simulator).
 *
 * - `join` passes the firmware's hint back: with a channel and a BSSID the ESP32
 *   station probes that one channel for that access point (WIFI_FAST_SCAN),
 *   falling back to a full scan by itself when it is gone (logged
 *   `wifi.hint-missed`), and takes its address from a configured static one,
 *   else from the last DHCP lease of that network while younger than half its
 *   lease, else from DHCP. `wifi.joined` logs how: fast scan or not, address
 *   source, milliseconds.
 * - A "disconnected" before an address is a failed join, after it a lost link;
 *   a join without an address after `joinTimeoutMs` fails too.
 * - A reused lease is confirmed by the first secure connection after the join;
 *   if that fails on the network (tcp, dns, timeout), the lease is dropped so
 *   the next join asks DHCP (`networkResult`).
 * - One StationWifi per boot: a class at module top level, so its methods
 *   keep their byte code in flash (hal.ts explains why).
 * - `leave` disconnects and powers the radio off. The power-save mode is
 *   applied after every join (esp_wifi_start resets it), and ESP-IDF's answer
 *   logged (`wifi.power-save`).
 */
import Time from 'time';
import Timer from 'timer';
import type { LinkError, LinkErrorCategory, Log, Wifi, WifiHint, WifiJoinOptions, WifiPowerSave } from '../types';
import { EVENTS } from '../events';
import { elapsed } from '../../firmware/util/time';
import * as station from './native/station';
import type { StationEvent, StationJoinOptions } from './native/station';

export interface StaticAddress {
  ip: string;
  netmask: string;
  gateway: string;
  dns?: string;
}

export interface WifiSettings {
  /** From the credential store or mc/config `ssid`; the simulator does not need one. */
  ssid: string | undefined;
  password: string | undefined;
  /** mc/config `staticIp`, `netmask`, `gateway`, `dns`: no DHCP at all. */
  address?: StaticAddress;
  /** The platform has a real radio (ESP32): an ssid is required. */
  requiresSsid: boolean;
  joinTimeoutMs?: number;
}

/** What the station needs from the HAL it serves. */
export interface WifiHost {
  readonly log: Log;
  /** True once the HAL is halted: no callback reaches firmware any more. */
  readonly halted: boolean;
  /** ESP-IDF's name for the result (`ESP_OK`...), or undefined where the platform has no power save. */
  setPowerSave(mode: 0 | 1 | 2): string | undefined;
  /** A join got its address (before firmware's `onJoined`, and only while not halted). */
  joined(): void;
}

const POWER_SAVE: Readonly<Record<WifiPowerSave, 0 | 1 | 2>> = Object.freeze({ 'none': 0, 'min-modem': 1, 'max-modem': 2 });

/**
 * No capturing group: XS 8.2.3 crashed (mcsim, fx_RegExp_prototype_exec) running
 * a preloaded, frozen RegExp with a capture on a string made at run time.
 */
const MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/i;

export class StationWifi implements Wifi {
  readonly joinTimeoutMs: number;
  joining: WifiJoinOptions | undefined;
  joined: WifiJoinOptions | undefined;
  timer: Timer | undefined;
  powerSave: WifiPowerSave | undefined;
  powerSaveReported = false;
  startedAt = 0;
  association: { channel: number; bssid: string; fastScan: boolean } | undefined;
  /** A join on a reused lease that no secure connection has confirmed yet. */
  leaseUnconfirmed = false;

  constructor(readonly settings: WifiSettings, readonly host: WifiHost) {
    this.joinTimeoutMs = settings.joinTimeoutMs ?? 30_000;
  }

  stop(): void {
    if (this.timer) Timer.clear(this.timer);
    this.timer = undefined;
    this.joining = undefined;
    this.joined = undefined;
    this.association = undefined;
    station.leave();
  }

  /** Applies the mode (again: esp_wifi_start resets it) and logs what ESP-IDF answered. */
  applyPowerSave(): void {
    if (this.powerSave === undefined) return;
    const result = this.host.setPowerSave(POWER_SAVE[this.powerSave]);
    if (result !== undefined) {
      this.host.log.event(EVENTS.wifiPowerSave, { mode: this.powerSave, result });
    } else if (!this.powerSaveReported) {
      this.powerSaveReported = true;
      this.host.log.event(EVENTS.wifiPowerSaveUnsupported, { mode: this.powerSave });
    }
  }

  failJoin(options: WifiJoinOptions, error: LinkError): void {
    this.stop();
    if (!this.host.halted) options.onError(error);
  }

  /** The join deadline passed. */
  joinTimedOut(options: WifiJoinOptions): void {
    this.timer = undefined;
    if (this.joining === options) this.failJoin(options, { category: 'wifi', message: `no IP address within ${this.joinTimeoutMs / 1000} s` });
  }

  onEvent(options: WifiJoinOptions, event: StationEvent): void {
    if (this.joining !== options && this.joined !== options) return;
    const host = this.host;
    switch (event.kind) {
      case 'connected':
        this.association = { channel: event.channel, bssid: event.bssid, fastScan: event.fastScan };
        return;
      case 'fallback':
        host.log.event(EVENTS.wifiHintMissed, { reason: event.reason, message: 'the cached access point was not found on its channel: full scan' });
        return;
      case 'ip': {
        if (this.joining !== options) return;
        if (this.timer) Timer.clear(this.timer);
        this.timer = undefined;
        this.joining = undefined;
        this.joined = options;
        this.leaseUnconfirmed = event.source === 'lease';
        this.applyPowerSave();
        const now = station.info();
        const association = this.association;
        const hint: WifiHint = {
          channel: association?.channel ?? now?.channel ?? 0,
          bssid: association?.bssid ?? now?.bssid ?? '',
          ip: event.ip,
        };
        host.log.event(EVENTS.wifiJoined, {
          ms: elapsed(Time.ticks >>> 0, this.startedAt),
          channel: hint.channel,
          fastScan: association?.fastScan ?? false,
          address: event.source,
        });
        if (!host.halted) {
          host.joined();
          options.onJoined(hint);
        }
        return;
      }
      case 'disconnected':
      case 'lost-ip':
        if (this.joining === options) {
          const why = event.kind === 'disconnected' && event.passwordRejected
            ? 'the access point rejected the password'
            : `no association with "${this.settings.ssid ?? ''}"${event.kind === 'disconnected' ? ` (reason ${event.reason})` : ''}`;
          this.failJoin(options, { category: 'wifi', message: `Wi-Fi join failed: ${why} — check the Wi-Fi credentials (ssid, password)` });
          return;
        }
        this.stop();
        if (!host.halted) options.onLost({ category: 'wifi', message: event.kind === 'lost-ip' ? 'IP address lost' : `access point lost (reason ${event.reason})` });
        return;
    }
  }

  join(options: WifiJoinOptions): void {
    const settings = this.settings;
    this.stop();
    this.joining = options;
    this.startedAt = Time.ticks >>> 0;
    if (settings.requiresSsid && !settings.ssid) {
      this.timer = Timer.set(this.failJoin.bind(this, options, {
        category: 'wifi',
        message: 'no Wi-Fi network configured — flash the credential store with ssid=NAME (npm run flash:esp32 -- --credentials DIR ssid=NAME)',
      }), 0);
      return;
    }
    const join: StationJoinOptions = { ssid: settings.ssid ?? 'simulator' };
    if (settings.password) join.password = settings.password;
    const hint = options.hint;
    if (hint && Number.isInteger(hint.channel) && hint.channel >= 1 && hint.channel <= 13 && MAC.test(hint.bssid)) {
      join.channel = hint.channel;
      join.bssid = hint.bssid;
    }
    if (settings.address) Object.assign(join, settings.address);
    this.timer = Timer.set(this.joinTimedOut.bind(this, options), this.joinTimeoutMs);
    try {
      station.join(join, this.onEvent.bind(this, options));
    } catch (error) {
      const text = (error as Error)?.message ?? String(error);
      if (this.timer) Timer.clear(this.timer);
      this.timer = Timer.set(this.failJoin.bind(this, options, { category: 'wifi', message: `Wi-Fi join failed: ${text}` }), 0);
    }
  }

  leave(): void {
    this.stop();
  }

  setPowerSave(mode: WifiPowerSave): void {
    if (!(mode in POWER_SAVE)) throw new RangeError(`wifi: unknown power save mode ${String(mode)}`);
    this.powerSave = mode;
    if (this.joined) this.applyPowerSave();
  }

  /** How the first secure connection after a join went: a network failure drops a reused lease. */
  networkResult(category: LinkErrorCategory | 'ok'): void {
    if (!this.leaseUnconfirmed) return;
    this.leaseUnconfirmed = false;
    if (category === 'tcp' || category === 'dns' || category === 'timeout') {
      station.forgetLease();
      this.host.log.event(EVENTS.wifiLeaseDropped, { category, message: 'the first connection on a reused DHCP lease failed: the next join asks DHCP' });
    }
  }
}
