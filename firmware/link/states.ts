/**
 * The link's states and events as data. `next` is pure: the supervisor asks it
 * before it acts and does nothing on an undefined (illegal) move.
 *
 * DNS resolution happens inside the platform's secure-socket open, so its
 * failures surface in TlsConnect with category `dns` rather than in a state of
 * their own.
 */
export const LinkState = Object.freeze({
  Boot: 'Boot',
  WifiJoin: 'WifiJoin',
  TimeSync: 'TimeSync',
  TlsConnect: 'TlsConnect',
  MqttConnect: 'MqttConnect',
  Online: 'Online',
  Backoff: 'Backoff',
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
  Idle: 'Idle',
  Wake: 'Wake',
} as const);
export type LinkEvent = (typeof LinkEvent)[keyof typeof LinkEvent];

const S = LinkState;
const E = LinkEvent;

/** Every legal move. A pair missing here is illegal. */
export const TRANSITIONS: Readonly<Record<LinkState, Readonly<Partial<Record<LinkEvent, LinkState>>>>> = Object.freeze({
  [S.Boot]: Object.freeze({ [E.Start]: S.WifiJoin, [E.Idle]: S.Sleep }),
  [S.WifiJoin]: Object.freeze({ [E.WifiUp]: S.TimeSync, [E.WifiFailed]: S.Backoff }),
  [S.TimeSync]: Object.freeze({ [E.TimeSynced]: S.TlsConnect, [E.TimeFailed]: S.Backoff, [E.WifiLost]: S.Backoff }),
  [S.TlsConnect]: Object.freeze({ [E.TlsUp]: S.MqttConnect, [E.TlsFailed]: S.Backoff, [E.WifiLost]: S.Backoff }),
  [S.MqttConnect]: Object.freeze({ [E.MqttUp]: S.Online, [E.MqttFailed]: S.Backoff, [E.WifiLost]: S.Backoff }),
  [S.Online]: Object.freeze({ [E.LinkLost]: S.Backoff, [E.WifiLost]: S.Backoff, [E.Idle]: S.Sleep }),
  [S.Backoff]: Object.freeze({ [E.BackoffDone]: S.WifiJoin, [E.WifiLost]: S.Backoff, [E.Idle]: S.Sleep }),
  [S.Sleep]: Object.freeze({ [E.Wake]: S.WifiJoin }),
});

/** The state after `event` in `state`, or undefined when the move is illegal. */
export function next(state: LinkState, event: LinkEvent): LinkState | undefined {
  return TRANSITIONS[state][event];
}
