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
  log: Log;
  /** ESP-IDF's name for the result (`ESP_OK`...), or undefined where the platform has no power save. */
  setPowerSave(mode: 0 | 1 | 2): string | undefined;
  /** Wraps every callback into firmware (the HAL drops them once halted). */
  guard(callback: () => void): void;
}

export interface ModdableWifi extends Wifi {
  /** How the first secure connection after a join went: a network failure drops a reused lease. */
  networkResult(category: LinkErrorCategory | 'ok'): void;
}

const POWER_SAVE: Readonly<Record<WifiPowerSave, 0 | 1 | 2>> = Object.freeze({ 'none': 0, 'min-modem': 1, 'max-modem': 2 });

/**
 * No capturing group: XS 8.2.3 crashed (mcsim, fx_RegExp_prototype_exec) running
 * a preloaded, frozen RegExp with a capture on a string made at run time.
 */
const MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/i;

export function createWifi(settings: WifiSettings): ModdableWifi {
  const joinTimeoutMs = settings.joinTimeoutMs ?? 30_000;
  let joining: WifiJoinOptions | undefined;
  let joined: WifiJoinOptions | undefined;
  let timer: Timer | undefined;
  let powerSave: WifiPowerSave | undefined;
  let powerSaveReported = false;
  let startedAt = 0;
  let association: { channel: number; bssid: string; fastScan: boolean } | undefined;
  /** A join on a reused lease that no secure connection has confirmed yet. */
  let leaseUnconfirmed = false;

  function stop(): void {
    if (timer) Timer.clear(timer);
    timer = undefined;
    joining = undefined;
    joined = undefined;
    association = undefined;
    station.leave();
  }

  /** Applies the mode (again: esp_wifi_start resets it) and logs what ESP-IDF answered. */
  function applyPowerSave(): void {
    if (powerSave === undefined) return;
    const result = settings.setPowerSave(POWER_SAVE[powerSave]);
    if (result !== undefined) {
      settings.log.event(EVENTS.wifiPowerSave, { mode: powerSave, result });
    } else if (!powerSaveReported) {
      powerSaveReported = true;
      settings.log.event(EVENTS.wifiPowerSaveUnsupported, { mode: powerSave });
    }
  }

  function failJoin(options: WifiJoinOptions, error: LinkError): void {
    stop();
    settings.guard(() => options.onError(error));
  }

  function onEvent(options: WifiJoinOptions, event: StationEvent): void {
    if (joining !== options && joined !== options) return;
    switch (event.kind) {
      case 'connected':
        association = { channel: event.channel, bssid: event.bssid, fastScan: event.fastScan };
        return;
      case 'fallback':
        settings.log.event(EVENTS.wifiHintMissed, { reason: event.reason, message: 'the cached access point was not found on its channel: full scan' });
        return;
      case 'ip': {
        if (joining !== options) return;
        if (timer) Timer.clear(timer);
        timer = undefined;
        joining = undefined;
        joined = options;
        leaseUnconfirmed = event.source === 'lease';
        applyPowerSave();
        const now = station.info();
        const hint: WifiHint = {
          channel: association?.channel ?? now?.channel ?? 0,
          bssid: association?.bssid ?? now?.bssid ?? '',
          ip: event.ip,
        };
        settings.log.event(EVENTS.wifiJoined, {
          ms: elapsed(Time.ticks >>> 0, startedAt),
          channel: hint.channel,
          fastScan: association?.fastScan ?? false,
          address: event.source,
        });
        settings.guard(() => options.onJoined(hint));
        return;
      }
      case 'disconnected':
      case 'lost-ip':
        if (joining === options) {
          const why = event.kind === 'disconnected' && event.passwordRejected
            ? 'the access point rejected the password'
            : `no association with "${settings.ssid ?? ''}"${event.kind === 'disconnected' ? ` (reason ${event.reason})` : ''}`;
          failJoin(options, { category: 'wifi', message: `Wi-Fi join failed: ${why} — check the Wi-Fi credentials (ssid, password)` });
          return;
        }
        stop();
        settings.guard(() => options.onLost({ category: 'wifi', message: event.kind === 'lost-ip' ? 'IP address lost' : `access point lost (reason ${event.reason})` }));
        return;
    }
  }

  return {
    join(options) {
      stop();
      joining = options;
      startedAt = Time.ticks >>> 0;
      if (settings.requiresSsid && !settings.ssid) {
        timer = Timer.set(() => failJoin(options, {
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
      timer = Timer.set(() => {
        timer = undefined;
        if (joining === options) failJoin(options, { category: 'wifi', message: `no IP address within ${joinTimeoutMs / 1000} s` });
      }, joinTimeoutMs);
      try {
        station.join(join, (event) => onEvent(options, event));
      } catch (error) {
        const text = (error as Error)?.message ?? String(error);
        if (timer) Timer.clear(timer);
        timer = Timer.set(() => failJoin(options, { category: 'wifi', message: `Wi-Fi join failed: ${text}` }), 0);
      }
    },
    leave() {
      stop();
    },
    setPowerSave(mode) {
      if (!(mode in POWER_SAVE)) throw new RangeError(`wifi: unknown power save mode ${String(mode)}`);
      powerSave = mode;
      if (joined) applyPowerSave();
    },
    networkResult(category) {
      if (!leaseUnconfirmed) return;
      leaseUnconfirmed = false;
      if (category === 'tcp' || category === 'dns' || category === 'timeout') {
        station.forgetLease();
        settings.log.event(EVENTS.wifiLeaseDropped, { category, message: 'the first connection on a reused DHCP lease failed: the next join asks DHCP' });
      }
    },
  };
}
