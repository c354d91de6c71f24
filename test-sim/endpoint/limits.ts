/**
 * AWS IoT Core message-broker limits as pure checks (AWS general reference,
 * "AWS IoT Core endpoints and quotas", message broker; see shared/REFERENCE.md).
 */

export interface BrokerLimits {
  maxClientIdBytes: number;
  maxTopicBytes: number;
  /** Forward slashes in a topic or filter; Basic Ingest's `$aws/rules/<rule>/` prefix does not count. */
  maxTopicSlashes: number;
  maxPayloadBytes: number;
  keepaliveMinS: number;
  keepaliveMaxS: number;
  /** Silence tolerated, as a multiple of the effective keepalive. */
  keepaliveGrace: number;
  /** Minimum spacing of accepted CONNECTs per client id. */
  connectIntervalMs: number;
}

export const AWS_LIMITS: Readonly<BrokerLimits> = Object.freeze({
  maxClientIdBytes: 128,
  maxTopicBytes: 256,
  maxTopicSlashes: 7,
  maxPayloadBytes: 128 * 1024,
  keepaliveMinS: 30,
  keepaliveMaxS: 1200,
  keepaliveGrace: 1.5,
  connectIntervalMs: 1000,
});

export type LimitViolation =
  | 'client-id'
  | 'connect-rate'
  | 'topic-length'
  | 'topic-depth'
  | 'payload-size'
  | 'qos2-publish'
  | 'qos2-subscribe'
  | 'filter';

export const LIMIT_VIOLATIONS: readonly LimitViolation[] = Object.freeze([
  'client-id',
  'connect-rate',
  'topic-length',
  'topic-depth',
  'payload-size',
  'qos2-publish',
  'qos2-subscribe',
  'filter',
]);

/** 0 or above the maximum becomes the maximum; below the minimum becomes the minimum. */
export function effectiveKeepalive(requestedS: number, limits: BrokerLimits = AWS_LIMITS): number {
  if (requestedS === 0 || requestedS > limits.keepaliveMaxS) return limits.keepaliveMaxS;
  if (requestedS < limits.keepaliveMinS) return limits.keepaliveMinS;
  return requestedS;
}

export function clientIdViolation(clientId: string, limits: BrokerLimits = AWS_LIMITS): string | undefined {
  const bytes = Buffer.byteLength(clientId, 'utf8');
  if (bytes > limits.maxClientIdBytes) return `client id is ${bytes} bytes (max ${limits.maxClientIdBytes})`;
  if (clientId.startsWith('$')) return 'client id starts with "$"';
  return undefined;
}

const BASIC_INGEST = /^\$aws\/rules\/[^/]+\//;

/** For a PUBLISH topic or a SUBSCRIBE filter. */
export function topicViolation(
  topic: string,
  limits: BrokerLimits = AWS_LIMITS,
): { kind: 'topic-length' | 'topic-depth'; detail: string } | undefined {
  const bytes = Buffer.byteLength(topic, 'utf8');
  if (bytes > limits.maxTopicBytes) return { kind: 'topic-length', detail: `topic is ${bytes} bytes (max ${limits.maxTopicBytes})` };
  const counted = topic.replace(BASIC_INGEST, '');
  const slashes = counted.split('/').length - 1;
  if (slashes > limits.maxTopicSlashes) {
    return { kind: 'topic-depth', detail: `topic has ${slashes} slashes (max ${limits.maxTopicSlashes})` };
  }
  return undefined;
}
