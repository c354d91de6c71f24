/**
 * The device's own cycle as data, beside the link's (firmware/link/states.ts):
 * sample, upload (the link runs), say goodbye, sleep. The device controller
 * asks the table (`nextState`, firmware/util/states.ts), logs `app.transition`
 * for each move and does nothing on an illegal one. Every move happens (test-sim/test/device/device.test.ts).
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
/** Every event the device cycle reacts to (the readonly list tests walk; the firmware never reads it). */
export const DEVICE_EVENTS = ['Rest', 'Upload', 'Serve', 'Flushed', 'Backoff', 'AwakeLimit', 'Left', 'SleepRefused'] as const;
export type DeviceEvent = (typeof DEVICE_EVENTS)[number];

export const DEVICE_TRANSITIONS = Object.freeze({
  Boot: Object.freeze({ Rest: 'Asleep', Upload: 'Uploading', Serve: 'Serving' }),
  Uploading: Object.freeze({ Flushed: 'Leaving', Backoff: 'Leaving', AwakeLimit: 'Leaving' }),
  Serving: Object.freeze({}),
  Leaving: Object.freeze({ Left: 'Asleep' }),
  Asleep: Object.freeze({ SleepRefused: 'Restarting' }),
  Restarting: Object.freeze({}),
} as const satisfies Record<string, Partial<Record<DeviceEvent, string>>>);
export type DeviceState = keyof typeof DEVICE_TRANSITIONS;
