/**
 * The whole firmware (`firmware/app/main`) on a hand-driven HAL in Node, for
 * tests of what the device does across boots: a fake clock and timers, the
 * simulator's NOR flash, RTC memory that survives deep sleep and resets, and a
 * scripted broker behind each secure stream (mqtt-packet decodes what the
 * device writes). Deep sleep and restart halt the firmware (every timer
 * dropped, streams dead) until the test calls `wake()`.
 */
import mqttPacket from 'mqtt-packet';
import type { AppHandle, Hal, LinkError, SecureStreamOptions, WriteOptions } from '../../../hal/types';
import { CAPABILITIES } from '../../../hal/sim/capabilities';
import { main } from '../../../firmware/app/main';
import { SimFlash } from '../../flash/flash';
import { FakeTime } from './fake-time';
import { fromBroker } from './fake-stream';

export type Op =
  | { op: 'write'; cmd: string; messageId?: number; payload?: string }
  | { op: 'end' } | { op: 'close' } | { op: 'wifi.join' } | { op: 'wifi.leave' }
  | { op: 'deep-sleep'; ms: number } | { op: 'restart' } | { op: 'open' };

/** How the broker behind one connection answers; `n` counts the connections from 1. */
export interface BrokerScript {
  /** Answer CONNECT (default true). */
  connack?(n: number): boolean;
  /** PUBACK this QoS 1 PUBLISH now, later (return 'hold'), never ('drop'). Default now. */
  puback?(n: number, index: number, messageId: number): 'now' | 'hold' | 'drop';
  /** After a PUBACK went out: close the connection (the peer vanished). */
  closeAfterAck?(n: number, index: number): boolean;
  /** Refuse the TLS handshake with this error (certificate checks, say). */
  handshake?(n: number, wallMs: number | undefined): LinkError | undefined;
}

export class FakeDevice {
  readonly time = new FakeTime();
  readonly flash = new SimFlash({ byteLength: 16 * 4096, blockSize: 4096 });
  readonly logs: [string, Record<string, unknown> | undefined][] = [];
  readonly ops: Op[] = [];
  /** Sequence numbers of samples in every PUBLISH the broker acknowledged. */
  readonly delivered = new Set<number>();
  feeds = 0;
  connections = 0;
  app: AppHandle | undefined;
  /** Deep sleep requested by the last boot, if any. */
  sleepMs: number | undefined;
  restarted = false;
  /** Make `power.deepSleep` throw as a HAL that cannot sleep would. */
  refuseSleep = false;
  /** Wi-Fi joins never finish (an access point that never answers). */
  wifiHangs = false;
  private retained: Uint8Array | undefined;
  private halted = false;
  private boots = 0;

  constructor(private readonly config: Record<string, unknown>, private readonly broker: BrokerScript = {}) {}

  boot(reason: Hal['power']['bootReason'] = 'power-on'): AppHandle {
    this.halted = false;
    this.sleepMs = undefined;
    this.restarted = false;
    this.boots++;
    const boot = this.boots;
    const alive = () => !this.halted && this.boots === boot;
    const hal: Hal = {
      capabilities: { ...CAPABILITIES, watchdog: true },
      clock: this.time.clock,
      timers: {
        set: (callback, ms) => this.time.timers_.set(() => { if (alive()) callback(); }, ms),
        clear: (id) => this.time.timers_.clear(id),
      },
      entropy: { random32: () => 0x8000_0000 },
      log: { event: (e, f) => this.logs.push([e, f]) },
      wifi: {
        join: (o) => {
          this.ops.push({ op: 'wifi.join' });
          if (!this.wifiHangs) this.time.timers_.set(() => alive() && o.onJoined({ channel: 6, bssid: '02:00:00:00:00:01' }), 0);
        },
        leave: () => { this.ops.push({ op: 'wifi.leave' }); },
        setPowerSave: () => {},
      },
      network: { openSecure: (options) => this.open(options, alive) },
      flash: this.flash,
      retained: { load: () => this.retained?.slice(), store: (bytes) => { this.retained = bytes.slice(); } },
      power: {
        bootReason: reason,
        deepSleep: (ms) => {
          if (!Number.isInteger(ms) || ms < 1 || ms > hal.capabilities.maxDeepSleepMs) throw new RangeError(`deepSleep: ${ms}`);
          if (this.refuseSleep) throw new Error('deep sleep could not be entered');
          this.ops.push({ op: 'deep-sleep', ms });
          this.sleepMs = ms;
          this.halt();
        },
        restart: () => {
          this.ops.push({ op: 'restart' });
          this.restarted = true;
          this.halt();
        },
        feedWatchdog: () => { this.feeds++; },
      },
      sensor: { read: () => 21.5 },
    };
    this.app = main(hal, this.config) ?? undefined;
    return this.app!;
  }

  /** Advance virtual time until the firmware halts (sleep or restart) or `maxMs` passes. */
  runUntilHalt(maxMs = 600_000): void {
    for (let t = 0; t < maxMs && !this.halted; t += 100) this.time.advance(100);
  }

  /** Sleep out the requested deep sleep and boot again. */
  wake(): AppHandle {
    this.time.advance(this.sleepMs ?? 0);
    return this.boot(this.restarted ? 'reset' : 'deep-sleep');
  }

  events(name: string): Record<string, unknown>[] {
    return this.logs.filter(([e]) => e === name).map(([, f]) => f ?? {});
  }

  private halt(): void {
    this.halted = true;
    this.time.clearAll();
  }

  private open(options: SecureStreamOptions, alive: () => boolean) {
    const n = ++this.connections;
    this.ops.push({ op: 'open' });
    let open = true;
    let publishes = 0;
    const held: number[] = [];
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const payloads = new Map<number, string>();
    const later = (f: () => void) => this.time.timers_.set(() => { if (open && alive()) f(); }, 5);
    const send = (packet: Record<string, unknown>) => later(() => options.onData(fromBroker(packet)));
    const ack = (messageId: number, index: number) => later(() => {
      const body = payloads.get(messageId);
      if (body) for (const [seq] of (JSON.parse(body) as { samples: [number][] }).samples) this.delivered.add(seq);
      options.onData(fromBroker({ cmd: 'puback', messageId }));
      if (open && this.broker.closeAfterAck?.(n, index)) {
        open = false;
        options.onError({ category: 'closed', message: 'peer closed' });
      }
    });
    parser.on('packet', (p: mqttPacket.Packet) => {
      const packet = p as mqttPacket.Packet & { messageId?: number; qos?: number; payload?: Buffer };
      this.ops.push({ op: 'write', cmd: packet.cmd, messageId: packet.messageId, payload: packet.payload ? packet.payload.toString() : undefined });
      if (packet.cmd === 'connect' && (this.broker.connack?.(n) ?? true)) send({ cmd: 'connack', returnCode: 0, sessionPresent: false });
      if (packet.cmd === 'publish' && packet.qos === 1) {
        const index = publishes++;
        payloads.set(packet.messageId!, packet.payload!.toString());
        const how = this.broker.puback?.(n, index, packet.messageId!) ?? 'now';
        if (how === 'now') {
          ack(packet.messageId!, index);
          // Acks held back go out after a later one: out of order.
          while (held.length) ack(held.shift()!, index);
        } else if (how === 'hold') held.push(packet.messageId!);
      }
    });
    const handshake = this.broker.handshake?.(n, this.time.clock.wallTime());
    this.time.timers_.set(() => {
      if (!alive()) return;
      if (handshake) {
        open = false;
        options.onError(handshake);
      } else options.onConnect({ alpn: options.alpn[0], resumed: false });
    }, 20);
    return {
      write: (bytes: Uint8Array, _o?: WriteOptions) => {
        if (!open) return;
        parser.parse(Buffer.from(bytes));
      },
      close: () => {
        this.ops.push({ op: 'close' });
        open = false;
      },
      end: (onDone: () => void) => {
        this.ops.push({ op: 'end' });
        open = false;
        this.time.timers_.set(() => alive() && onDone(), 30);
      },
    };
  }
}
