/**
 * What hal/moddable really does on the chip (ESP32 family), as data. The
 * simulator's HAL declares its own list (hal/sim/capabilities.ts) and a test
 * holds the two equal, so the simulator never credits the firmware with a join,
 * a TLS resumption or a sleep that this HAL does not perform. Change a line here
 * only together with the code that makes it true.
 *
 * - wifiJoin: Moddable's `wifi` module scans every channel
 *   (WIFI_ALL_CHANNEL_SCAN) and runs DHCP on every join.
 * - tls: `securesocket` (Moddable's TLS in JavaScript): TLS 1.2, RSA client
 *   keys, one session id kept in RAM only (lost in deep sleep).
 * - sleep: native/power (esp_deep_sleep_start; esp_pm automatic light sleep).
 * - retainedBytes: native/power-esp32.c kRetainedCapacity.
 */
import type { PlatformCapabilities } from '../types';

export const CAPABILITIES: PlatformCapabilities = Object.freeze({
  wifiJoin: Object.freeze(['scan'] as const),
  tls: Object.freeze({
    implementation: 'moddable-js' as const,
    maxVersion: '1.2' as const,
    keyTypes: Object.freeze(['rsa-2048'] as const),
    resumption: Object.freeze(['session-id'] as const),
    resumeAfterDeepSleep: false,
  }),
  sleep: Object.freeze(['deep', 'auto-light'] as const),
  maxDeepSleepMs: 0xffffffff,
  retainedBytes: 2048,
  timeSync: 'sntp' as const,
  watchdog: false,
});
