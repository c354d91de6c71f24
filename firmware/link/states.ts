/**
 * The link's states and events as data. `next` is pure: the supervisor asks it
 * before it acts and does nothing on an undefined (illegal) move. Every move
 * in the table happens (test-sim/test/link/reachability.test.ts drives each).
 *
 * DNS resolution happens inside the platform's secure-socket open, so its
 * failures surface in TlsConnect with category `dns` rather than in a state of
 * their own. The device's own cycle (sample, upload, sleep) is the device
 * table in firmware/device/states.ts; it starts and stops this one.
 */
import { deepFreeze } from '../util/freeze';

/**
 * Every event the link reacts to. Code names states and events by these
 * strings (the types check them); the list is what tests walk (a readonly
 * tuple: the firmware never reads it, so the bundle leaves it out).
 */
export const LINK_EVENTS = [
  'Start', 'WifiUp', 'WifiFailed', 'WifiLost', 'TimeSynced', 'TimeFailed', 'TlsUp', 'TlsFailed',
  'MqttUp', 'MqttFailed', 'LinkLost', 'BackoffDone', 'Stop', 'Closed',
] as const;
export type LinkEvent = (typeof LINK_EVENTS)[number];

/**
 * The link's states, each with its legal moves. `Closing`: DISCONNECT sent, TLS
 * close_notify and the socket draining (bounded), radio still on. `Sleep`:
 * stopped, nothing open, radio off.
 */
export const TRANSITIONS = deepFreeze({
  Boot: { Start: 'WifiJoin' },
  WifiJoin: { WifiUp: 'TimeSync', WifiFailed: 'Backoff', Stop: 'Sleep' },
  TimeSync: { TimeSynced: 'TlsConnect', TimeFailed: 'Backoff', WifiLost: 'Backoff', Stop: 'Sleep' },
  TlsConnect: { TlsUp: 'MqttConnect', TlsFailed: 'Backoff', WifiLost: 'Backoff', Stop: 'Sleep' },
  // With MQTT up, a lost Wi-Fi closes the client first: MqttFailed or LinkLost, class `wifi`.
  MqttConnect: { MqttUp: 'Online', MqttFailed: 'Backoff', Stop: 'Sleep' },
  Online: { LinkLost: 'Backoff', Stop: 'Closing' },
  Backoff: { BackoffDone: 'WifiJoin', Stop: 'Sleep' },
  Closing: { Closed: 'Sleep' },
  Sleep: {},
} as const satisfies Record<string, Partial<Record<LinkEvent, string>>>);
export type LinkState = keyof typeof TRANSITIONS;

export function next(state: LinkState, event: LinkEvent): LinkState | undefined {
  return (TRANSITIONS[state] as Partial<Record<LinkEvent, LinkState>>)[event];
}
