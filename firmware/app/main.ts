/**
 * The device's entry point: every platform's entry calls `main` once per boot
 * with its HAL and the configuration.
 */
import type { AppHandle, Hal } from '../../hal/types';

export interface HeartbeatConfig {
  heartbeatMs?: number;
}

export function main(hal: Hal, config: unknown): AppHandle {
  const heartbeatMs = (config as HeartbeatConfig | null)?.heartbeatMs ?? 60_000;
  let beats = 0;
  hal.log.event('app.boot', { reason: hal.power.bootReason });
  const beat = () => {
    beats++;
    hal.timers.set(beat, heartbeatMs);
  };
  hal.timers.set(beat, heartbeatMs);
  return { inspect: () => ({ beats }) };
}
