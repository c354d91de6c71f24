/**
 * The station interface over Moddable's `wifi` module (the legacy one:
 * modules/network/wifi; on ESP32 `esp32/xs6wifi.c`, on the simulator
 * `sim/wifi.js`, which stands for the host's own network and reports
 * "connect" then "gotIP" about a second apart).
 *
 * - `join` makes a WiFi instance with the ssid and password from mc/config. On
 *   ESP32 the module retries the association itself
 *   (MODDEF_WIFI_ESP32_CONNECT_RETRIES) before it reports "disconnect"; a
 *   "disconnect" before "gotIP" is a failed join, after it a lost link. A join
 *   that has no address after `joinTimeoutMs` fails too.
 * - The hint's channel is passed back on the next join (ESP-IDF starts its scan
 *   there). The BSSID is not: a stale one would pin the join to an access point
 *   that may be gone, and Moddable scans every channel anyway.
 * - `leave` disconnects and, where the module has `WiFi.Mode.off` (ESP32),
 *   turns the radio off (esp_wifi_stop + deinit). The power-save mode is
 *   applied again after every join, since esp_wifi_init resets it.
 */
import Net from 'net';
import Timer from 'timer';
import WiFi from 'wifi';
import type { LinkError, Log, Wifi, WifiHint, WifiJoinOptions, WifiPowerSave } from '../types';

export interface WifiSettings {
  /** From mc/config `ssid`; the simulator does not need one. */
  ssid: string | undefined;
  password: string | undefined;
  /** The platform has a real radio (ESP32): an ssid is required. */
  requiresSsid: boolean;
  joinTimeoutMs?: number;
  log: Log;
  setPowerSave(mode: 0 | 1 | 2): boolean;
  /** Wraps every callback into firmware (the HAL drops them once halted). */
  guard(callback: () => void): void;
}

const POWER_SAVE: Readonly<Record<WifiPowerSave, 0 | 1 | 2>> = Object.freeze({ 'none': 0, 'min-modem': 1, 'max-modem': 2 });

/** `WiFi.connect` options on ESP32 also take `channel` (xs6wifi.c), which the typings lack. */
type ConnectOptions = ConstructorParameters<typeof WiFi>[0] & { channel?: number };

/** `Net.get("CHANNEL")` exists on ESP32 (modules/network/net/esp/modNet.c) but not in the typings. */
const netGet = Net.get as (what: string) => unknown;

export function createWifi(settings: WifiSettings): Wifi {
  const joinTimeoutMs = settings.joinTimeoutMs ?? 30_000;
  let station: WiFi | undefined;
  let joining: WifiJoinOptions | undefined;
  let joined: WifiJoinOptions | undefined;
  let timer: Timer | undefined;
  let powerSave: WifiPowerSave | undefined;
  let powerSaveReported = false;

  function stop(): void {
    if (timer) Timer.clear(timer);
    timer = undefined;
    joining = undefined;
    joined = undefined;
    if (station) {
      station.close();
      station = undefined;
      WiFi.disconnect();
    }
  }

  function applyPowerSave(): void {
    if (powerSave === undefined) return;
    if (!settings.setPowerSave(POWER_SAVE[powerSave]) && !powerSaveReported) {
      powerSaveReported = true;
      settings.log.event('wifi.power-save-unsupported', { mode: powerSave });
    }
  }

  function failJoin(options: WifiJoinOptions, error: LinkError): void {
    stop();
    settings.guard(() => options.onError(error));
  }

  function hint(): WifiHint {
    const channel = Number(netGet('CHANNEL'));
    const bssid = netGet('BSSID');
    const ip = netGet('IP');
    return {
      channel: Number.isInteger(channel) ? channel : 0,
      bssid: typeof bssid === 'string' ? bssid : '',
      ...(typeof ip === 'string' ? { ip } : {}),
    };
  }

  function onNotify(message: string, reason?: number): void {
    if (message === WiFi.gotIP) {
      const options = joining;
      if (!options) return;
      if (timer) Timer.clear(timer);
      timer = undefined;
      joining = undefined;
      joined = options;
      applyPowerSave();
      const h = hint();
      settings.guard(() => options.onJoined(h));
      return;
    }
    if (message === WiFi.disconnected || message === WiFi.lostIP) {
      if (joining) {
        const why = reason === -1 ? 'the access point rejected the password' : `no association with "${settings.ssid ?? ''}"`;
        failJoin(joining, { category: 'wifi', message: `Wi-Fi join failed: ${why} — check ssid= and password=` });
        return;
      }
      const options = joined;
      if (!options) return;
      stop();
      settings.guard(() => options.onLost({ category: 'wifi', message: message === WiFi.lostIP ? 'IP address lost' : 'access point lost' }));
    }
  }

  return {
    join(options) {
      stop();
      joining = options;
      if (settings.requiresSsid && !settings.ssid) {
        timer = Timer.set(() => failJoin(options, {
          category: 'wifi',
          message: 'no Wi-Fi network configured — build with ssid=NAME password=SECRET (mcconfig config)',
        }), 0);
        return;
      }
      const connect: ConnectOptions = { ssid: settings.ssid ?? 'simulator' };
      if (settings.password) connect.password = settings.password;
      const channel = options.hint?.channel;
      if (channel !== undefined && channel >= 1 && channel <= 13) connect.channel = channel;
      timer = Timer.set(() => {
        timer = undefined;
        if (joining === options) failJoin(options, { category: 'wifi', message: `no IP address within ${joinTimeoutMs / 1000} s` });
      }, joinTimeoutMs);
      try {
        station = new WiFi(connect, onNotify);
      } catch (error) {
        const text = (error as Error)?.message ?? String(error);
        if (timer) Timer.clear(timer);
        timer = Timer.set(() => failJoin(options, { category: 'wifi', message: `Wi-Fi join failed: ${text}` }), 0);
      }
    },
    leave() {
      stop();
      // ESP32 only: the simulator's module has no Mode.off and throws on -5.
      const off = (WiFi.Mode as { off?: number }).off;
      if (off !== undefined) WiFi.mode = off as typeof WiFi.mode;
    },
    setPowerSave(mode) {
      if (!(mode in POWER_SAVE)) throw new RangeError(`wifi: unknown power save mode ${String(mode)}`);
      powerSave = mode;
      if (joined) applyPowerSave();
    },
  };
}
