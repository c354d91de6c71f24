/**
 * One simulated device, host side: owns the firmware engine across boots and
 * answers every HAL call the firmware makes over the bridge (hal/sim/wire.ts):
 * clock, timers, entropy, log, Wi-Fi, TLS streams, flash, RTC memory, deep sleep
 * and the sensor. Every happening is a task on the shared Scheduler.
 */
import type { BootReason, LinkError, WifiHint } from '../../hal/types';
import { HEADER, Op, bodyJson, bodyView, message, parse, withBody, withJson, type Message } from '../../hal/sim/wire';
import type { Scheduler, TimerHandle } from '../clock/scheduler';
import type { Engine } from '../engine/types';
import { FirmwareError } from '../engine/xs';
import { PowerCut, SimFlash } from '../flash/flash';
import { ACCESS_POINT, SimWifi, type WifiTiming } from '../radio/wifi';
import { SeededRandom } from './random';
import { EnergyMeter, type PowerSaveMode, type RadioPower } from '../energy/meter';
import type { EnergyProfile } from '../../firmware/link/energy';

/**
 * The monotonic tick restarts at every boot (as ESP32's does after deep sleep),
 * close to its wrap so every run exercises wrap-safe time.
 */
export const TICK_ORIGIN = 0xfff00000;

export interface RecordedEvent {
  t: number;
  device: number;
  event: string;
  fields?: Record<string, unknown>;
}

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
  /** Host name to TCP address, so a simulated endpoint name can reach a loopback port. */
  resolve(host: string, port: number): { host: string; port: number } | undefined;
  /** Wall clock (epoch ms) at simulation start. */
  epochMs: number;
  /** The chip's currents and latencies; loopback I/O is far faster than an ESP32, so its latencies are modelled. */
  energy: EnergyProfile;
  /** The firmware build enables ESP-IDF power management with automatic light sleep. */
  autoLightSleep: boolean;
  /** Keep a current trace for reports. */
  traceEnergy?: boolean;
  record(event: RecordedEvent): void;
  /** False when the network is modelled in-process: no wall-clock waits for replies. */
  realNetwork?: boolean;
  /** True while the path to `target` forwards nothing (a blackholed proxy): a connect then cannot finish, so time may warp. */
  pathSilent?(target: { host: string; port: number }): boolean;
  /** Host TLS client (test-sim/net/secure.ts), injected so fault-injecting proxies can wrap it. */
  openSecureSocket: OpenSecureSocket;
}

export interface SecureSocketEvents {
  onConnect(info: { alpn: string | undefined; resumed: boolean; protocol?: string | null }): void;
  onData(bytes: Uint8Array): void;
  onError(error: LinkError): void;
}

export type OpenSecureSocket = (
  options: { host: string; port: number; serverName: string; alpn: string[]; ca: string; cert: string; key: string; timeoutMs: number },
  events: SecureSocketEvents,
) => { write(bytes: Uint8Array): void; close(): void };

interface StreamState {
  socket: { write(bytes: Uint8Array): void; close(): void } | undefined;
  closed: boolean;
  /** Bytes were written and nothing has come back yet: a reply is likely under way. */
  awaiting?: { release(): void };
}

/**
 * After a write, time follows the wall clock until the peer answers or this
 * much wall time passes (most MQTT packets a device sends expect a reply:
 * CONNACK, PUBACK, PINGRESP, SUBACK). Without it, a slow first reply could be
 * overtaken by a warp to the client's own reply deadline.
 */
const REPLY_WAIT_WALL_MS = 500;

export class DeviceHost {
  readonly index: number;
  readonly wifi: SimWifi;
  readonly meter: EnergyMeter;
  /** Secure streams opened (each is one connection attempt), and when. */
  connects = 0;
  readonly connectTimes: number[] = [];
  engine: Engine | undefined;
  boots = 0;
  crashes = 0;
  powerCuts = 0;
  bytesTx = 0;
  bytesRx = 0;
  tlsHandshakes = 0;
  tlsFailures: Record<string, number> = {};
  /** Sum of XS compute over every boot. */
  compute = 0;
  peakHeapSlots = 0;
  private timers = new Map<number, TimerHandle>();
  private streams = new Map<number, StreamState>();
  /**
   * The RTC: wall time the firmware set (`wallMs` at virtual `atMs`). It keeps
   * running through deep sleep and resets; a power cut loses it.
   */
  private rtc: { atMs: number; wallMs: number } | undefined;
  private bootedAt = 0;
  private retained: Uint8Array | undefined;
  private sleepRequest: { ms: number; reason: 'deep-sleep' | 'reset' } | undefined;
  private dead = false;
  /** Fault injection: name resolution fails. */
  dnsDown = false;
  private generation = 0;
  private wifiTask: TimerHandle | undefined;

  constructor(private options: DeviceHostOptions) {
    this.index = options.index;
    this.wifi = new SimWifi(options.wifi);
    this.meter = new EnergyMeter(options.energy, () => options.scheduler.now, options.autoLightSleep, options.traceEnergy);
  }

  private get latency() {
    const e = this.options.energy;
    return { tlsHandshakeMs: e.tlsHandshakeMs, bootMs: e.bootMs, timeSyncMs: 60 };
  }

  private radio(state: RadioPower): void {
    if (this.wifi.state !== state) this.record('radio', { state });
    this.wifi.state = state;
    this.meter.setRadio(state);
  }

  get flash(): SimFlash {
    return this.options.flash;
  }

  private get scheduler(): Scheduler {
    return this.options.scheduler;
  }

  /** Monotonic uint32 tick the firmware sees. */
  tick(): number {
    return (TICK_ORIGIN + Math.floor(this.scheduler.now - this.bootedAt)) >>> 0;
  }

  record(event: string, fields?: Record<string, unknown>): void {
    this.options.record({ t: this.scheduler.now, device: this.index, event, fields });
  }

  /** Power on (or wake): a fresh engine, then the Boot event. */
  async boot(reason: BootReason): Promise<void> {
    this.boots++;
    this.dead = false;
    this.sleepRequest = undefined;
    this.generation++;
    this.record('device.boot', { reason });
    this.bootedAt = this.scheduler.now;
    this.meter.setCpu('awake');
    this.meter.boot();
    this.engine = await this.options.startEngine(this);
    await this.deliver(withJson(Op.Boot, 0, { reason, config: this.options.config }));
  }

  /** The firmware's own view, asked just before its last deep sleep or halt. */
  lastInspect: Record<string, unknown> | undefined;

  /** Ask the firmware for its state (tests and reports); while it sleeps, what it said last. */
  async inspect(): Promise<Record<string, unknown>> {
    if (!this.engine || this.dead) return this.lastInspect ?? { engine: 'off' };
    const reply = await this.engine.deliver(message(Op.Inspect, 0, 0).bytes);
    this.lastInspect = JSON.parse(new TextDecoder().decode(reply));
    return this.lastInspect!;
  }

  /** The one pending power-up: a new one (a power cut during deep sleep) replaces the old wake. */
  private pendingBoot: TimerHandle | undefined;

  private scheduleBoot(ms: number, reason: BootReason): void {
    this.pendingBoot?.cancel();
    this.pendingBoot = this.scheduler.after(ms, () => {
      this.pendingBoot = undefined;
      return this.boot(reason);
    });
  }

  /** Cut the power now: RAM and RTC memory are lost, flash is kept. */
  async powerCut(rebootAfterMs: number): Promise<void> {
    this.powerCuts++;
    this.record('device.power-cut');
    this.retained = undefined;
    this.rtc = undefined;
    await this.halt();
    this.scheduleBoot(rebootAfterMs, 'power-on');
  }

  async shutdown(): Promise<void> {
    await this.halt();
  }

  /** Deliver one event to the firmware and handle what the delivery asked for (sleep) or did (crash). */
  async deliver(bytes: Uint8Array): Promise<void> {
    const engine = this.engine;
    if (!engine || this.dead) return;
    this.meter.event();
    try {
      await engine.deliver(bytes);
    } catch (error) {
      if (error instanceof PowerCut || this.dead) {
        this.powerCuts++;
        this.record('device.power-cut', { during: 'flash-write' });
        this.retained = undefined;
        this.rtc = undefined;
        await this.halt();
        this.scheduleBoot(this.latency.bootMs, 'power-on');
        return;
      }
      if (error instanceof FirmwareError) {
        this.crashes++;
        this.record('device.crash', { message: error.message.split('\n')[0] });
        await this.halt();
        this.scheduleBoot(this.latency.bootMs, 'crash');
        return;
      }
      throw error;
    }
    if (this.sleepRequest !== undefined) {
      const { ms, reason } = this.sleepRequest;
      await this.inspect().catch(() => undefined);
      this.record(reason === 'reset' ? 'device.restart' : 'device.deep-sleep', { ms });
      await this.halt();
      this.scheduleBoot(ms + this.latency.bootMs, reason);
    }
  }

  private async halt(): Promise<void> {
    this.dead = true;
    this.generation++;
    for (const timer of this.timers.values()) timer.cancel();
    this.timers.clear();
    for (const stream of this.streams.values()) {
      stream.closed = true;
      stream.awaiting?.release();
      stream.socket?.close();
    }
    this.streams.clear();
    this.wifiTask?.cancel();
    this.radio('off');
    this.meter.setCpu('deep-sleep');
    const engine = this.engine;
    this.engine = undefined;
    if (engine) {
      this.compute += engine.meter.compute;
      this.peakHeapSlots = Math.max(this.peakHeapSlots, engine.meter.peakHeapSlots);
      await engine.stop();
    }
  }

  private later(ms: number, bytes: () => Uint8Array | undefined): TimerHandle {
    return this.scheduler.after(ms, this.task(bytes));
  }

  private post(bytes: () => Uint8Array | undefined): void {
    this.scheduler.post(this.task(bytes));
  }

  /** Deliver what `bytes` returns, unless the device rebooted since the task was made. */
  private task(bytes: () => Uint8Array | undefined): () => Promise<void> | undefined {
    const generation = this.generation;
    return () => {
      if (generation !== this.generation) return undefined;
      const message = bytes();
      return message ? this.deliver(message) : undefined;
    };
  }

  /** Fault injection: the access point goes away (or comes back). */
  setAccessPoint(up: boolean): void {
    this.wifi.apUp = up;
    if (!up && this.wifi.state === 'associated') {
      this.radio('off');
      this.wifi.losses++;
      const error: LinkError = { category: 'wifi', message: 'access point lost' };
      this.post(() => withJson(Op.WifiLost, 0, error));
    }
  }

  /** The bridge: one synchronous call from the firmware. */
  handle(bytes: Uint8Array): Uint8Array {
    if (this.dead) throw new PowerCut('device is off');
    const m = parse(bytes);
    switch (m.op) {
      case Op.Now: {
        const reply = message(Op.Now, 0, 12);
        reply.view.setUint32(HEADER, this.tick(), true);
        reply.view.setFloat64(HEADER + 4, this.rtc ? this.rtc.wallMs + (this.scheduler.now - this.rtc.atMs) : NaN, true);
        return reply.bytes;
      }
      case Op.TimerSet: {
        const delay = bodyView(m).getUint32(0, true);
        const id = m.id;
        this.timers.set(id, this.later(delay, () => {
          this.timers.delete(id);
          return message(Op.Timer, id, 0).bytes;
        }));
        return ok(m);
      }
      case Op.TimerClear:
        this.timers.get(m.id)?.cancel();
        this.timers.delete(m.id);
        return ok(m);
      case Op.Random: {
        const reply = message(Op.Random, 0, 4);
        reply.view.setUint32(HEADER, this.options.random.next32(), true);
        return reply.bytes;
      }
      case Op.Log: {
        const [event, fields] = bodyJson<[string, Record<string, unknown>?]>(m);
        this.record(event, fields);
        return ok(m);
      }
      case Op.TimeQuery: {
        const { server } = bodyJson<{ server: string }>(m);
        this.later(this.latency.timeSyncMs, () => {
          if (this.wifi.state !== 'associated') {
            return withJson(Op.TimeReply, 0, { error: { category: 'wifi', message: 'time query needs the network' } });
          }
          return withJson(Op.TimeReply, 0, { wallMs: this.options.epochMs + this.scheduler.now, server });
        });
        return ok(m);
      }
      case Op.TimeSet:
        this.rtc = { atMs: this.scheduler.now, wallMs: bodyView(m).getFloat64(0, true) };
        return ok(m);
      case Op.WifiJoin:
        this.join(bodyJson<{ hint: WifiHint | null }>(m).hint);
        return ok(m);
      case Op.WifiLeave:
        this.wifiTask?.cancel();
        this.radio('off');
        return ok(m);
      case Op.WifiPowerSave:
        this.meter.setPowerSave(bodyJson<PowerSaveMode>(m));
        this.record('wifi.power-save', { mode: bodyJson<string>(m) });
        return ok(m);
      case Op.TlsOpen:
        this.openTls(m);
        return ok(m);
      case Op.TlsWrite:
      case Op.TlsWriteReply: {
        const stream = this.streams.get(m.id);
        if (stream?.socket && !stream.closed) {
          this.bytesTx += m.body.length;
          this.meter.bytes(m.body.length, true);
          if (this.options.realNetwork !== false) {
            if (m.op === Op.TlsWriteReply) this.awaitReply(stream);
            else this.scheduler.touchIo();
          }
          stream.socket.write(m.body.slice());
        }
        return ok(m);
      }
      case Op.TlsEnd: {
        const stream = this.streams.get(m.id);
        if (stream) {
          stream.closed = true;
          stream.awaiting?.release();
          stream.socket?.close();
          this.streams.delete(m.id);
        }
        const id = m.id;
        this.post(() => message(Op.TlsEnded, id, 0).bytes);
        return ok(m);
      }
      case Op.TlsClose: {
        const stream = this.streams.get(m.id);
        if (stream) {
          stream.closed = true;
          stream.awaiting?.release();
          stream.socket?.close();
          this.streams.delete(m.id);
        }
        return ok(m);
      }
      case Op.FlashInfo: {
        const reply = message(Op.FlashInfo, 0, 8);
        reply.view.setUint32(HEADER, this.flash.byteLength, true);
        reply.view.setUint32(HEADER + 4, this.flash.blockSize, true);
        return reply.bytes;
      }
      case Op.FlashRead: {
        const v = bodyView(m);
        return withBody(Op.FlashRead, 0, this.flash.read(v.getUint32(0, true), v.getUint32(4, true)));
      }
      case Op.FlashWrite:
        this.flash.write(bodyView(m).getUint32(0, true), m.body.subarray(4));
        return ok(m);
      case Op.FlashErase:
        this.flash.erase(m.id);
        return ok(m);
      case Op.RetainedLoad:
        return this.retained ? withBody(Op.RetainedLoad, 1, this.retained) : message(Op.RetainedLoad, 0, 0).bytes;
      case Op.RetainedStore:
        this.retained = m.body.slice();
        return ok(m);
      case Op.DeepSleep:
        this.sleepRequest = { ms: bodyView(m).getUint32(0, true), reason: 'deep-sleep' };
        return ok(m);
      case Op.Restart:
        this.sleepRequest = { ms: 0, reason: 'reset' };
        return ok(m);
      case Op.FeedWatchdog:
        return ok(m);
      case Op.SensorRead: {
        const reply = message(Op.SensorRead, 0, 8);
        const hours = this.scheduler.now / 3_600_000;
        const value = 21 + 3 * Math.sin((2 * Math.PI * hours) / 24) + (this.options.random.next() - 0.5) * 0.2;
        reply.view.setFloat64(HEADER, Math.round(value * 100) / 100, true);
        return reply.bytes;
      }
      default:
        throw new Error(`bridge: unknown call 0x${m.op.toString(16)}`);
    }
  }

  private awaitReply(stream: StreamState): void {
    this.scheduler.touchIo();
    if (stream.awaiting) return;
    this.scheduler.beginIo();
    const timer = setTimeout(() => release(), REPLY_WAIT_WALL_MS);
    const release = () => {
      if (stream.awaiting !== awaiting) return;
      clearTimeout(timer);
      stream.awaiting = undefined;
      this.scheduler.endIo();
    };
    const awaiting = { release };
    stream.awaiting = awaiting;
  }

  private join(hint: WifiHint | null): void {
    this.wifiTask?.cancel();
    this.radio('joining');
    this.wifi.joins++;
    const latency = this.wifi.joinLatency(hint);
    if (latency === undefined) {
      this.wifiTask = this.later(this.wifi.timing.joinTimeoutMs, () => {
        this.radio('off');
        this.wifi.joinFailures++;
        return withJson(Op.WifiError, 0, { category: 'wifi', message: 'no access point answered' } satisfies LinkError);
      });
      return;
    }
    this.wifiTask = this.later(latency, () => {
      this.radio('associated');
      return withJson(Op.WifiJoined, 0, ACCESS_POINT);
    });
  }

  private openTls(m: Message): void {
    const id = m.id;
    this.connects++;
    this.connectTimes.push(this.scheduler.now);
    const options = bodyJson<{
      host: string; port: number; serverName: string; alpn: string[];
      credentials: { ca: string; certificate: string; key: string }; timeoutMs: number;
    }>(m);
    const stream: StreamState = { socket: undefined, closed: false };
    this.streams.set(id, stream);
    const fail = (error: LinkError) => {
      this.tlsFailures[error.category] = (this.tlsFailures[error.category] ?? 0) + 1;
      this.record('tls.error', { category: error.category, message: error.message });
      this.streams.delete(id);
      return withJson(Op.TlsError, id, error);
    };
    if (this.wifi.state !== 'associated') {
      this.post(() => fail({ category: 'wifi', message: 'no network: Wi-Fi is not associated' }));
      return;
    }
    const target = this.dnsDown ? undefined : this.options.resolve(options.host, options.port);
    if (!target) {
      this.post(() => fail({ category: 'dns', message: `cannot resolve ${options.host}` }));
      return;
    }
    const files = this.options.credentials;
    const names = { ca: options.credentials.ca, cert: options.credentials.certificate, key: options.credentials.key };
    const missing = Object.values(names).find((name) => !Object.hasOwn(files, name));
    if (missing !== undefined) {
      this.post(() => fail({ category: 'tls-handshake', message: `credential file missing: ${missing}` }));
      return;
    }
    const credentials = { ca: files[names.ca], cert: files[names.cert], key: files[names.key] };
    const started = this.scheduler.now;
    const modelled = this.latency.tlsHandshakeMs;
    const generation = this.generation;
    let settled = false;
    const silent = this.options.realNetwork === false || (this.options.pathSilent?.(target) ?? false);
    if (!silent) this.scheduler.beginIo();
    // The device's connect deadline runs on virtual time; the real socket gets a generous one of its own.
    const deadline = this.later(options.timeoutMs, () => {
      if (settled || stream.closed) return undefined;
      settle();
      stream.closed = true;
      stream.socket?.close();
      return fail({ category: 'timeout', message: `no TLS session within ${options.timeoutMs} ms` });
    });
    const settle = () => {
      if (!settled) {
        settled = true;
        deadline.cancel();
        if (!silent) this.scheduler.endIo();
      }
    };
    /** Deliver no earlier than the modelled handshake time: loopback is far faster than an ESP32. */
    const atModelledTime = (bytes: () => Uint8Array) => {
      const wait = Math.max(0, started + modelled - this.scheduler.now);
      if (wait > 0) this.later(wait, bytes);
      else this.post(bytes);
    };
    stream.socket = this.options.openSecureSocket(
      { host: target.host, port: target.port, serverName: options.serverName, alpn: options.alpn, ...credentials, timeoutMs: 120_000 },
      {
        onConnect: (info) => {
          settle();
          if (stream.closed || generation !== this.generation) return;
          this.tlsHandshakes++;
          this.meter.handshake();
          this.record('tls.connected', { alpn: info.alpn ?? null, protocol: info.protocol ?? null });
          atModelledTime(() => withJson(Op.TlsConnected, id, { alpn: info.alpn, resumed: info.resumed }));
        },
        onData: (bytes) => {
          if (stream.closed || generation !== this.generation) return;
          this.bytesRx += bytes.length;
          this.meter.bytes(bytes.length, false);
          stream.awaiting?.release();
          if (this.options.realNetwork !== false) this.scheduler.touchIo();
          this.post(() => (stream.closed ? undefined : withBody(Op.TlsData, id, bytes)));
        },
        onError: (error) => {
          settle();
          stream.awaiting?.release();
          if (stream.closed || generation !== this.generation) return;
          stream.closed = true;
          atModelledTime(() => fail(error));
        },
      },
    );
  }
}

function ok(m: Message): Uint8Array {
  return message(m.op, 0, 0).bytes;
}
