/**
 * The link's states and events as data. The supervisor asks the table
 * (`nextState`, firmware/util/states.ts) before it acts and does nothing on an undefined (illegal) move. Every move
 * in the table happens (test-sim/test/link/reachability.test.ts drives each).
 *
 * DNS resolution happens inside the platform's secure-socket open, so its
 * failures surface in TlsConnect with category `dns` rather than in a state of
 * their own. The device's own cycle (sample, upload, sleep) is the device
 * table in firmware/device/states.ts; it starts and stops this one.
 */
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
export const TRANSITIONS = Object.freeze({
  Boot: Object.freeze({ Start: 'WifiJoin' }),
  WifiJoin: Object.freeze({ WifiUp: 'TimeSync', WifiFailed: 'Backoff', Stop: 'Sleep' }),
  TimeSync: Object.freeze({ TimeSynced: 'TlsConnect', TimeFailed: 'Backoff', WifiLost: 'Backoff', Stop: 'Sleep' }),
  TlsConnect: Object.freeze({ TlsUp: 'MqttConnect', TlsFailed: 'Backoff', WifiLost: 'Backoff', Stop: 'Sleep' }),
  // With MQTT up, a lost Wi-Fi closes the client first: MqttFailed or LinkLost, class `wifi`.
  MqttConnect: Object.freeze({ MqttUp: 'Online', MqttFailed: 'Backoff', Stop: 'Sleep' }),
  Online: Object.freeze({ LinkLost: 'Backoff', Stop: 'Closing' }),
  Backoff: Object.freeze({ BackoffDone: 'WifiJoin', Stop: 'Sleep' }),
  Closing: Object.freeze({ Closed: 'Sleep' }),
  Sleep: Object.freeze({}),
} as const satisfies Record<string, Partial<Record<LinkEvent, string>>>);
export type LinkState = keyof typeof TRANSITIONS;
