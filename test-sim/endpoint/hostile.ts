/**
 * A broker that breaks the rules on purpose: an MQTT-level tap between the
 * endpoint's TLS server and aedes (endpoint.ts `mqttTap`), switched on and off
 * by scenario faults. It sees whole packets in both directions, whatever
 * carries them (the in-memory network or TCP), and parses and generates them
 * with mqtt-packet.
 *
 * Modes (any may be on at once):
 *   puback-reorder         a PUBACK is held until the next one has gone out
 *                          (or `reorderWaitMs` passed): acknowledgements
 *                          arrive out of order when several PUBLISHes are in flight
 *   puback-withhold        PUBACKs are held while the mode is on; when it ends
 *                          they go out, in order, on connections still open
 *                          (a connection the client closed meanwhile takes
 *                          its held PUBACKs with it)
 *   qos2-flood             `floodCount` QoS 2 PUBLISHes, never followed by a
 *                          PUBREL, after each CONNACK and on every connection
 *                          open when the mode starts
 *   packet-before-connack  a PUBACK is sent before the broker's CONNACK on
 *                          every new connection [MQTT-3.2.0-1]
 *
 * With every mode off and nothing held, the broker's bytes pass unchanged,
 * in the chunks the broker wrote.
 */
import { generate, type Packet } from 'mqtt-packet';
import { MqttFramer, PacketDecoder } from './mqtt-frames';

export const HOSTILE_MODES = ['puback-reorder', 'puback-withhold', 'qos2-flood', 'packet-before-connack'] as const;
export type HostileMode = (typeof HOSTILE_MODES)[number];

/** What the endpoint asks of a tap: one link per MQTT connection. */
export interface MqttTap {
  /** A new MQTT connection; `send` writes bytes to the client. */
  attach(send: (bytes: Buffer) => void): MqttTapLink;
}

export interface MqttTapLink {
  /** A packet the client sent, before the broker sees it. */
  fromClient(packet: Packet, frame: Buffer): void;
  /** Bytes the broker writes to the client (whole packets): the tap sends them on, later, or not at all. */
  toClient(chunk: Buffer): void;
  /** The connection is gone. */
  closed(): void;
}

export interface HostileStats {
  /** PUBACKs sent after a later one. */
  reordered: number;
  /** PUBACKs held by puback-withhold, and of those the ones sent when it ended. */
  withheld: number;
  released: number;
  /**
   * Telemetry samples in PUBLISHes the broker received whose PUBACK had not
   * gone out when their connection closed: the device sends them again, so
   * the broker receives them twice.
   */
  samplesUnacknowledged: number;
  /** QoS 2 PUBLISHes sent by qos2-flood. */
  flooded: number;
  /** Packets sent before CONNACK. */
  early: number;
}

export interface HostileOptions {
  /** Runs `task` after `ms` (the simulator's virtual clock; setTimeout on a real endpoint). */
  after(ms: number, task: () => void): { cancel(): void };
  /** How long a reordered PUBACK waits for a later one; default 2 s. */
  reorderWaitMs?: number;
  /** QoS 2 PUBLISHes per flood; default 40 (above the firmware's bound of 32 awaiting PUBREL). */
  floodCount?: number;
}

export class HostileBroker implements MqttTap {
  readonly stats: HostileStats = { reordered: 0, withheld: 0, released: 0, samplesUnacknowledged: 0, flooded: 0, early: 0 };
  private readonly modes = new Set<HostileMode>();
  private readonly links = new Set<HostileLink>();

  constructor(readonly options: HostileOptions) {}

  isOn(mode: HostileMode): boolean {
    return this.modes.has(mode);
  }

  set(mode: HostileMode, on: boolean): void {
    if (on === this.modes.has(mode)) return;
    if (on) this.modes.add(mode);
    else this.modes.delete(mode);
    if (mode === 'qos2-flood' && on) for (const link of this.links) link.flood();
    if (mode === 'puback-withhold' && !on) for (const link of this.links) link.releaseWithheld();
  }

  attach(send: (bytes: Buffer) => void): MqttTapLink {
    const link = new HostileLink(this, send, () => this.links.delete(link));
    this.links.add(link);
    return link;
  }
}

class HostileLink implements MqttTapLink {
  private readonly framer = new MqttFramer();
  /** Broker-to-client packets have their own parser (the client's direction keeps its own state). */
  private readonly outbound = new PacketDecoder();
  private connacked = false;
  private open = true;
  /**
   * A packet the client must close the connection for went out (a QoS 2
   * PUBLISH to an AWS-profile client, a packet before CONNACK): a client reads
   * in order, so a PUBACK written after it settles nothing.
   */
  private violated = false;
  /** PUBACKs held by puback-withhold, in the order the broker sent them. */
  private withheld: Buffer[] = [];
  /** The PUBACK puback-reorder holds until the next one. */
  private reorderHeld: { frame: Buffer; timer: { cancel(): void } } | undefined;
  /** Telemetry samples per PUBLISH packet id awaiting PUBACK. */
  private readonly samples = new Map<number, number>();
  private nextFloodId = 1;

  constructor(
    private readonly broker: HostileBroker,
    private readonly send: (bytes: Buffer) => void,
    private readonly detach: () => void,
  ) {}

  fromClient(packet: Packet): void {
    if (!this.open) return;
    if (packet.cmd === 'connect' && this.broker.isOn('packet-before-connack')) {
      this.broker.stats.early++;
      this.violated = true;
      this.write(generate({ cmd: 'puback', messageId: 1 }));
    }
    if (packet.cmd === 'publish' && packet.qos === 1 && packet.messageId !== undefined) {
      this.samples.set(packet.messageId, telemetrySamples(packet.payload));
    }
  }

  toClient(chunk: Buffer): void {
    const out: Buffer[] = [];
    for (const frame of this.framer.feed(chunk)) this.forward(frame, this.outbound.decode(frame), out);
    // What is sent now leaves as one write, as the broker wrote it: unchanged bytes, unchanged records.
    if (out.length > 0) this.write(out.length === 1 ? out[0] : Buffer.concat(out));
  }

  closed(): void {
    this.open = false;
    this.reorderHeld?.timer.cancel();
    this.reorderHeld = undefined;
    this.withheld = [];
    for (const count of this.samples.values()) this.broker.stats.samplesUnacknowledged += count;
    this.detach();
  }

  /** qos2-flood: QoS 2 PUBLISHes the client never gets a PUBREL for. */
  flood(): void {
    if (this.connacked && this.open) this.write(this.floodPackets());
  }

  private floodPackets(): Buffer {
    const count = this.broker.options.floodCount ?? 40;
    const packets: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      packets.push(generate({ cmd: 'publish', qos: 2, messageId: this.nextFloodId, topic: 'flood/qos2', payload: Buffer.from([i & 0xff]), retain: false, dup: false }));
      this.nextFloodId = (this.nextFloodId % 0xffff) + 1;
    }
    this.broker.stats.flooded += count;
    this.violated = true;
    return Buffer.concat(packets);
  }

  releaseWithheld(): void {
    const frames = this.withheld;
    this.withheld = [];
    for (const frame of frames) {
      this.broker.stats.released++;
      this.acked(frame);
    }
  }

  private forward(frame: Buffer, packet: Packet, out: Buffer[]): void {
    if (packet.cmd === 'connack') {
      out.push(frame);
      this.connacked = true;
      if (this.broker.isOn('qos2-flood')) out.push(this.floodPackets());
      return;
    }
    if (packet.cmd !== 'puback') {
      out.push(frame);
      return;
    }
    if (this.broker.isOn('puback-withhold')) {
      this.broker.stats.withheld++;
      this.withheld.push(frame);
      return;
    }
    const held = this.reorderHeld;
    if (held) {
      held.timer.cancel();
      this.reorderHeld = undefined;
      this.settle(frame);
      this.settle(held.frame);
      out.push(frame, held.frame);
      this.broker.stats.reordered++;
      return;
    }
    if (this.broker.isOn('puback-reorder')) {
      const timer = this.broker.options.after(this.broker.options.reorderWaitMs ?? 2000, () => {
        if (this.reorderHeld?.frame !== frame) return;
        this.reorderHeld = undefined;
        this.acked(frame);
      });
      this.reorderHeld = { frame, timer };
      return;
    }
    this.settle(frame);
    out.push(frame);
  }

  /** A PUBACK goes out now, outside the broker's writes. */
  private acked(frame: Buffer): void {
    if (!this.open) return;
    this.settle(frame);
    this.write(frame);
  }

  /** The PUBLISH a PUBACK answers is settled once the PUBACK leaves. */
  private settle(puback: Buffer): void {
    if (!this.violated) this.samples.delete(packetIdOf(puback));
  }

  private write(bytes: Buffer): void {
    if (this.open) this.send(bytes);
  }
}

/** The packet identifier of a PUBACK frame (fixed header, then the id: MQTT 3.1.1 3.4.2). */
function packetIdOf(puback: Buffer): number {
  return puback.readUInt16BE(2);
}

/** Samples in a telemetry batch (firmware/telemetry/batch.ts schema); 0 for any other payload. */
function telemetrySamples(payload: Buffer | string): number {
  try {
    const batch = JSON.parse(payload.toString()) as { samples?: unknown };
    return Array.isArray(batch.samples) ? batch.samples.length : 0;
  } catch {
    return 0;
  }
}
