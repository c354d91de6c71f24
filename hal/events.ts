/**
 * Every log event name, in one place: the firmware and the HALs emit them
 * (`hal.log.event(EVENTS.linkTransition, ...)`), the simulator's host records
 * its own (`device.*`, `radio`), and the simulator's summary and report read
 * them. Renaming one here renames it everywhere; an event that is not in this
 * map is a bug a test catches.
 *
 * Fields of each event are documented where it is emitted.
 */
export const EVENTS = Object.freeze({
  // firmware/app
  appBoot: 'app.boot',
  appConfigError: 'app.config-error',
  /** The device table's moves (firmware/device/states.ts): {from, event, to}. */
  appTransition: 'app.transition',
  // firmware/link
  linkTransition: 'link.transition',
  linkIllegal: 'link.illegal',
  linkBackoff: 'link.backoff',
  linkConfigurationFault: 'link.configuration-fault',
  // firmware/mqtt
  mqttConnected: 'mqtt.connected',
  mqttClosed: 'mqtt.closed',
  mqttMalformed: 'mqtt.malformed',
  mqttResubscribeFailed: 'mqtt.resubscribe-failed',
  // firmware/time
  timeSynced: 'time.synced',
  timeRefused: 'time.refused',
  timeKept: 'time.kept',
  // firmware/telemetry
  telemetryAcked: 'telemetry.acked',
  telemetryPublishError: 'telemetry.publish-error',
  telemetryQueueError: 'telemetry.queue-error',
  // firmware power policy
  powerPolicy: 'power.policy',
  powerDeepSleep: 'power.deep-sleep',
  powerAwakeLimit: 'power.awake-limit',
  powerDeepSleepRefused: 'power.deep-sleep-refused',
  // HALs (hal/moddable, and the simulator host for hal/sim)
  halBoot: 'hal.boot',
  halCredentialStore: 'hal.credential-store',
  halCredentialsMissing: 'hal.credentials-missing',
  halDeepSleepEmulated: 'hal.deep-sleep-emulated',
  halDeepSleepFailed: 'hal.deep-sleep-failed',
  halFlashMissing: 'hal.flash-missing',
  memoryPeaks: 'memory.peaks',
  nativeDeepSleepUnsupported: 'native.deep-sleep-unsupported',
  powerManagement: 'power.management',
  tlsConnected: 'tls.connected',
  tlsError: 'tls.error',
  /** hal/moddable: one connection's heap, handshake CPU time, cipher suite and session bytes (secure-stream.ts). */
  tlsMeasured: 'tls.measured',
  wifiHintMissed: 'wifi.hint-missed',
  wifiJoined: 'wifi.joined',
  wifiLeaseDropped: 'wifi.lease-dropped',
  wifiPowerSave: 'wifi.power-save',
  wifiPowerSaveUnsupported: 'wifi.power-save-unsupported',
  // the simulator's host (test-sim/device)
  deviceBoot: 'device.boot',
  deviceCrash: 'device.crash',
  deviceDeepSleep: 'device.deep-sleep',
  deviceRestart: 'device.restart',
  devicePowerCut: 'device.power-cut',
  deviceFlashBitflip: 'device.flash-bitflip',
  deviceReset: 'device.reset',
  deviceSleepFailed: 'device.sleep-failed',
  radio: 'radio',
  // test and bench apps (test-sim/apps, tools/bench/apps)
  anchorWake: 'anchor.wake',
  anchorGaveUp: 'anchor.gave-up',
  anchorDropped: 'anchor.dropped',
  fuzzDone: 'fuzz.done',
  powercutWorkload: 'powercut.workload',
  powercutVerified: 'powercut.verified',
  freshRamProbe: 'fresh-ram.probe',
} as const);

export type EventName = (typeof EVENTS)[keyof typeof EVENTS];
