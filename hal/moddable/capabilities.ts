/**
 * What hal/moddable really does on the chip (ESP32 family), as data. The
 * simulator's HAL declares its own list (hal/sim/capabilities.ts) and a test
 * holds the two equal, so the simulator never credits the firmware with a join,
 * a TLS resumption or a sleep that this HAL does not perform. Change a line here
 * only together with the code that makes it true.
 *
 * - wifiJoin: native/station-esp32.c joins through ESP-IDF: `scan` (all
 *   channels, DHCP) without a hint; `channel-bssid`, a fast scan of the cached
 *   channel for the cached access point (WIFI_FAST_SCAN, bssid_set), with one;
 *   `cached-ip`, a configured static address or the last DHCP lease of that
 *   access point while younger than half its lease, so no DHCP exchange.
 * - tls: native/tls (Mbed TLS 4: ESP-IDF's on the chip): TLS 1.2 by default,
 *   1.3 when asked; RSA-2048 and ECDSA P-256 device keys; session tickets and
 *   session ids, the session kept in RTC memory no reset initialises
 *   (native/tls-store.c), so a wake from deep sleep resumes.
 * - sleep: native/power (esp_deep_sleep_try_to_start, a restart if ESP-IDF
 *   refuses; esp_pm automatic light sleep).
 * - retainedBytes: native/power-esp32.c kRetainedCapacity, in RTC memory no
 *   reset initialises (lost only with power).
 * - watchdog: release builds: ESP-IDF's task watchdog (30 s, fed by Moddable's
 *   main loop) and the HAL's application watchdog (native/power, hal.ts).
 */
import type { PlatformCapabilities } from '../types';

export const CAPABILITIES: PlatformCapabilities = Object.freeze({
  wifiJoin: Object.freeze(['scan', 'channel-bssid', 'cached-ip'] as const),
  tls: Object.freeze({
    implementation: 'mbedtls' as const,
    maxVersion: '1.3' as const,
    keyTypes: Object.freeze(['rsa-2048', 'ec-p256'] as const),
    resumption: Object.freeze(['session-id', 'ticket'] as const),
    resumeAfterDeepSleep: true,
  }),
  sleep: Object.freeze(['deep', 'auto-light'] as const),
  maxDeepSleepMs: 0xffffffff,
  retainedBytes: 2048,
  timeSync: 'sntp' as const,
  watchdog: true,
});
