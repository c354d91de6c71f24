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
export const LinkState = Object.freeze({
  Boot: 'Boot',
  WifiJoin: 'WifiJoin',
  TimeSync: 'TimeSync',
  TlsConnect: 'TlsConnect',
  MqttConnect: 'MqttConnect',
  Online: 'Online',
  Backoff: 'Backoff',
  /** DISCONNECT sent, TLS close_notify and the socket draining (bounded), radio still on. */
  Closing: 'Closing',
  /** Stopped: nothing open, radio off. */
  Sleep: 'Sleep',
} as const);
export type LinkState = (typeof LinkState)[keyof typeof LinkState];

export const LinkEvent = Object.freeze({
  Start: 'Start',
  WifiUp: 'WifiUp',
  WifiFailed: 'WifiFailed',
  WifiLost: 'WifiLost',
  TimeSynced: 'TimeSynced',
  TimeFailed: 'TimeFailed',
  TlsUp: 'TlsUp',
  TlsFailed: 'TlsFailed',
  MqttUp: 'MqttUp',
  MqttFailed: 'MqttFailed',
  LinkLost: 'LinkLost',
  BackoffDone: 'BackoffDone',
  /** The device is done with the link (uploaded, or out of time). */
  Stop: 'Stop',
  /** The goodbye finished (or its bound ran out). */
  Closed: 'Closed',
} as const);
export type LinkEvent = (typeof LinkEvent)[keyof typeof LinkEvent];

const S = LinkState;
const E = LinkEvent;

/** Every legal move. A pair missing here is illegal. */
export const TRANSITIONS: Readonly<Record<LinkState, Readonly<Partial<Record<LinkEvent, LinkState>>>>> = Object.freeze({
  [S.Boot]: Object.freeze({ [E.Start]: S.WifiJoin }),
  [S.WifiJoin]: Object.freeze({ [E.WifiUp]: S.TimeSync, [E.WifiFailed]: S.Backoff, [E.Stop]: S.Sleep }),
  [S.TimeSync]: Object.freeze({ [E.TimeSynced]: S.TlsConnect, [E.TimeFailed]: S.Backoff, [E.WifiLost]: S.Backoff, [E.Stop]: S.Sleep }),
  [S.TlsConnect]: Object.freeze({ [E.TlsUp]: S.MqttConnect, [E.TlsFailed]: S.Backoff, [E.WifiLost]: S.Backoff, [E.Stop]: S.Sleep }),
  // With MQTT up, a lost Wi-Fi closes the client first: MqttFailed or LinkLost, class `wifi`.
  [S.MqttConnect]: Object.freeze({ [E.MqttUp]: S.Online, [E.MqttFailed]: S.Backoff, [E.Stop]: S.Sleep }),
  [S.Online]: Object.freeze({ [E.LinkLost]: S.Backoff, [E.Stop]: S.Closing }),
  [S.Backoff]: Object.freeze({ [E.BackoffDone]: S.WifiJoin, [E.Stop]: S.Sleep }),
  [S.Closing]: Object.freeze({ [E.Closed]: S.Sleep }),
  [S.Sleep]: Object.freeze({}),
});

/** The state after `event` in `state`, or undefined when the move is illegal. */
export function next(state: LinkState, event: LinkEvent): LinkState | undefined {
  return TRANSITIONS[state][event];
}
