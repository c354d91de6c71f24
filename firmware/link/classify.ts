/**
 * Failure classes the supervisor acts on, from the typed errors of the HAL
 * (LinkError) and of the MQTT client (CloseReason). Never from message text.
 */
import type { LinkError } from '../../hal/types';
import type { CloseReason } from '../mqtt/client';
import type { BrokerViolation } from '../mqtt/errors';

export type Failure =
  | 'wifi'            // no access point, association lost
  | 'dns'
  | 'tcp'
  | 'timeout'
  | 'tls-network'     // handshake broken by the network, not by credentials
  | 'credentials'     // our configuration or credentials are wrong: certificate rejected either way, ALPN, CONNACK 4/5, 2
  | 'clock'           // the server's certificate is not valid at the device's clock: the clock (or the certificate) is wrong
  | 'time'            // no trustworthy time: no server answered, every answer was too early, or servers disagreed
  | 'broker-refused'  // CONNACK 3: server unavailable
  | 'protocol'        // the broker broke MQTT (or sent garbage)
  | 'keepalive'       // half-open link detected by a missing PINGRESP
  | 'broker-closed';  // the broker closed an established connection (includes a client-id takeover)

/** The failure class of every link error category but 'tls-cert', which its reason decides. */
const BY_CATEGORY: Readonly<Record<Exclude<LinkError['category'], 'tls-cert'>, Failure>> = {
  wifi: 'wifi',
  dns: 'dns',
  tcp: 'tcp',
  timeout: 'timeout',
  'tls-handshake': 'tls-network',
  'tls-alert': 'credentials',
  alpn: 'credentials',
  closed: 'broker-closed',
};

/** A certificate refused for its dates (reason 'time') is 'clock'; refused for anything else, 'credentials'. */
export function classifyLinkError(error: LinkError): Failure {
  return error.category === 'tls-cert' ? (error.reason === 'time' ? 'clock' : 'credentials') : BY_CATEGORY[error.category];
}

export function classifyClose(reason: CloseReason): Failure {
  switch (reason.kind) {
    case 'closed': return reason.link ? classifyLinkError(reason.link) : 'broker-closed';
    case 'connack-refused':
      // 1 protocol version, 2 identifier rejected, 4 bad user name or password, 5 not authorized: configuration.
      return reason.returnCode === 3 ? 'broker-refused' : 'credentials';
    case 'keepalive-timeout': return 'keepalive';
    case 'connack-timeout':
    case 'puback-timeout': return 'timeout';
    // The supervisor never classifies its own disconnect; were it asked, the broker is not at fault.
    case 'disconnected': return 'broker-closed';
    default:
      // Every other kind (the type checks it): the broker broke MQTT, or a packet the session owed did not encode.
      reason.kind satisfies BrokerViolation | 'send-failed';
      return 'protocol';
  }
}
