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
 * Every part is an instance of a class defined at module top level, sharing
 * one boot's state (HalCore) through a field. The modules are preloaded, so
 * their classes' methods keep their byte code in flash; a closure created at
 * run time would have XS copy its byte code into the chunk heap (xsRun.c
 * XS_CODE_CODE) and keep its variables in the slot heap for the whole boot.
 * Callbacks handed to Moddable's modules are bound methods (no byte code
 * copied) where they live beyond one call.
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
import type {
  App, BootReason, Clock, Entropy, Flash, Hal, LinkError, Log, LogValue, Network, Power, Retained, SecureConnectInfo, SecureStream,
  SecureStreamOptions, Sensor, TimeReading, TimerId, Timers, Wifi, WifiJoinOptions, WifiPowerSave, WriteOptions,
} from '../types';
import { after } from '../../firmware/util/time';
import {
  bootReason as nativeBootReason, configurePowerManagement, cpuBoost, deepSleep, restart, restartCause,
  retainedCapacity, retainedLoad, retainedStore, setWifiPowerSave, watchdogArm,
} from './native/power';
import { CAPABILITIES } from './capabilities';
import { heap as tlsHeap, randomBytes } from './native/tls';
import { openSecureStream, type SecureStreamHooks } from './secure-stream';
import { flashKind as storageKind, openFlash, openVolatileFlash } from './storage';
import { peaks } from './native/memory';
import { watchdogWindow } from './watchdog';
import { StationWifi, type StaticAddress, type WifiHost } from './wifi';

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

/** Boot `app` on this device; on the simulator an emulated deep sleep boots it again. */
export function startDevice(app: App, options: DeviceOptions): void {
  new Boots(app, options).boot(undefined);
}

/** Boots the app, and again after an emulated deep sleep or restart (each boot gets a new HAL). */
class Boots {
  constructor(readonly app: App, readonly options: DeviceOptions) {}

  boot(reason: BootReason | undefined): void {
    this.app(new HalCore(this.options, reason, this).hal, this.options.config);
  }

  /** Boot again `ms` from now with `reason` (the simulator's emulated wake-up). */
  wakeLater(ms: number, reason: BootReason): void {
    Timer.set(this.boot.bind(this, reason), ms);
  }
}

/** The phase of a wake, for the memory budget (HalCore.endPhase). */
type WakePhase = 'boot' | 'join' | 'handshake' | 'session';

/** One boot's HAL state, shared by its parts. */
class HalCore implements WifiHost {
  halted = false;
  /** Open handshakes holding the CPU at full speed. */
  boosts = 0;
  nextTimer = 1;
  /** Firmware's pending timers and the tick each is due. */
  readonly timers = new Map<TimerId, { timer: Timer; due: number }>();
  readonly streams = new Set<SecureStream>();
  readonly bootReason: BootReason;
  /**
   * The phase of a wake, for the memory budget: `boot` (start to the first
   * join), `join` (to an address), `handshake` (to TLS connected), `session`
   * (MQTT and the upload, to sleep). Each one's XS peaks are logged as it ends
   * (memory.peaks; native/memory).
   */
  phase: WakePhase = 'boot';
  watchdogArmed = false;
  readonly log: Log = LOG;
  readonly wifi: StationWifi;
  readonly hal: Hal;

  constructor(readonly options: DeviceOptions, readonly emulatedReason: BootReason | undefined, readonly boots: Boots) {
    this.bootReason = emulatedReason ?? nativeBootReason();
    const log = this.log;

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

    const sensor = new HalSensor(options.sensor);

    this.wifi = new StationWifi({
      ssid: options.ssid,
      password: options.password,
      address: options.address,
      requiresSsid: options.platform === 'esp32',
    }, this);

    this.hal = {
      capabilities: CAPABILITIES,
      clock: new HalClock(this),
      log,
      entropy: ENTROPY,
      timers: new HalTimers(this),
      wifi: new HalWifi(this),
      network: new HalNetwork(this),
      flash,
      retained: RETAINED,
      power: new HalPower(this),
      sensor,
    };

    const credentials = (options.config as { credentials?: Record<string, unknown> } | undefined)?.credentials ?? {};
    const missing: string[] = [];
    for (const name of Object.values(credentials)) {
      if (typeof name === 'string' && !options.store?.entries.includes(name) && !Resource.exists(name)) missing.push(name);
    }
    if (missing.length) log.event('hal.credentials-missing', { names: missing.join(','), check: 'write the credential store (npm run flash:esp32 -- --credentials DIR; npm run build:sim -- --credentials DIR)' });
    if (options.store) log.event(EVENTS.halCredentialStore, { store: options.store.where, entries: options.store.entries.join(',') });
    const cause = emulatedReason === undefined ? restartCause() : undefined;
    log.event(EVENTS.halBoot, { platform: options.platform, reason: this.bootReason, ...(cause ? { cause } : {}), flash: flashKind, sensor: sensor.kind });

    const pm = configurePowerManagement();
    if (pm) log.event(EVENTS.powerManagement, { result: pm.result, maxMHz: pm.maxMHz, minMHz: pm.minMHz, lightSleep: true });
    this.feedWatchdog();
  }

  endPhase(next: WakePhase): void {
    if (this.phase === next) return;
    this.log.event(EVENTS.memoryPeaks, { phase: this.phase, ...peaks(true) });
    this.phase = next;
  }

  /** Restart the application watchdog WATCHDOG_GRACE_MS past the latest of now and every pending timer. */
  feedWatchdog(): void {
    if (this.halted) return;
    const dues: number[] = [];
    for (const { due } of this.timers.values()) dues.push(due);
    this.watchdogArmed = watchdogArm(watchdogWindow(Time.ticks >>> 0, dues, WATCHDOG_GRACE_MS));
  }

  /** A firmware timer fired. */
  fire(id: TimerId, callback: () => void): void {
    this.timers.delete(id);
    if (!this.halted) callback();
  }

  /** WifiHost: the power-save mode through ESP-IDF (native/power). */
  setPowerSave(mode: 0 | 1 | 2): string | undefined {
    return setWifiPowerSave(mode);
  }

  /** WifiHost: a join got its address. */
  joined(): void {
    if (this.phase === 'join') this.endPhase('handshake');
  }

  /**
   * Stop firmware (no timer or callback reaches it any more), close what is
   * still open gracefully (queued bytes, then close_notify: SecureStream.end,
   * each bounded by the stream), leave the radio, then `next`: so a firmware
   * that sleeps right after its DISCONNECT still says goodbye, and the broker
   * never sees a connection vanish (HALT_DRAIN_MS bounds the whole wait).
   */
  halt(next: () => void): void {
    this.halted = true;
    // The wake's last peaks carry Mbed TLS's heap too (outside XS): all it holds, and its peak since the last connection began.
    const tls = tlsHeap();
    this.log.event(EVENTS.memoryPeaks, { phase: this.phase, ...peaks(true), ...(tls ? { tlsHeap: tls[0], tlsHeapPeak: tls[1] } : {}) });
    for (const { timer } of this.timers.values()) Timer.clear(timer);
    this.timers.clear();
    const open = [...this.streams];
    this.streams.clear();
    const drain = new Drain(open.length, this.wifi, next);
    if (!open.length) {
      drain.finish();
      return;
    }
    drain.cap = Timer.set(drain.finish.bind(drain), HALT_DRAIN_MS);
    const closed = drain.closed.bind(drain);
    for (const stream of open) stream.end(closed);
  }

  /** After the halt: sleep for `ms` (deep sleep on ESP32; an emulated wake-up on the simulator). */
  sleep(ms: number): void {
    let slept: boolean;
    try {
      slept = deepSleep(ms); // ESP32: does not return (the chip sleeps, or restarts when ESP-IDF refuses)
    } catch (error) {
      // Checked above, so this is a broken promise of the native side: never stay halted.
      this.log.event(EVENTS.halDeepSleepFailed, { ms, message: String((error as Error)?.message ?? error) });
      if (restart()) return;
      this.boots.wakeLater(0, 'reset');
      return;
    }
    if (slept) return;
    this.log.event(EVENTS.halDeepSleepEmulated, { ms, message: 'no deep sleep on this platform: firmware restarts after the delay, retained bytes kept' });
    this.boots.wakeLater(ms, 'deep-sleep');
  }

  /** After the halt: restart (esp_restart on ESP32; boot again at once on the simulator). */
  restart(): void {
    if (restart()) return; // ESP32: esp_restart does not return
    this.boots.wakeLater(0, 'reset');
  }
}

/** The end of a halt: every open stream closed, or HALT_DRAIN_MS passed; then the radio goes off and `next` runs, once. */
class Drain {
  cap: Timer | undefined;
  done = false;
  constructor(public waiting: number, readonly wifi: StationWifi, readonly next: () => void) {}

  closed(): void {
    if (--this.waiting === 0) {
      if (this.cap) Timer.clear(this.cap);
      this.finish();
    }
  }

  finish(): void {
    if (this.done) return;
    this.done = true;
    this.wifi.leave();
    this.next();
  }
}

/** `trace`, one JSON line per event. */
class TraceLog implements Log {
  event(event: string, fields?: Record<string, LogValue>): void {
    const t = Time.ticks >>> 0;
    trace(`${JSON.stringify(fields ? { t, event, fields } : { t, event })}\n`);
  }
}

/** The PSA random generator of Mbed TLS (native/tls). */
class TlsEntropy implements Entropy {
  random32(): number {
    return new DataView(randomBytes(4)).getUint32(0, true);
  }
}

/** RTC memory on ESP32, RAM on the simulator (native/power). */
class RtcRetained implements Retained {
  load(): Uint8Array | undefined {
    const bytes = retainedLoad();
    return bytes ? new Uint8Array(bytes) : undefined;
  }

  store(bytes: Uint8Array): void {
    const capacity = retainedCapacity();
    if (bytes.length > capacity) throw new RangeError(`retained: ${bytes.length} bytes exceed ${capacity}`);
    retainedStore(bytes.slice().buffer as ArrayBuffer);
  }
}

/* Stateless parts: made while the module is preloaded, so they live in flash. */
const LOG = new TraceLog();
const ENTROPY = new TlsEntropy();
const RETAINED = new RtcRetained();

class HalClock implements Clock {
  constructor(readonly core: HalCore) {}

  now(): number {
    return Time.ticks >>> 0;
  }

  wallTime(): number | undefined {
    // The one place device code reads Date: Moddable's Time.set (setWallTime) or the host clock.
    // eslint-disable-next-line no-restricted-properties
    const now = Date.now();
    return now >= NEVER_SET_BEFORE_MS ? now : undefined;
  }

  query(server: string, onDone: (result: TimeReading | LinkError) => void): void {
    const query = new TimeQuery(this.core, server, onDone);
    if (this.core.options.platform === 'simulator') {
      // mcsim's clock is the host's and so is its network: the host answers as a time server
      // would (the machines the tests run on have no route to public NTP servers).
      Timer.set(query.host.bind(query), 0);
      return;
    }
    try {
      new SNTP({ host: server }, query.sntp.bind(query));
    } catch (error) {
      const text = String((error as Error)?.message ?? error);
      Timer.set(query.finish.bind(query, { category: /no network/.test(text) ? 'wifi' : 'timeout', message: `time query to ${server} failed: ${text}` }), 0);
    }
  }

  setWallTime(wallMs: number): void {
    if (!Number.isFinite(wallMs)) throw new RangeError(`setWallTime: ${wallMs} is not a time`);
    Time.set(Math.floor(wallMs / 1000));
  }
}

/** One `clock.query`: answers once, and not after the halt. */
class TimeQuery {
  done = false;
  constructor(readonly core: HalCore, readonly server: string, readonly onDone: (result: TimeReading | LinkError) => void) {}

  finish(result: TimeReading | LinkError): void {
    if (this.done) return;
    this.done = true;
    if (!this.core.halted) this.onDone(result);
  }

  /** The simulator: the host's clock. */
  host(): void {
    // eslint-disable-next-line no-restricted-properties
    this.finish({ wallMs: Date.now(), server: this.server });
  }

  /** ESP32: Moddable's `sntp` client. */
  sntp(message: number, value?: number): void {
    if (message === SNTP.time && value !== undefined) {
      this.finish({ wallMs: value * 1000, server: this.server });
    } else if (message === SNTP.error) {
      this.finish({ category: 'timeout', message: `no answer from time server ${this.server} — check that UDP 123 is open` });
    }
  }
}

class HalTimers implements Timers {
  constructor(readonly core: HalCore) {}

  set(callback: () => void, delayMs: number): TimerId {
    const core = this.core;
    if (core.halted) return 0;
    const id = core.nextTimer++;
    const ms = Math.max(0, Math.ceil(delayMs));
    core.timers.set(id, { timer: Timer.set(core.fire.bind(core, id, callback), ms), due: after(Time.ticks >>> 0, ms) });
    if (core.watchdogArmed) core.feedWatchdog();
    return id;
  }

  clear(id: TimerId): void {
    const entry = this.core.timers.get(id);
    if (!entry) return;
    this.core.timers.delete(id);
    Timer.clear(entry.timer);
  }
}

class HalWifi implements Wifi {
  constructor(readonly core: HalCore) {}

  join(options: WifiJoinOptions): void {
    if (this.core.halted) return;
    if (this.core.phase === 'boot') this.core.endPhase('join');
    this.core.wifi.join(options);
  }

  leave(): void {
    this.core.wifi.leave();
  }

  setPowerSave(mode: WifiPowerSave): void {
    this.core.wifi.setPowerSave(mode);
  }
}

class HalNetwork implements Network {
  constructor(readonly core: HalCore) {}

  openSecure(options: SecureStreamOptions): SecureStream {
    if (this.core.halted) throw new Error('openSecure after deep sleep');
    const stream = new HalStream(this.core, options);
    this.core.streams.add(stream);
    return stream;
  }
}

/**
 * One secure stream as firmware sees it: secure-stream.ts underneath, the CPU
 * boosted while the handshake computes (native/power cpuBoost), the phase
 * ended and the outcome logged on connect or error.
 */
class HalStream implements SecureStream, SecureStreamHooks {
  handshaking = true;
  readonly maxVersion = CAPABILITIES.tls.maxVersion;
  readonly inner: SecureStream;

  constructor(readonly core: HalCore, readonly options: SecureStreamOptions) {
    // The handshake's signature runs in XS: at full CPU speed until it is over (native/power cpuBoost).
    if (!core.boosts++) cpuBoost(true);
    this.inner = openSecureStream(options, this, this);
  }

  /** SecureStreamHooks: no callback reaches firmware after the halt. */
  get halted(): boolean {
    return this.core.halted;
  }

  measured(fields: Record<string, LogValue>): void {
    this.core.log.event(EVENTS.tlsMeasured, fields);
  }

  handshakeOver(): void {
    if (!this.handshaking) return;
    this.handshaking = false;
    if (!--this.core.boosts) cpuBoost(false);
  }

  onConnect(info: SecureConnectInfo): void {
    const { host, port, serverName, alpn } = this.options;
    this.handshakeOver();
    this.core.wifi.networkResult('ok');
    if (this.core.phase === 'handshake') this.core.endPhase('session');
    this.core.log.event(EVENTS.tlsConnected, { host, port, serverName, alpnOffered: alpn.join(',') || null, alpn: info.alpn ?? null, protocol: info.version ?? null, resumed: info.resumed });
    this.options.onConnect(info);
  }

  onError(error: LinkError): void {
    const { host, port } = this.options;
    this.handshakeOver();
    this.core.wifi.networkResult(error.category);
    this.core.streams.delete(this);
    this.core.log.event(EVENTS.tlsError, { host, port, category: error.category, reason: error.reason ?? null, message: error.message });
    this.options.onError(error);
  }

  onData(bytes: Uint8Array): void {
    this.options.onData(bytes);
  }

  write(bytes: Uint8Array, options?: WriteOptions): void {
    this.inner.write(bytes, options);
  }

  close(): void {
    this.handshakeOver();
    this.core.streams.delete(this);
    this.inner.close();
  }

  end(onDone: () => void): void {
    this.handshakeOver();
    this.core.streams.delete(this);
    this.inner.end(onDone);
  }
}

class HalPower implements Power {
  readonly bootReason: BootReason;
  constructor(readonly core: HalCore) {
    this.bootReason = core.bootReason;
  }

  deepSleep(ms: number): void {
    if (!Number.isInteger(ms) || ms < 1 || ms > CAPABILITIES.maxDeepSleepMs) {
      throw new RangeError(`deepSleep: ${ms} ms is not an integer from 1 to ${CAPABILITIES.maxDeepSleepMs}`);
    }
    if (this.core.halted) return;
    this.core.halt(this.core.sleep.bind(this.core, ms));
  }

  restart(): void {
    if (this.core.halted) return;
    this.core.halt(this.core.restart.bind(this.core));
  }

  feedWatchdog(): void {
    this.core.feedWatchdog();
  }
}

/** A hook from the entry, else free heap from `instrumentation`, else a constant plus noise. */
class HalSensor implements Sensor {
  readonly kind: 'hook' | 'free-heap' | 'constant-plus-noise';
  readonly freeMemory: number | undefined;

  constructor(readonly hook: (() => number) | undefined) {
    this.freeMemory = Instrumentation.map('System Free Memory');
    if (hook) {
      this.kind = 'hook';
    } else if (this.freeMemory !== undefined && (Instrumentation.get(this.freeMemory) ?? 0) > 0) {
      this.kind = 'free-heap';
    } else {
      // No instrumentation (release builds, or the simulator has no such counter).
      this.kind = 'constant-plus-noise';
    }
  }

  read(): number {
    const hook = this.hook;
    if (hook) return hook();
    if (this.kind === 'free-heap') return Instrumentation.get(this.freeMemory as number) ?? 0;
    return 100_000 + (ENTROPY.random32() % 2001) - 1000;
  }
}
