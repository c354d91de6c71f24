/**
 * One simulated device, host side: the parts that answer the firmware's HAL
 * calls over the bridge (hal/sim/wire.ts), joined into one dispatch table:
 *
 *   device/clock.ts      tick, timers, time query       radio/station.ts  Wi-Fi join, loss, power save
 *   device/memory.ts     RTC wall clock, retained bytes  net/streams.ts    TLS streams (net/tls-session.ts: resumption)
 *   device/sensor.ts     the sensor model                flash/bridge.ts   NOR flash
 *   device/lifecycle.ts  boot, sleep, restart, crash, power cut; delivery of events
 *
 * plus entropy, the log and Batch (calls the firmware queued, run in order),
 * answered here. Every happening is a task on the shared Scheduler.
 */
import type { BootReason } from '../../hal/types';
import type { Inspection } from '../../hal/sim/device';
import { HEADER, Op, bodyJson, bodyView, message, parse } from '../../hal/sim/wire';
import type { Scheduler } from '../clock/scheduler';
import type { Engine } from '../engine/types';
import { PowerCut, type SimFlash } from '../flash/flash';
import { flashBridge } from '../flash/bridge';
import { WifiStation } from '../radio/station';
import type { WifiTiming } from '../radio/wifi';
import { SecureStreams, type OpenSecureSocket } from '../net/streams';
import { TlsSessionStore } from '../net/tls-session';
import { EnergyMeter } from '../energy/meter';
import type { EnergyProfile } from '../../firmware/power/policy';
import type { Platform } from '../energy/costs';
import { dispatch, joinTables, ok, type BridgeTable } from './bridge';
import { DeviceClock } from './clock';
import type { DeviceContext, RecordedEvent } from './context';
import { Lifecycle } from './lifecycle';
import { RtcDomain } from './memory';
import type { SeededRandom } from './random';
import { SensorModel } from './sensor';

export type { RecordedEvent } from './context';
export type { OpenSecureSocket, SecureSocketEvents } from '../net/streams';
export { TICK_ORIGIN } from './clock';

export interface DeviceHostOptions {
  index: number;
  scheduler: Scheduler;
  /** Starts a fresh engine for each boot; the host is its bridge. */
  startEngine(host: DeviceHost): Promise<Engine>;
  config: unknown;
  random: SeededRandom;
  flash: SimFlash;
  wifi: WifiTiming;
  /** The credential files the firmware names (its flashed resources), text by name. */
  credentials: Readonly<Record<string, string>>;
  /** Host name to an address the world's TLS client understands (undefined: the name does not resolve). */
  resolve(host: string, port: number): { host: string; port: number } | undefined;
  /** Wall clock (epoch ms) at simulation start. */
  epochMs: number;
  /** The chip's currents and latencies; loopback I/O is far faster than an ESP32, so its latencies are modelled. */
  energy: EnergyProfile;
  /** The firmware build enables ESP-IDF power management with automatic light sleep. */
  autoLightSleep: boolean;
  /** Keep a current trace for reports. */
  traceEnergy?: boolean;
  /** What the device's software can do (energy meter; default this firmware on hal/moddable). */
  platform?: Platform;
  record(event: RecordedEvent): void;
  /** Host TLS client (test-sim/net/secure.ts or the world's), injected so tests can wrap it. */
  openSecureSocket: OpenSecureSocket;
}

export class DeviceHost {
  readonly index: number;
  readonly meter: EnergyMeter;
  readonly lifecycle: Lifecycle;
  readonly clock: DeviceClock;
  readonly memory: RtcDomain;
  readonly radio: WifiStation;
  readonly net: SecureStreams;
  readonly sensor: SensorModel;
  /** The platform's TLS session (test hook: `tlsSession.clear()` before a wake forces a full handshake). */
  readonly tlsSession: TlsSessionStore;
  private readonly table: BridgeTable;
  /** The flash's outside changes the running machine knows of (it copied flash after them). */
  private flashChangesTold = 0;

  constructor(private options: DeviceHostOptions) {
    this.index = options.index;
    const scheduler = options.scheduler;
    this.meter = new EnergyMeter(options.energy, () => scheduler.now, options.autoLightSleep, options.traceEnergy, { platform: options.platform });
    this.lifecycle = new Lifecycle({
      scheduler,
      meter: this.meter,
      bootMs: this.meter.bootLatencyMs,
      config: options.config,
      startEngine: () => options.startEngine(this),
      record: (event, fields) => this.record(event, fields),
      booted: () => {
        this.flashChangesTold = this.options.flash.outsideChanges;
        this.clock.booted();
        this.tlsSession.booted();
      },
      delivered: () => this.net.flush(),
      queued: (reply) => this.handle(reply),
      pending: () => {
        const changes = this.options.flash.outsideChanges;
        if (changes === this.flashChangesTold) return undefined;
        this.flashChangesTold = changes;
        return message(Op.FlashChanged, 0, 0).bytes;
      },
      halted: () => {
        this.clock.halt();
        this.net.halt();
        this.radio.halt();
      },
      powerLost: () => {
        this.memory.powerLost();
        this.tlsSession.powerLost();
      },
    });
    const ctx: DeviceContext = {
      index: this.index,
      scheduler,
      meter: this.meter,
      record: (event, fields) => this.record(event, fields),
      later: (ms, bytes) => this.lifecycle.later(ms, bytes),
      post: (bytes) => this.lifecycle.post(bytes),
    };
    this.memory = new RtcDomain(scheduler);
    this.tlsSession = new TlsSessionStore(this.meter.platform.capabilities.tls);
    this.radio = new WifiStation(ctx, options.wifi);
    const online = () => this.radio.associated;
    this.clock = new DeviceClock(ctx, { rtc: this.memory, epochMs: options.epochMs, online });
    this.net = new SecureStreams(ctx, {
      credentials: options.credentials,
      resolve: options.resolve,
      openSecureSocket: options.openSecureSocket,
      handshakeMs: (resumed) => this.meter.handshakeMs(resumed),
      online,
      wallMs: () => this.memory.wallMs(),
      session: this.tlsSession,
    });
    this.sensor = new SensorModel(scheduler, options.random);
    this.table = joinTables(
      this.clock.bridge,
      this.memory.bridge,
      this.radio.bridge,
      this.net.bridge,
      flashBridge(options.flash, this.meter),
      this.lifecycle.bridge,
      this.sensor.bridge,
      this.ownBridge,
    );
  }

  /** The bridge calls this device answers (every call op of hal/sim/wire.ts). */
  get ops(): number[] {
    return Object.keys(this.table).map(Number);
  }

  get flash(): SimFlash {
    return this.options.flash;
  }

  record(event: string, fields?: Record<string, unknown>): void {
    this.options.record({ t: this.options.scheduler.now, device: this.index, event, fields });
  }

  /** Power on: a fresh engine, then the Boot event. */
  boot(reason: BootReason): Promise<void> {
    return this.lifecycle.boot(reason);
  }

  inspect(): Promise<Inspection> {
    return this.lifecycle.inspect();
  }

  shutdown(): Promise<void> {
    return this.lifecycle.shutdown();
  }

  /** The bridge: one synchronous call from the firmware. */
  handle(bytes: Uint8Array): Uint8Array {
    if (this.lifecycle.off) throw new PowerCut('device is off');
    return dispatch(this.table, parse(bytes));
  }

  /** Entropy and the log. */
  /**
   * Flip one bit of a byte the firmware wrote (not erased flash), chosen by the
   * device's seeded generator, as worn or disturbed NOR cells do. Logged as
   * `device.flash-bitflip`. Returns the byte offset, or -1 when nothing is written.
   */
  flipFlashBit(): number {
    const bytes = this.options.flash.bytes;
    const written: number[] = [];
    for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0xff) written.push(i);
    if (written.length === 0) return -1;
    const offset = written[this.options.random.next32() % written.length];
    const bit = this.options.random.next32() % 8;
    this.options.flash.flipBit(offset, bit);
    this.record('device.flash-bitflip', { offset, bit });
    return offset;
  }

  private readonly ownBridge: BridgeTable = {
    [Op.Random]: () => {
      const reply = message(Op.Random, 0, 4);
      reply.view.setUint32(HEADER, this.options.random.next32(), true);
      return reply.bytes;
    },
    [Op.Batch]: (m) => {
      // Each message in order; the answer is the last one's (the call that needed an answer).
      const view = bodyView(m);
      let reply = ok(m);
      for (let at = 0; at < m.body.length;) {
        const length = view.getUint32(at, true);
        reply = dispatch(this.table, parse(m.body.subarray(at + 4, at + 4 + length)));
        at += 4 + length;
      }
      return reply;
    },
    [Op.Log]: (m) => {
      const [event, fields] = bodyJson<[string, Record<string, unknown>?]>(m);
      this.record(event, fields);
      return ok(m);
    },
  };
}
