/**
 * The device's own cycle as data, beside the link's (firmware/link/states.ts):
 * sample, upload (the link runs), say goodbye, sleep. `next` is pure; the
 * device controller logs `app.transition` for each move and does nothing on an
 * illegal one. Every move happens (test-sim/test/device/device.test.ts).
 *
 *   Boot --Rest--> Asleep               duty: nothing due, or a backoff still runs
 *   Boot --Upload--> Uploading          duty: samples to send; the link starts
 *   Boot --Serve--> Serving             always connected: sample on a timer, link up
 *   Uploading --Flushed--> Leaving      every batch acknowledged
 *   Uploading --Backoff--> Leaving      the link failed: sleep through its backoff
 *   Uploading --AwakeLimit--> Leaving   awake too long (a stuck handshake, a silent broker)
 *   Leaving --Left--> Asleep            the goodbye is done (DISCONNECT, close_notify, radio off)
 *   Asleep --SleepRefused--> Restarting deep sleep could not start: restart, state kept
 */
export const DeviceState = Object.freeze({
  Boot: 'Boot',
  Uploading: 'Uploading',
  Serving: 'Serving',
  Leaving: 'Leaving',
  Asleep: 'Asleep',
  Restarting: 'Restarting',
} as const);
export type DeviceState = (typeof DeviceState)[keyof typeof DeviceState];

export const DeviceEvent = Object.freeze({
  Rest: 'Rest',
  Upload: 'Upload',
  Serve: 'Serve',
  Flushed: 'Flushed',
  Backoff: 'Backoff',
  AwakeLimit: 'AwakeLimit',
  Left: 'Left',
  SleepRefused: 'SleepRefused',
} as const);
export type DeviceEvent = (typeof DeviceEvent)[keyof typeof DeviceEvent];

const S = DeviceState;
const E = DeviceEvent;

export const DEVICE_TRANSITIONS: Readonly<Record<DeviceState, Readonly<Partial<Record<DeviceEvent, DeviceState>>>>> = Object.freeze({
  [S.Boot]: Object.freeze({ [E.Rest]: S.Asleep, [E.Upload]: S.Uploading, [E.Serve]: S.Serving }),
  [S.Uploading]: Object.freeze({ [E.Flushed]: S.Leaving, [E.Backoff]: S.Leaving, [E.AwakeLimit]: S.Leaving }),
  [S.Serving]: Object.freeze({}),
  [S.Leaving]: Object.freeze({ [E.Left]: S.Asleep }),
  [S.Asleep]: Object.freeze({ [E.SleepRefused]: S.Restarting }),
  [S.Restarting]: Object.freeze({}),
});

export function nextDeviceState(state: DeviceState, event: DeviceEvent): DeviceState | undefined {
  return DEVICE_TRANSITIONS[state][event];
}
