/**
 * The one error type of the MQTT layer. Code branches on `kind`; `message` is
 * one line for humans and never contains payload bytes or credentials.
 *
 * To add a kind (the session will add 'keepalive-timeout' and the like), add it
 * to `MqttErrorKind` and to `DESCRIPTIONS`; the compiler flags a missing entry.
 */
export type MqttErrorKind =
  // Received bytes that break MQTT 3.1.1 (the decoder returns these).
  | 'malformed-length'     // remaining length longer than 4 bytes (§2.2.3)
  | 'packet-too-large'     // whole packet would exceed the configured or the protocol maximum
  | 'unknown-packet-type'  // control packet type 0 or 15 (§2.2.1)
  | 'bad-flags'            // reserved or contradictory flag bits [MQTT-2.2.2-1]
  | 'bad-qos'              // QoS 3 [MQTT-3.3.1-4] [MQTT-3.1.2-14] [MQTT-3-8.3-4]
  | 'bad-return-code'      // reserved CONNACK or SUBACK return code [MQTT-3.9.3-2]
  | 'bad-utf8'             // ill-formed UTF-8 or U+0000 [MQTT-1.5.3-1] [MQTT-1.5.3-2]
  | 'bad-topic'            // empty topic, or wildcards where they are not allowed (§4.7)
  | 'bad-packet-id'        // packet identifier 0 [MQTT-2.3.1-1]
  | 'bad-length'           // remaining length disagrees with the packet's fields
  | 'bad-protocol'         // CONNECT protocol name or level is not MQTT 3.1.1 [MQTT-3.1.2-1] [MQTT-3.1.2-2]
  // Misuse by the caller (thrown, never returned for received bytes).
  | 'buffer-too-small'     // encode: the output buffer cannot hold the packet
  | 'invalid-argument'     // a field outside the MQTT 3.1.1 range, or a bad option
  | 'handler-threw'        // decoder: the onPacket callback threw; the stream position is lost
  // Refused before sending (client.ts, profile.ts).
  | 'limit'                // a broker-profile limit (AWS IoT Core quotas) would be broken
  | 'not-connected'        // no open MQTT connection
  | 'inflight-full'        // the bound of QoS 1 messages awaiting PUBACK is reached
  // Why a connection ended (the client's onClosed reason).
  | 'connack-refused'      // CONNACK with a non-zero return code (Table 3.1)
  | 'protocol'             // the broker broke the protocol (a packet only a client may send, a second CONNACK)
  | 'timeout'              // no CONNACK within the deadline
  | 'keepalive-timeout'    // no PINGRESP within the deadline: half-open link [MQTT-3.1.2-24]
  | 'closed'               // the stream below failed or the peer closed it
  | 'disconnected';        // the device disconnected on purpose

const DESCRIPTIONS: { readonly [K in MqttErrorKind]: string } = {
  'malformed-length': 'malformed remaining length',
  'packet-too-large': 'packet too large',
  'unknown-packet-type': 'unknown packet type',
  'bad-flags': 'invalid flags',
  'bad-qos': 'invalid QoS',
  'bad-return-code': 'reserved return code',
  'bad-utf8': 'ill-formed UTF-8 string',
  'bad-topic': 'invalid topic',
  'bad-packet-id': 'invalid packet identifier',
  'bad-length': 'length does not match contents',
  'bad-protocol': 'unsupported protocol name or level',
  'buffer-too-small': 'buffer too small',
  'invalid-argument': 'invalid argument',
  'handler-threw': 'packet handler threw',
  'limit': 'broker limit',
  'not-connected': 'not connected',
  'inflight-full': 'too many messages in flight',
  'connack-refused': 'connection refused by broker',
  'protocol': 'protocol violation by broker',
  'timeout': 'no reply in time',
  'keepalive-timeout': 'keepalive timeout',
  'closed': 'connection closed',
  'disconnected': 'disconnected by the device',
};

/** A short fixed name of `kind` for logs. */
export function describeErrorKind(kind: MqttErrorKind): string {
  return DESCRIPTIONS[kind];
}

export class MqttError extends Error {
  // A field, not an assignment: on XS, Error.prototype is frozen after preload
  // and assigning an inherited read-only `name` would throw.
  override readonly name = 'MqttError';
  readonly kind: MqttErrorKind;

  constructor(kind: MqttErrorKind, message: string) {
    super(message);
    this.kind = kind;
  }
}
