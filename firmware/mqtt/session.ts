/**
 * MQTT session state that outlives one network connection (MQTT 3.1.1 §4.1):
 * packet identifiers, outgoing QoS 1 messages awaiting PUBACK, incoming QoS 2
 * identifiers awaiting PUBREL, and the subscriptions to restore. No I/O, no time.
 */
import type { PublishPacket, QoS, SubackPacket, SubscribePacket, Subscription, UnsubackPacket, UnsubscribePacket } from './packets';

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
  /** SUBSCRIBEs and UNSUBSCRIBEs awaiting their ack, by packet id. */
  private readonly requests = new Map<number, SubscribePacket | UnsubscribePacket>();
  /** Incoming QoS 2 ids received and acknowledged with PUBREC, awaiting PUBREL [MQTT-4.3.3-2]. */
  private readonly inboundQos2 = new Set<number>();
  /** Filters the broker granted and holds, to subscribe again when it reports no session. */
  private readonly subscriptions = new Map<string, QoS>();

  constructor(readonly maxInflight: number) {}

  get inflightCount(): number {
    return this.inflight.size;
  }

  /**
   * Filters the broker would hold after a SUBSCRIBE of `filters`: those it
   * holds, is asked for and `filters`, each once (a SUBSCRIBE to a held filter
   * replaces it [MQTT-3.8.4-3]).
   */
  subscribedCount(filters: readonly Subscription[]): number {
    const topics = new Set(this.subscriptions.keys());
    const add = (list: readonly Subscription[]) => { for (const f of list) topics.add(f.topic); };
    add(filters);
    for (const r of this.requests.values()) if (r.type === 'subscribe') add(r.subscriptions);
    return topics.size;
  }

  /**
   * The next packet identifier: 1..65535, wrapping, skipping ids still in use
   * [MQTT-2.3.1-2]. Undefined when every id is in use.
   */
  nextPacketId(): number | undefined {
    for (let tries = 0; tries < 65535; tries++) {
      this.lastId = this.lastId === 65535 ? 1 : this.lastId + 1;
      if (!this.inflight.has(this.lastId) && !this.requests.has(this.lastId)) return this.lastId;
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

  request(packet: SubscribePacket | UnsubscribePacket): void {
    this.requests.set(packet.packetId, packet);
  }

  /**
   * Settle a SUBACK or UNSUBACK: the request it answers, or undefined when no
   * request of its kind awaits an ack with its id. A SUBACK's filters the
   * broker granted are held from now on, the ones it refused (0x80) are not
   * (a SUBACK with the wrong number of codes changes nothing: the client
   * closes); an UNSUBACK's filters are no longer held.
   */
  settle(ack: SubackPacket | UnsubackPacket): SubscribePacket | UnsubscribePacket | undefined {
    const request = this.requests.get(ack.packetId);
    if (request?.type !== (ack.type === 'suback' ? 'subscribe' : 'unsubscribe')) return undefined;
    this.requests.delete(ack.packetId);
    if (request.type === 'unsubscribe') for (const topic of request.topics) this.subscriptions.delete(topic);
    else if (ack.type === 'suback' && ack.granted.length === request.subscriptions.length) {
      request.subscriptions.forEach((f, i) => {
        const granted = ack.granted[i];
        if (granted === 0x80) this.subscriptions.delete(f.topic);
        else this.subscriptions.set(f.topic, granted);
      });
    }
    return request;
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

  /**
   * After CONNACK. With the broker's session kept, unacknowledged PUBLISHes go
   * again with DUP=1 [MQTT-4.4.0-1]; without it they go as new PUBLISHes, the
   * QoS 2 receive state is void, and the subscriptions must be made again.
   */
  resume(sessionPresent: boolean, now: number): { republish: PublishPacket[]; resubscribe: { topic: string; qos: QoS }[] } {
    this.requests.clear();
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
