/**
 * Broker profiles: what the device checks before it sends, so a request the
 * broker would refuse (or silently drop) fails here with a clear reason.
 *
 * `aws`: AWS IoT Core message broker quotas (AWS general reference, "AWS IoT Core
 * endpoints and quotas"). `generic`: the MQTT 3.1.1 limits only.
 */
import { MqttError } from './errors';
import { codeAt, utf8Length } from './utf8';

export type ProfileName = 'aws' | 'generic';

export interface BrokerProfile {
  readonly name: ProfileName;
  readonly maxClientIdBytes: number;
  readonly reservedClientIdPrefix: string | undefined;
  readonly maxTopicBytes: number;
  /** Largest number of '/' in a publish topic. */
  readonly maxTopicSlashes: number;
  readonly maxPayloadBytes: number;
  readonly minKeepAliveS: number;
  readonly maxKeepAliveS: number;
  readonly maxFiltersPerSubscribe: number;
  readonly maxSubscriptions: number;
  readonly maxInflight: number;
  /** Incoming QoS 2 ids awaiting PUBREL at once; 0: the broker has no QoS 2 and sending it is a violation. */
  readonly maxQos2Awaiting: number;
}

export const PROFILES: Readonly<Record<ProfileName, BrokerProfile>> = Object.freeze({
  aws: Object.freeze({
    name: 'aws',
    maxClientIdBytes: 128,
    reservedClientIdPrefix: '$',
    maxTopicBytes: 256,
    maxTopicSlashes: 7,
    maxPayloadBytes: 128 * 1024,
    minKeepAliveS: 30,
    maxKeepAliveS: 1200,
    maxFiltersPerSubscribe: 8,
    maxSubscriptions: 50,
    maxInflight: 100,
    // AWS IoT Core has no QoS 2 in either direction ("MQTT" in the AWS IoT Core developer guide).
    maxQos2Awaiting: 0,
  }),
  generic: Object.freeze({
    name: 'generic',
    maxClientIdBytes: 65535,
    reservedClientIdPrefix: undefined,
    maxTopicBytes: 65535,
    maxTopicSlashes: Infinity,
    maxPayloadBytes: 268_435_455 - 2 - 65535 - 2,
    minKeepAliveS: 0,
    maxKeepAliveS: 65535,
    maxFiltersPerSubscribe: Infinity,
    maxSubscriptions: Infinity,
    maxInflight: 65535,
    // A broker flooding QoS 2 without PUBREL could otherwise hold 65535 ids of RAM.
    maxQos2Awaiting: 32,
  }),
});

function limit(message: string): MqttError {
  return new MqttError('limit', message);
}

/** `what` exceeds the profile's `max`. */
function over(profile: BrokerProfile, what: string, max: number, per = ''): MqttError {
  return limit(`${what}; ${profile.name} allows at most ${max}${per}`);
}

/** AWS clamps keepalive into 30..1200 s (0 becomes 1200); the device asks for what it will get. */
export function clampKeepAlive(profile: BrokerProfile, seconds: number): number {
  if (profile.name === 'aws' && seconds === 0) return profile.maxKeepAliveS;
  return Math.min(profile.maxKeepAliveS, Math.max(profile.minKeepAliveS, Math.floor(seconds)));
}

export function checkClientId(profile: BrokerProfile, clientId: string): MqttError | undefined {
  const bytes = utf8Length(clientId);
  if (bytes < 0) return limit('client id is not valid UTF-8');
  if (bytes === 0) return limit('client id is empty: AWS IoT uses it as the thing identity');
  if (bytes > profile.maxClientIdBytes) return over(profile, `client id is ${bytes} bytes`, profile.maxClientIdBytes);
  if (profile.reservedClientIdPrefix !== undefined && clientId.startsWith(profile.reservedClientIdPrefix)) {
    return limit(`client id may not start with "${profile.reservedClientIdPrefix}" (reserved by ${profile.name})`);
  }
  return undefined;
}

/**
 * The profile's limits on a PUBLISH. What MQTT itself forbids (a wildcard or
 * empty topic, ill-formed UTF-8, QoS 3) the encoder refuses ('invalid-argument').
 */
export function checkPublish(profile: BrokerProfile, topic: string, payloadBytes: number, qos: number): MqttError | undefined {
  const bytes = utf8Length(topic);
  if (bytes > profile.maxTopicBytes) return over(profile, `topic is ${bytes} bytes`, profile.maxTopicBytes);
  let slashes = 0;
  for (let i = 0, n = topic.length; i < n; i++) if (codeAt(topic, i) === 0x2f) slashes++;
  if (slashes > profile.maxTopicSlashes) return over(profile, `topic has ${slashes} slashes`, profile.maxTopicSlashes);
  if (payloadBytes > profile.maxPayloadBytes) return over(profile, `payload is ${payloadBytes} bytes`, profile.maxPayloadBytes);
  // This client has the QoS 2 receiver flow only; AWS IoT Core has no QoS 2 at all.
  if (qos === 2) {
    return limit(profile.name === 'aws' ? 'QoS 2 is not supported by AWS IoT Core (no acknowledgement would come)' : 'this client publishes with QoS 0 or 1');
  }
  return undefined;
}

/**
 * The profile's limits on a SUBSCRIBE after which the broker would hold `total`
 * filters. What MQTT itself forbids (no filters, an invalid filter or QoS) the
 * encoder refuses ('invalid-argument').
 */
export function checkSubscribe(profile: BrokerProfile, filters: readonly { topic: string; qos: number }[], total: number): MqttError | undefined {
  if (filters.length > profile.maxFiltersPerSubscribe) return over(profile, `${filters.length} filters in one SUBSCRIBE`, profile.maxFiltersPerSubscribe);
  if (total > profile.maxSubscriptions) return over(profile, `${total} subscriptions`, profile.maxSubscriptions, ' per connection');
  for (const { topic } of filters) {
    const bytes = utf8Length(topic);
    if (bytes > profile.maxTopicBytes) return over(profile, `topic filter is ${bytes} bytes`, profile.maxTopicBytes);
  }
  return undefined;
}
