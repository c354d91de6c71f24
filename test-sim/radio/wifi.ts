/**
 * The simulated ESP32 Wi-Fi station. The radio cannot run here, so this models
 * its behaviour (join latency, loss when the access point goes away) and reports
 * its power state to the energy meter. Latencies are the published figures in
 * test-sim/energy/profiles.ts.
 */
import type { WifiHint } from '../../hal/types';

export type RadioState = 'off' | 'joining' | 'associated';

export interface WifiTiming {
  /** WPA2 join with scan and DHCP, ms. */
  joinColdMs: number;
  /** Join with cached channel, BSSID and static IP, ms. */
  joinHintMs: number;
  /** How long a join tries before it reports failure when no AP answers, ms. */
  joinTimeoutMs: number;
}

export const ACCESS_POINT: WifiHint = Object.freeze({ channel: 6, bssid: '02:00:5e:10:00:01', ip: '10.0.0.42' });

export class SimWifi {
  state: RadioState = 'off';
  /** Whether the access point is reachable (fault injection clears it). */
  apUp = true;
  joins = 0;
  joinFailures = 0;
  losses = 0;

  constructor(readonly timing: WifiTiming) {}

  /** Join latency for this attempt, or undefined when the AP is down (then `joinTimeoutMs`). */
  joinLatency(hint: WifiHint | null): number | undefined {
    if (!this.apUp) return undefined;
    const usable = hint && hint.bssid === ACCESS_POINT.bssid && hint.channel === ACCESS_POINT.channel;
    return usable ? this.timing.joinHintMs : this.timing.joinColdMs;
  }
}
