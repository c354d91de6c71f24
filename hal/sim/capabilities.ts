/**
 * What the simulator's HAL does, declared independently of hal/moddable's list
 * (hal/moddable/capabilities.ts) and held equal to it by a test: the simulator
 * models the device as hal/moddable really drives it, never better. The host
 * (test-sim/) reads this list to decide how long a join or a handshake takes
 * and what it costs.
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
