/**
 * The HAL over Moddable's modules, for ESP32 and the Moddable simulator
 * (mcsim). Firmware receives it from `startDevice`, the way hal/sim hands the
 * simulator's HAL to the same firmware.
 *
 * Members and what backs them:
 * - clock: `Time.ticks` as uint32; wall time from `Date` once it is plausible
 *   (after `setWallTime` on ESP32; the host clock on the simulator); `query` with `sntp`
 *   on ESP32, answered by the host's clock on the simulator.
 * - timers: `timer` module. entropy: the PSA random generator of Mbed TLS
 *   (native/tls: hardware entropy on ESP32, the OS's on Linux). log: `trace`,
 *   one JSON line per event.
 * - wifi: wifi.ts over native/station. network: secure-stream.ts. flash: storage-*.ts (partition
 *   `telemetry` on ESP32; RAM on the simulator, and on ESP32 when the
 *   partition is missing, which is logged).
 * - retained, power: native/power (RTC memory and deep sleep on ESP32; RAM and
 *   an emulated wake-up on the simulator). On ESP32 power management (automatic
 *   light sleep, CPU between the crystal's and the default frequency) is
 *   configured at boot and logged (`power.management`); the CPU is held at its
 *   maximum frequency while a TLS handshake computes.
 * - the application watchdog (native/power, release builds on ESP32): armed at
 *   boot and pushed forward whenever firmware feeds it or schedules a timer, to
 *   WATCHDOG_GRACE_MS past the latest timer firmware has pending. It expires
 *   only when firmware has had nothing scheduled and has not fed it for that
 *   long (a callback that never came); the chip then restarts and the next
 *   boot reports `watchdog`.
 * - sensor: a hook from the entry, else free heap from `instrumentation`, else
 *   a constant plus noise.
 *
 * After `power.deepSleep` (or `restart`) the HAL is halted: its timers are
 * cleared, no callback reaches the old firmware instance, open streams are
 * ended gracefully (queued bytes and close_notify, at most HALT_DRAIN_MS), then
 * the radio is left and the chip sleeps.
 * The duration is checked before anything stops; a chip that then cannot
 * sleep restarts (native/power) rather than stay halted.
 */
import Instrumentation from 'instrumentation';
import Resource from 'Resource';
import SNTP from 'sntp';
import Time from 'time';
import Timer from 'timer';
import { EVENTS } from '../events';
import type { App, BootReason, Flash, Hal, LinkError, LogValue, SecureStream, TimeReading, TimerId } from '../types';
import { after } from '../../firmware/util/time';
import {
  bootReason as nativeBootReason, configurePowerManagement, cpuBoost, deepSleep, restart, restartCause,
  retainedCapacity, retainedLoad, retainedStore, setWifiPowerSave, watchdogArm,
} from './native/power';
import { CAPABILITIES } from './capabilities';
import { randomBytes } from './native/tls';
import { openSecureStream } from './secure-stream';
import { flashKind as storageKind, openFlash, openVolatileFlash } from './storage';
import { peaks } from './native/memory';
import { watchdogWindow } from './watchdog';
import { createWifi, type StaticAddress } from './wifi';

/**
 * Wall time before this (2000-01-01T00:00:00Z) means the RTC was never set since
 * power-on (ESP32 starts it at 1970). Whether a set time is believable is the
 * firmware's decision (firmware/time), not the HAL's.
 */
const NEVER_SET_BEFORE_MS = 946_684_800_000;

/** Longest a halt waits for open streams to close gracefully (each is bounded at about 200 ms by secure-stream). */
const HALT_DRAIN_MS = 300;

/** How long past its latest pending timer firmware may go without feeding the application watchdog. */
export const WATCHDOG_GRACE_MS = 120_000;

export type ModdablePlatform = 'esp32' | 'simulator';

export interface DeviceOptions {
  platform: ModdablePlatform;
  /** Raw configuration for firmware `main` (see config.ts). */
  config: unknown;
  ssid?: string;
  password?: string;
  /** A static IPv4 address instead of DHCP (mc/config staticIp, netmask, gateway, dns). */
  address?: StaticAddress;
  /** Data partition for the HAL's flash (default `storage`). */
  flashPartition?: string;
  /** Where the credential store is and the names of its entries (main.ts), for the log. */
  store?: { where: string; entries: string[] };
  /** Supplies `sensor.read()`; without it, free heap or a constant plus noise. */
  sensor?: () => number;
}

interface HalInstance {
  hal: Hal;
}

/** Boot `app` on this device; on the simulator an emulated deep sleep boots it again. */
export function startDevice(app: App, options: DeviceOptions): void {
  const boot = (reason: BootReason | undefined): void => {
    const instance = createModdableHal(options, reason, (ms, next) => {
      Timer.set(() => boot(next), ms);
    });
    app(instance.hal, options.config);
  };
  boot(undefined);
}

function createModdableHal(options: DeviceOptions, emulatedReason: BootReason | undefined, wakeLater: (ms: number, reason: BootReason) => void): HalInstance {
  let halted = false;
  /** Open handshakes holding the CPU at full speed. */
  let boosts = 0;
  const guard = (callback: () => void): void => {
    if (!halted) callback();
  };
  let nextTimer = 1;
  /** Firmware's pending timers and the tick each is due. */
  const timers = new Map<TimerId, { timer: Timer; due: number }>();
  const streams = new Set<SecureStream>();
  const bootReason: BootReason = emulatedReason ?? nativeBootReason();

  /**
   * The phase of a wake, for the memory budget: `boot` (start to the first
   * join), `join` (to an address), `handshake` (to TLS connected), `session`
   * (MQTT and the upload, to sleep). Each one's XS peaks are logged as it ends
   * (memory.peaks; native/memory).
   */
  let phase: 'boot' | 'join' | 'handshake' | 'session' = 'boot';
  const endPhase = (next: typeof phase): void => {
    if (phase === next) return;
    log.event(EVENTS.memoryPeaks, { phase, ...peaks(true) });
    phase = next;
  };

  let watchdogArmed = false;
  /** Restart the application watchdog WATCHDOG_GRACE_MS past the latest of now and every pending timer. */
  const feedWatchdog = (): void => {
    if (halted) return;
    const dues: number[] = [];
    for (const { due } of timers.values()) dues.push(due);
    watchdogArmed = watchdogArm(watchdogWindow(Time.ticks >>> 0, dues, WATCHDOG_GRACE_MS));
  };

  const clock: Hal['clock'] = {
    now: () => Time.ticks >>> 0,
    wallTime() {
      // The one place device code reads Date: Moddable's Time.set (setWallTime) or the host clock.
      // eslint-disable-next-line no-restricted-properties
      const now = Date.now();
      return now >= NEVER_SET_BEFORE_MS ? now : undefined;
    },
    query(server, onDone) {
      let done = false;
      const finish = (result: TimeReading | LinkError): void => {
        if (done) return;
        done = true;
        guard(() => onDone(result));
      };
      if (options.platform === 'simulator') {
        // mcsim's clock is the host's and so is its network: the host answers as a time server
        // would (the machines the tests run on have no route to public NTP servers).
        // eslint-disable-next-line no-restricted-properties
        Timer.set(() => finish({ wallMs: Date.now(), server }), 0);
        return;
      }
      try {
        new SNTP({ host: server }, (message, value) => {
          if (message === SNTP.time && value !== undefined) {
            finish({ wallMs: value * 1000, server });
          } else if (message === SNTP.error) {
            finish({ category: 'timeout', message: `no answer from time server ${server} — check that UDP 123 is open` });
          }
        });
      } catch (error) {
        const text = String((error as Error)?.message ?? error);
        Timer.set(() => finish({ category: /no network/.test(text) ? 'wifi' : 'timeout', message: `time query to ${server} failed: ${text}` }), 0);
      }
    },
    setWallTime(wallMs) {
      if (!Number.isFinite(wallMs)) throw new RangeError(`setWallTime: ${wallMs} is not a time`);
      Time.set(Math.floor(wallMs / 1000));
    },
  };

  const log: Hal['log'] = {
    event(event: string, fields?: Record<string, LogValue>) {
      trace(`${JSON.stringify(fields ? { t: clock.now(), event, fields } : { t: clock.now(), event })}\n`);
    },
  };

  const entropy: Hal['entropy'] = {
    random32: () => new DataView(randomBytes(4)).getUint32(0, true),
  };

  let flash: Flash;
  let flashKind: string = storageKind();
  const partition = options.flashPartition ?? 'storage';
  try {
    flash = openFlash(partition);
  } catch (error) {
    flash = openVolatileFlash(16 * 4096, 4096);
    flashKind = 'ram';
    log.event('hal.flash-missing', {
      partition,
      message: `${(error as Error)?.message ?? error} — using RAM; the board's partition table needs a "${partition}" data partition (mcconfig carves one from a factory app partition: README, Moddable)`,
    });
  }

  let sensorKind: string;
  let readSensor: () => number;
  const freeMemory = Instrumentation.map('System Free Memory');
  if (options.sensor) {
    sensorKind = 'hook';
    readSensor = options.sensor;
  } else if (freeMemory !== undefined && (Instrumentation.get(freeMemory) ?? 0) > 0) {
    sensorKind = 'free-heap';
    readSensor = () => Instrumentation.get(freeMemory) ?? 0;
  } else {
    // No instrumentation (release builds, or the simulator has no such counter).
    sensorKind = 'constant-plus-noise';
    readSensor = () => 100_000 + (entropy.random32() % 2001) - 1000;
  }

  const wifi = createWifi({
    ssid: options.ssid,
    password: options.password,
    address: options.address,
    requiresSsid: options.platform === 'esp32',
    log,
    setPowerSave: (mode) => setWifiPowerSave(mode),
    guard,
  });

  /**
   * Stop firmware (no timer or callback reaches it any more), close what is
   * still open gracefully (queued bytes, then close_notify: SecureStream.end,
   * each bounded by the stream), leave the radio, then `next`: so a firmware
   * that sleeps right after its DISCONNECT still says goodbye, and the broker
   * never sees a connection vanish (HALT_DRAIN_MS bounds the whole wait).
   */
  function halt(next: () => void): void {
    halted = true;
    log.event(EVENTS.memoryPeaks, { phase, ...peaks(true) });
    for (const { timer } of timers.values()) Timer.clear(timer);
    timers.clear();
    const open = [...streams];
    streams.clear();
    let waiting = open.length;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      wifi.leave();
      next();
    };
    if (!waiting) {
      finish();
      return;
    }
    const cap = Timer.set(finish, HALT_DRAIN_MS);
    for (const stream of open) {
      stream.end(() => {
        if (--waiting === 0) {
          Timer.clear(cap);
          finish();
        }
      });
    }
  }

  const hal: Hal = {
    capabilities: CAPABILITIES,
    clock,
    log,
    entropy,
    timers: {
      set(callback, delayMs) {
        if (halted) return 0;
        const id = nextTimer++;
        const ms = Math.max(0, Math.ceil(delayMs));
        timers.set(id, {
          timer: Timer.set(() => {
            timers.delete(id);
            guard(callback);
          }, ms),
          due: after(Time.ticks >>> 0, ms),
        });
        if (watchdogArmed) feedWatchdog();
        return id;
      },
      clear(id) {
        const entry = timers.get(id);
        if (!entry) return;
        timers.delete(id);
        Timer.clear(entry.timer);
      },
    },
    wifi: {
      join: (joinOptions) => {
        if (halted) return;
        if (phase === 'boot') endPhase('join');
        wifi.join({
          ...joinOptions,
          onJoined(hint) {
            if (phase === 'join') endPhase('handshake');
            joinOptions.onJoined(hint);
          },
        });
      },
      leave: () => wifi.leave(),
      setPowerSave: (mode) => wifi.setPowerSave(mode),
    },
    network: {
      openSecure(streamOptions) {
        if (halted) throw new Error('openSecure after deep sleep');
        const { host, port, serverName, alpn } = streamOptions;
        // The handshake's signature runs in XS: at full CPU speed until it is over (native/power cpuBoost).
        let handshaking = true;
        const handshakeOver = (): void => {
          if (!handshaking) return;
          handshaking = false;
          if (!--boosts) cpuBoost(false);
        };
        if (!boosts++) cpuBoost(true);
        const inner = openSecureStream({
          ...streamOptions,
          onConnect(info) {
            handshakeOver();
            wifi.networkResult('ok');
            if (phase === 'handshake') endPhase('session');
            log.event(EVENTS.tlsConnected, { host, port, serverName, alpnOffered: alpn.join(',') || null, alpn: info.alpn ?? null, protocol: info.version ?? null, resumed: info.resumed });
            streamOptions.onConnect(info);
          },
          onError(error) {
            handshakeOver();
            wifi.networkResult(error.category);
            streams.delete(stream);
            log.event(EVENTS.tlsError, { host, port, category: error.category, reason: error.reason ?? null, message: error.message });
            streamOptions.onError(error);
          },
        }, {
          guard,
          maxVersion: CAPABILITIES.tls.maxVersion,
          measured: (fields) => log.event(EVENTS.tlsMeasured, fields),
        });
        const stream: SecureStream = {
          write: (bytes, writeOptions) => inner.write(bytes, writeOptions),
          close() {
            handshakeOver();
            streams.delete(stream);
            inner.close();
          },
          end(onDone) {
            handshakeOver();
            streams.delete(stream);
            inner.end(onDone);
          },
        };
        streams.add(stream);
        return stream;
      },
    },
    flash,
    retained: {
      load() {
        const bytes = retainedLoad();
        return bytes ? new Uint8Array(bytes) : undefined;
      },
      store(bytes) {
        const capacity = retainedCapacity();
        if (bytes.length > capacity) throw new RangeError(`retained: ${bytes.length} bytes exceed ${capacity}`);
        retainedStore(bytes.slice().buffer as ArrayBuffer);
      },
    },
    power: {
      bootReason,
      deepSleep(ms) {
        if (!Number.isInteger(ms) || ms < 1 || ms > CAPABILITIES.maxDeepSleepMs) {
          throw new RangeError(`deepSleep: ${ms} ms is not an integer from 1 to ${CAPABILITIES.maxDeepSleepMs}`);
        }
        if (halted) return;
        halt(() => {
          let slept: boolean;
          try {
            slept = deepSleep(ms); // ESP32: does not return (the chip sleeps, or restarts when ESP-IDF refuses)
          } catch (error) {
            // Checked above, so this is a broken promise of the native side: never stay halted.
            log.event(EVENTS.halDeepSleepFailed, { ms, message: String((error as Error)?.message ?? error) });
            if (restart()) return;
            wakeLater(0, 'reset');
            return;
          }
          if (slept) return;
          log.event(EVENTS.halDeepSleepEmulated, { ms, message: 'no deep sleep on this platform: firmware restarts after the delay, retained bytes kept' });
          wakeLater(ms, 'deep-sleep');
        });
      },
      restart() {
        if (halted) return;
        halt(() => {
          if (restart()) return; // ESP32: esp_restart does not return
          wakeLater(0, 'reset');
        });
      },
      feedWatchdog,
    },
    sensor: { read: () => readSensor() },
  };

  const credentials = (options.config as { credentials?: Record<string, unknown> } | undefined)?.credentials ?? {};
  const missing = Object.values(credentials).filter((name) => typeof name === 'string' && !options.store?.entries.includes(name) && !Resource.exists(name));
  if (missing.length) log.event('hal.credentials-missing', { names: missing.join(','), check: 'write the credential store (npm run flash:esp32 -- --credentials DIR; npm run build:sim -- --credentials DIR)' });
  if (options.store) log.event(EVENTS.halCredentialStore, { store: options.store.where, entries: options.store.entries.join(',') });
  const cause = emulatedReason === undefined ? restartCause() : undefined;
  log.event(EVENTS.halBoot, { platform: options.platform, reason: bootReason, ...(cause ? { cause } : {}), flash: flashKind, sensor: sensorKind });

  const pm = configurePowerManagement();
  if (pm) log.event(EVENTS.powerManagement, { result: pm.result, maxMHz: pm.maxMHz, minMHz: pm.minMHz, lightSleep: true });
  feedWatchdog();

  return { hal };
}
