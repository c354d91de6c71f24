/**
 * MQTT session state that outlives one network connection (MQTT 3.1.1 §4.1):
 * packet identifiers, outgoing QoS 1 messages awaiting PUBACK, incoming QoS 2
 * identifiers awaiting PUBREL, and the subscriptions to restore. No I/O, no time.
 */
import type { PublishPacket, QoS } from './packets';

export interface InflightPublish {
  packetId: number;
  topic: string;
  payload: Uint8Array;
  retain: boolean;
  /** Tick of the latest send (first send or republish), for the PUBACK deadline. */
  sentAt: number;
}

export class Session {
  private lastId = 0;
  /** Outgoing QoS 1 PUBLISHes by packet id, in the order they were sent. */
  private readonly inflight = new Map<number, InflightPublish>();
  /** Identifiers of SUBSCRIBE/UNSUBSCRIBE awaiting their ack. */
  private readonly pendingAcks = new Set<number>();
  /** Incoming QoS 2 ids received and acknowledged with PUBREC, awaiting PUBREL [MQTT-4.3.3-2]. */
  private readonly inboundQos2 = new Set<number>();
  /** Filters the broker granted, to subscribe again when it reports no session. */
  private readonly subscriptions = new Map<string, QoS>();

  constructor(readonly maxInflight: number) {}

  get inflightCount(): number {
    return this.inflight.size;
  }

  get subscriptionCount(): number {
    return this.subscriptions.size;
  }

  /**
   * The next packet identifier: 1..65535, wrapping, skipping ids still in use
   * [MQTT-2.3.1-2]. Undefined when every id is in use.
   */
  nextPacketId(): number | undefined {
    for (let tries = 0; tries < 65535; tries++) {
      this.lastId = this.lastId === 65535 ? 1 : this.lastId + 1;
      if (!this.inflight.has(this.lastId) && !this.pendingAcks.has(this.lastId)) return this.lastId;
    }
    return undefined;
  }

  track(message: InflightPublish): void {
    this.inflight.set(message.packetId, message);
  }

  /**
   * Tick of the oldest send still awaiting PUBACK. Sends are tracked in order
   * and a republish restamps every message with one tick, so it is the first entry's.
   */
  oldestSentAt(): number | undefined {
    for (const m of this.inflight.values()) return m.sentAt;
    return undefined;
  }

  /** Settle a PUBACK; undefined when the id was not in flight (a duplicate ack). */
  acknowledge(packetId: number): InflightPublish | undefined {
    const message = this.inflight.get(packetId);
    this.inflight.delete(packetId);
    return message;
  }

  awaitAck(packetId: number): void {
    this.pendingAcks.add(packetId);
  }

  settleAck(packetId: number): boolean {
    return this.pendingAcks.delete(packetId);
  }

  /**
   * First receipt of an incoming QoS 2 id: true (deliver it); a repeat before
   * PUBREL: false (do not); undefined when `bound` ids already await PUBREL.
   */
  receiveQos2(packetId: number, bound: number): boolean | undefined {
    if (this.inboundQos2.has(packetId)) return false;
    if (this.inboundQos2.size >= bound) return undefined;
    this.inboundQos2.add(packetId);
    return true;
  }

  releaseQos2(packetId: number): void {
    this.inboundQos2.delete(packetId);
  }

  granted(topic: string, qos: QoS): void {
    this.subscriptions.set(topic, qos);
  }

  removed(topic: string): void {
    this.subscriptions.delete(topic);
  }

  /**
   * After CONNACK. With the broker's session kept, unacknowledged PUBLISHes go
   * again with DUP=1 [MQTT-4.4.0-1]; without it they go as new PUBLISHes, the
   * QoS 2 receive state is void, and the subscriptions must be made again.
   */
  resume(sessionPresent: boolean, now: number): { republish: PublishPacket[]; resubscribe: { topic: string; qos: QoS }[] } {
    this.pendingAcks.clear();
    if (!sessionPresent) this.inboundQos2.clear();
    const republish: PublishPacket[] = [];
    for (const m of this.inflight.values()) {
      m.sentAt = now;
      republish.push({ type: 'publish', topic: m.topic, payload: m.payload, qos: 1, retain: m.retain, dup: sessionPresent, packetId: m.packetId });
    }
    const resubscribe: { topic: string; qos: QoS }[] = [];
    if (!sessionPresent) for (const [topic, qos] of this.subscriptions) resubscribe.push({ topic, qos });
    return { republish, resubscribe };
  }
}
