/**
 * The MQTT layer's typed outcomes, in three families that never mix:
 * - `DecodeErrorKind`: received bytes that break MQTT 3.1.1 (the decoder returns these);
 * - `RefusalKind`: a request refused before anything was sent, or misuse by the caller;
 * - `CloseKind`: why a connection ended (the client's `onClosed` reason).
 * Code branches on kinds; `message` is one line for humans and never contains
 * payload bytes or credentials.
 */

export type DecodeErrorKind =
  | 'malformed-length'     // remaining length longer than 4 bytes (§2.2.3)
  | 'packet-too-large'     // whole packet would exceed the configured or the protocol maximum
  | 'unknown-packet-type'  // control packet type 0 or 15 (§2.2.1)
  | 'bad-flags'            // reserved or contradictory flag bits [MQTT-2.2.2-1]
  | 'bad-qos'              // QoS 3 [MQTT-3.3.1-4]
  | 'bad-return-code'      // reserved CONNACK or SUBACK return code [MQTT-3.9.3-2]
  | 'bad-utf8'             // ill-formed UTF-8 or U+0000 [MQTT-1.5.3-1] [MQTT-1.5.3-2]
  | 'bad-topic'            // empty topic, or wildcards where they are not allowed (§4.7)
  | 'bad-packet-id'        // packet identifier 0 [MQTT-2.3.1-1]
  | 'bad-length'           // remaining length disagrees with the packet's fields
  | 'client-packet'        // CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ or DISCONNECT: only a client sends these (§3)
  | 'bad-protocol'         // CONNECT protocol name or level is not MQTT 3.1.1 [MQTT-3.1.2-1] [MQTT-3.1.2-2] (broker side, tests)
  | 'handler-threw';       // the onPacket callback threw; the stream position is lost

export type RefusalKind =
  | 'buffer-too-small'     // encode: the output buffer cannot hold the packet
  | 'invalid-argument'     // a field outside the MQTT 3.1.1 range, or a bad option
  | 'limit'                // a broker-profile limit (AWS IoT Core quotas) would be broken
  | 'not-connected'        // no open MQTT connection
  | 'inflight-full';       // the bound of QoS 1 messages awaiting PUBACK is reached

export type MqttErrorKind = DecodeErrorKind | RefusalKind;

/**
 * The broker broke MQTT 3.1.1: each kind names one rule a client can check.
 * The link supervisor classes them all as `protocol` (link/classify.ts), the
 * log keeps the kind.
 */
export type BrokerViolation =
  | 'malformed'            // bytes that do not decode (`decode` has the DecodeErrorKind)
  | 'before-connack'       // a packet other than CONNACK came first [MQTT-3.2.0-1]
  | 'second-connack'       // CONNACK on a connection that already has one (§3.2)
  | 'session-present'      // session present after a clean-session request [MQTT-3.2.2-1]
  | 'unknown-packet-id'    // PUBACK, PUBREC, PUBCOMP, SUBACK or UNSUBACK for an id the client never sent or already settled (§4.3, §3.9, §3.11)
  | 'suback-mismatch'      // SUBACK does not answer every filter [MQTT-3.9.3-1]
  | 'qos2-refused'         // QoS 2 (PUBLISH or PUBREL) from a broker whose profile has none (AWS IoT Core)
  | 'qos2-limit';          // more incoming QoS 2 messages awaiting PUBREL than the profile's bound

/** Why a connection ended. */
export type CloseKind =
  // The broker said no, or said nothing in time.
  | 'connack-refused'      // CONNACK with a non-zero return code (Table 3.1)
  | 'connack-timeout'      // no CONNACK within the deadline
  | 'keepalive-timeout'    // no PINGRESP within the deadline: half-open link [MQTT-3.1.2-24]
  | 'puback-timeout'       // a QoS 1 PUBLISH waited past the PUBACK deadline
  | BrokerViolation
  // The device or the link below.
  | 'send-failed'          // a packet the session owed (republish, resubscribe) could not be encoded
  | 'closed'               // the stream below failed or the peer closed it
  | 'disconnected';        // the device disconnected on purpose

export class MqttError<K extends MqttErrorKind = MqttErrorKind> extends Error {
  // A field, not an assignment: on XS, Error.prototype is frozen after preload
  // and assigning an inherited read-only `name` would throw.
  override readonly name = 'MqttError';
  readonly kind: K;

  constructor(kind: K, message: string) {
    super(message);
    this.kind = kind;
  }
}
