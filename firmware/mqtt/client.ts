/**
 * MQTT 3.1.1 client over any byte stream (the HAL's SecureStream). The owner
 * opens the stream, hands it to `start`, and feeds it back with `receive` and
 * `streamFailed`; the client never opens a socket and reads time only through
 * the injected clock and timers.
 *
 * Contracts:
 * - Every method that sends returns `undefined` or the `MqttError` that kept it
 *   from sending (a profile limit, no connection, no packet id, buffer size);
 *   nothing the broker sends makes a method throw.
 * - `onClosed` fires exactly once per `start`, with a typed reason, after which
 *   the stream is closed; malformed input from the broker closes the link.
 * - QoS 1 messages stay in flight across connections until their PUBACK;
 *   `onAcked` reports each one. A PUBLISH unacknowledged for `pubackTimeoutMs`
 *   closes the connection (`puback-timeout`): a broker that answers pings but
 *   not publishes is as useless as a dead link, and the republish after the
 *   reconnect is the only way to make progress.
 * - Every rule of MQTT 3.1.1 a client can check on the broker's packets closes
 *   the connection with its own `CloseKind`: only CONNACK first [MQTT-3.2.0-1],
 *   one CONNACK, no session present after a clean-session request
 *   [MQTT-3.2.2-1], acknowledgements only for ids in flight, and QoS 2 only
 *   where the profile allows it, with a bound on the ids awaiting PUBREL.
 */
import type { Clock, LinkError, Log, SecureStream, Timers, TimerId } from '../../hal/types';
import { after, elapsed, reached } from '../util/time';
import { encode, remainingLength, remainingLengthSize } from './codec';
import { MqttDecoder } from './decoder';
import { MqttError, type CloseKind, type DecodeErrorKind } from './errors';
import { describeReturnCode, type Packet, type PublishPacket, type QoS, type SubscribePacket, type UnsubscribePacket, type Will } from './packets';
import { PROFILES, checkClientId, checkPublish, checkSubscribe, clampKeepAlive, type ProfileName } from './profile';
import { Session } from './session';

export interface MqttClientOptions {
  clock: Clock;
  timers: Timers;
  log?: Log;
  profile?: ProfileName;
  clientId: string;
  /** Default false: keep the broker session so QoS 1 messages survive a reconnect. */
  cleanSession?: boolean;
  /** Seconds; clamped by the profile (AWS: 30..1200). */
  keepAliveS: number;
  /** How long to wait for PINGRESP (or any packet) after a PINGREQ. Default 10 s. */
  pingTimeoutMs?: number;
  /** How long to wait for CONNACK after CONNECT. Default 10 s. */
  connackTimeoutMs?: number;
  /**
   * How long a QoS 1 PUBLISH may wait for its PUBACK before the connection is
   * closed and reopened. Default twice the keepalive (none when keepalive is 0).
   */
  pubackTimeoutMs?: number;
  username?: string;
  password?: Uint8Array;
  will?: Will;
  /** Largest packet accepted from the broker (receive buffer). Default 16 KB. */
  maxPacketSize?: number;
  /** Largest packet sent, each encoded into a buffer of its own size; a larger one is refused ('buffer-too-small'). Default 16 KB. */
  txBufferSize?: number;
  /** Bound of outgoing QoS 1 messages in flight; default the profile's (AWS: 100). */
  maxInflight?: number;
}

export interface IncomingMessage {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  dup: boolean;
}

/** Why a connection ended. `link` is set when the stream below failed. */
export interface CloseReason {
  kind: CloseKind;
  message: string;
  link?: LinkError;
  /** CONNACK return code when the broker refused the connection. */
  returnCode?: number;
  /** What the decoder found, for `malformed`. */
  decode?: DecodeErrorKind;
}

export interface MqttClientEvents {
  onConnected?(sessionPresent: boolean): void;
  onClosed?(reason: CloseReason): void;
  /** A QoS 1 PUBLISH was acknowledged. */
  onAcked?(packetId: number): void;
  /** Return `false` to withhold the PUBACK (the broker will send it again); anything else accepts. */
  onMessage?(message: IncomingMessage): boolean | void;
  onSubscribed?(packetId: number, granted: readonly number[]): void;
  onUnsubscribed?(packetId: number): void;
}

type State = 'idle' | 'connecting' | 'connected' | 'closed';

export class MqttClient {
  readonly profile;
  readonly keepAliveS: number;
  readonly session: Session;
  private readonly decoder: MqttDecoder;
  private readonly txLimit: number;
  private readonly pingTimeoutMs: number;
  private readonly connackTimeoutMs: number;
  private readonly pubackTimeoutMs: number;
  private state: State = 'idle';
  private stream: SecureStream | undefined;
  private timer: TimerId | undefined;
  private lastSent = 0;
  /** Tick by which a reply must arrive (CONNACK or PINGRESP), when one is awaited. */
  private replyDeadline: number | undefined;

  /** Counters for reports: packets and bytes this client sent and received. */
  readonly stats = { packetsSent: 0, packetsReceived: 0, bytesSent: 0, pings: 0 };

  constructor(private readonly options: MqttClientOptions, private readonly events: MqttClientEvents = {}) {
    this.profile = PROFILES[options.profile ?? 'aws'];
    const idError = checkClientId(this.profile, options.clientId);
    if (idError) throw idError;
    this.keepAliveS = clampKeepAlive(this.profile, options.keepAliveS);
    this.session = new Session(Math.min(options.maxInflight ?? this.profile.maxInflight, this.profile.maxInflight));
    this.decoder = new MqttDecoder({ maxPacketSize: options.maxPacketSize ?? 16 * 1024 });
    this.txLimit = options.txBufferSize ?? 16 * 1024;
    this.pingTimeoutMs = options.pingTimeoutMs ?? 10_000;
    this.connackTimeoutMs = options.connackTimeoutMs ?? 10_000;
    this.pubackTimeoutMs = options.pubackTimeoutMs ?? (this.keepAliveS > 0 ? 2000 * this.keepAliveS : 0);
  }

  get connected(): boolean {
    return this.state === 'connected';
  }

  /** CONNECT sent on a stream that is still open. */
  private get open(): boolean {
    return this.state === 'connecting' || this.state === 'connected';
  }

  /** A free packet id for a new request, or why there is none. */
  private newPacketId(what: string): number | MqttError {
    if (this.state !== 'connected') return new MqttError('not-connected', `${what} needs an open connection`);
    return this.session.nextPacketId() ?? new MqttError('inflight-full', 'no packet identifier is free');
  }

  /** Send a SUBSCRIBE or UNSUBSCRIBE with a new packet id; the session keeps it until its ack. */
  private request(type: 'subscribe' | 'unsubscribe', make: (packetId: number) => SubscribePacket | UnsubscribePacket): { packetId: number } | MqttError {
    const packetId = this.newPacketId(type);
    if (packetId instanceof MqttError) return packetId;
    const packet = make(packetId);
    const error = this.send(packet);
    if (error) return error;
    this.session.request(packet);
    return { packetId };
  }

  /** Send CONNECT on a freshly opened stream. */
  start(stream: SecureStream): void {
    if (this.open) throw new MqttError('invalid-argument', 'start while a connection is open');
    this.stream = stream;
    this.state = 'connecting';
    this.decoder.reset();
    const { clientId, username, password, will } = this.options;
    const error = this.send({
      type: 'connect', clientId, cleanSession: this.options.cleanSession ?? false, keepAlive: this.keepAliveS, username, password, will,
    });
    if (error) {
      this.close('send-failed', `CONNECT: ${error.message}`);
      return;
    }
    this.replyDeadline = after(this.options.clock.now(), this.connackTimeoutMs);
    this.arm();
  }

  /** Bytes from the stream. */
  receive(bytes: Uint8Array): void {
    if (!this.open) return;
    let handlerError: unknown;
    const error = this.decoder.push(bytes, (packet) => {
      try {
        this.dispatch(packet);
      } catch (e) {
        handlerError = e;
        throw e;
      }
    });
    if (handlerError !== undefined) throw handlerError;
    if (error) this.close('malformed', `broker sent a malformed packet: ${error.message}`, { decode: error.kind });
  }

  /** The stream failed or the peer closed it. */
  streamFailed(error: LinkError): void {
    if (!this.open) return;
    this.stream = undefined;
    this.close('closed', `link ${error.category}: ${error.message}`, { link: error });
  }

  publish(topic: string, payload: Uint8Array, qos: 0 | 1, retain = false): { packetId: number | undefined } | MqttError {
    const limit = checkPublish(this.profile, topic, payload.length, qos);
    if (limit) return limit;
    if (this.state !== 'connected') return new MqttError('not-connected', 'publish needs an open connection');
    let packetId: number | undefined;
    if (qos === 1) {
      if (this.session.inflightCount >= this.session.maxInflight) {
        return new MqttError('inflight-full', `${this.session.inflightCount} QoS 1 messages already await PUBACK`);
      }
      const id = this.newPacketId('publish');
      if (id instanceof MqttError) return id;
      packetId = id;
    }
    const error = this.send({ type: 'publish', topic, payload, qos, retain, dup: false, packetId });
    if (error) return error;
    if (packetId !== undefined) {
      this.session.track({ packetId, topic, payload, retain, sentAt: this.lastSent });
      if (this.session.inflightCount === 1) this.arm(); // the PUBACK deadline starts now
    }
    return { packetId };
  }

  subscribe(filters: readonly { topic: string; qos: QoS }[]): { packetId: number } | MqttError {
    return checkSubscribe(this.profile, filters, this.session.subscribedCount(filters))
      ?? this.request('subscribe', (packetId) => ({ type: 'subscribe', packetId, subscriptions: filters }));
  }

  unsubscribe(topics: readonly string[]): { packetId: number } | MqttError {
    return this.request('unsubscribe', (packetId) => ({ type: 'unsubscribe', packetId, topics }));
  }

  /**
   * Send DISCONNECT (the broker then discards the will [MQTT-3.14.4-3]) and
   * end this connection. The stream is left open for its owner to `end()`
   * gracefully, so the DISCONNECT reaches the broker before close_notify.
   */
  disconnect(): void {
    if (this.state === 'connected') this.send({ type: 'disconnect' });
    this.stream = undefined; // not closed here: its owner ends it
    this.close('disconnected', 'closed by the device');
  }

  private send(packet: Packet): MqttError | undefined {
    const stream = this.stream;
    if (!stream) return new MqttError('not-connected', 'no stream');
    let size: number;
    let out: Uint8Array;
    try {
      // remainingLength validates every field; a buffer of the packet's own size, never more than the limit.
      const length = remainingLength(packet);
      size = 1 + remainingLengthSize(length) + length;
      if (size > this.txLimit) return new MqttError('buffer-too-small', `${packet.type} of ${size} bytes exceeds txBufferSize ${this.txLimit}`);
      encode(packet, out = new Uint8Array(size), 0, length);
    } catch (error) {
      return error as MqttError;
    }
    stream.write(out, { reply: expectsReply(packet) });
    this.stats.packetsSent++;
    this.stats.bytesSent += size;
    this.lastSent = this.options.clock.now();
    return undefined;
  }

  private dispatch(packet: Packet): void {
    this.stats.packetsReceived++;
    if (this.state === 'connecting' && packet.type !== 'connack') {
      return this.close('before-connack', `broker sent ${packet.type.toUpperCase()} before CONNACK [MQTT-3.2.0-1]`);
    }
    // Any packet from the broker proves the link alive [MQTT-3.1.2-24 is the broker's side of this].
    if (this.state === 'connected') this.replyDeadline = undefined;
    switch (packet.type) {
      case 'connack': {
        if (this.state !== 'connecting') return this.close('second-connack', 'broker sent a second CONNACK');
        if (packet.returnCode !== 0) {
          const rc = packet.returnCode;
          return this.close('connack-refused', `broker refused the connection: ${describeReturnCode(rc)} (${rc})`, { returnCode: rc });
        }
        if (packet.sessionPresent && this.options.cleanSession) {
          return this.close('session-present', 'broker reported a session after a clean-session CONNECT [MQTT-3.2.2-1]');
        }
        this.state = 'connected';
        this.replyDeadline = undefined;
        const { republish, resubscribe } = this.session.resume(packet.sessionPresent, this.options.clock.now());
        this.options.log?.event('mqtt.connected', { sessionPresent: packet.sessionPresent, republish: republish.length, resubscribe: resubscribe.length });
        for (const p of republish) {
          const error = this.send(p);
          if (error) return this.close('send-failed', `republish: ${error.message}`);
        }
        for (let i = 0; i < resubscribe.length; i += this.profile.maxFiltersPerSubscribe) {
          const error = this.subscribe(resubscribe.slice(i, i + this.profile.maxFiltersPerSubscribe));
          if (error instanceof MqttError) this.options.log?.event('mqtt.resubscribe-failed', { reason: error.message });
        }
        this.arm();
        this.events.onConnected?.(packet.sessionPresent);
        return;
      }
      case 'publish':
        return this.incoming(packet);
      case 'puback': {
        const wasOldest = this.session.oldestSentAt();
        if (!this.session.acknowledge(packet.packetId)) return this.unknownId(packet);
        if (this.session.oldestSentAt() !== wasOldest) this.arm(); // the PUBACK deadline moves to the next oldest
        this.events.onAcked?.(packet.packetId);
        return;
      }
      case 'pubrel':
        if (this.profile.maxQos2Awaiting === 0) return this.noQos2('PUBREL');
        // Answered even for an id not awaiting release: the broker may repeat a PUBREL after a reconnect [MQTT-4.3.3-2].
        this.session.releaseQos2(packet.packetId);
        this.send({ type: 'pubcomp', packetId: packet.packetId });
        return;
      case 'pubrec':
      case 'pubcomp':
        // They answer a QoS 2 PUBLISH, which this client never sends.
        return this.unknownId(packet);
      case 'suback':
      case 'unsuback': {
        const request = this.session.settle(packet);
        if (!request) return this.unknownId(packet);
        if (packet.type === 'unsuback') return this.events.onUnsubscribed?.(packet.packetId);
        if (request.type === 'subscribe' && packet.granted.length !== request.subscriptions.length) {
          return this.close('suback-mismatch', 'SUBACK does not answer every filter [MQTT-3.9.3-1]');
        }
        this.events.onSubscribed?.(packet.packetId, packet.granted);
        return;
      }
      default:
        // PINGRESP: any packet already proved the link alive. Client-only packets never decode here (decoder.ts).
        return;
    }
  }

  private unknownId(packet: { type: string; packetId: number }): void {
    this.close('unknown-packet-id', `broker sent ${packet.type.toUpperCase()} for packet id ${packet.packetId}, which is not awaiting one`);
  }

  private noQos2(what: string): void {
    this.close('qos2-refused', `broker sent ${what}, but ${this.profile.name} has no QoS 2`);
  }

  private incoming(packet: PublishPacket): void {
    const message: IncomingMessage = { topic: packet.topic, payload: packet.payload, qos: packet.qos, retain: packet.retain, dup: packet.dup };
    if (packet.qos === 2) {
      const bound = this.profile.maxQos2Awaiting;
      if (bound === 0) return this.noQos2('a QoS 2 PUBLISH');
      const fresh = this.session.receiveQos2(packet.packetId!, bound);
      if (fresh === undefined) return this.close('qos2-limit', `more than ${bound} QoS 2 messages await PUBREL`);
      // Deliver once per id until PUBREL (method B of MQTT 3.1.1 §4.3.3).
      if (fresh) this.events.onMessage?.(message);
      this.send({ type: 'pubrec', packetId: packet.packetId! });
      return;
    }
    const accepted = this.events.onMessage?.(message) !== false;
    // PUBACK only once the application accepted the message [MQTT-4.3.2-2].
    if (packet.qos === 1 && accepted && this.state === 'connected') this.send({ type: 'puback', packetId: packet.packetId! });
  }

  /** One timer covers keepalive and reply deadlines. */
  private arm(): void {
    if (this.timer !== undefined) this.options.timers.clear(this.timer);
    this.timer = undefined;
    if (!this.open) return;
    const now = this.options.clock.now();
    let wait = Infinity;
    if (this.replyDeadline !== undefined) wait = until(this.replyDeadline, now);
    if (this.state === 'connected' && this.keepAliveS > 0 && this.replyDeadline === undefined) {
      const idle = elapsed(now, this.lastSent);
      wait = Math.min(wait, Math.max(0, this.keepAliveS * 1000 - idle));
    }
    const ackDeadline = this.ackDeadline();
    if (ackDeadline !== undefined) wait = Math.min(wait, until(ackDeadline, now));
    if (wait !== Infinity) this.timer = this.options.timers.set(() => this.onTimer(), wait);
  }

  private onTimer(): void {
    this.timer = undefined;
    const now = this.options.clock.now();
    if (this.replyDeadline !== undefined && reached(now, this.replyDeadline)) {
      if (this.state === 'connecting') return this.close('connack-timeout', `no CONNACK within ${this.connackTimeoutMs} ms`);
      return this.close('keepalive-timeout', `no PINGRESP within ${this.pingTimeoutMs} ms: the link is dead (half-open)`);
    }
    const ackDeadline = this.ackDeadline();
    if (ackDeadline !== undefined && reached(now, ackDeadline)) {
      return this.close('puback-timeout', `a QoS 1 PUBLISH waited ${this.pubackTimeoutMs} ms for its PUBACK`);
    }
    if (this.state === 'connected' && this.replyDeadline === undefined && elapsed(now, this.lastSent) >= this.keepAliveS * 1000) {
      // PINGREQ only when nothing else was sent for a whole keepalive interval [MQTT-3.1.2-23].
      const error = this.send({ type: 'pingreq' });
      if (error) return this.close('send-failed', `PINGREQ: ${error.message}`);
      this.stats.pings++;
      this.replyDeadline = after(now, this.pingTimeoutMs);
    }
    this.arm();
  }

  /** Tick by which the oldest QoS 1 PUBLISH of this connection must be acknowledged, if any. */
  private ackDeadline(): number | undefined {
    if (this.state !== 'connected' || this.pubackTimeoutMs <= 0) return undefined;
    const oldest = this.session.oldestSentAt();
    return oldest === undefined ? undefined : after(oldest, this.pubackTimeoutMs);
  }

  /** End this connection: the stream (if still held) is closed, `onClosed` told why. */
  private close(kind: CloseKind, message: string, detail?: Omit<CloseReason, 'kind' | 'message'>): void {
    if (!this.open) return;
    this.state = 'closed';
    this.arm(); // closed: clears the timer and sets none
    this.replyDeadline = undefined;
    const stream = this.stream;
    this.stream = undefined;
    stream?.close();
    this.options.log?.event('mqtt.closed', { kind, message });
    this.events.onClosed?.({ kind, message, ...detail });
  }
}

/** Milliseconds from `now` to `deadline`, 0 once it is reached. */
function until(deadline: number, now: number): number {
  return reached(now, deadline) ? 0 : elapsed(deadline, now);
}

/** Packets the broker answers (CONNACK, PUBACK, PINGRESP, SUBACK, UNSUBACK, PUBREL, PUBCOMP). */
function expectsReply(packet: Packet): boolean {
  switch (packet.type) {
    case 'connect':
    case 'pingreq':
    case 'subscribe':
    case 'unsubscribe':
    case 'pubrec':
    case 'pubrel':
      return true;
    case 'publish':
      return packet.qos > 0;
    default:
      return false;
  }
}
