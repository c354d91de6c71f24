/**
 * The simulated ESP32 Wi-Fi station's behaviour. The radio cannot run here, so
 * this models it: whether a join finds the access point, whether the
 * firmware's hint still fits it, loss when it goes away, and the radio's power
 * state. How long a join takes, and which shortcuts it may take, follow what
 * the platform declares (`PlatformCapabilities.wifiJoin`, hal/sim/capabilities.ts)
 * at the costs of test-sim/energy/costs.ts (`EnergyMeter.joinPlan`), so the
 * join the simulator times is the join the meter charges.
 */
import type { WifiHint } from '../../hal/types';

export type RadioState = 'off' | 'joining' | 'associated';

export interface WifiTiming {
  /** How long a join tries before it reports failure when no AP answers, ms. */
  joinTimeoutMs: number;
}

export const ACCESS_POINT: WifiHint = Object.freeze({ channel: 6, bssid: '02:00:5e:10:00:01', ip: '10.0.0.42' });

/** The hint still names this access point's channel and BSSID (and, to reuse the lease, its address). */
export function hintFits(hint: WifiHint | null): boolean {
  return hint !== null && hint.bssid === ACCESS_POINT.bssid && hint.channel === ACCESS_POINT.channel;
}

export class SimWifi {
  state: RadioState = 'off';
  /** Whether the access point is reachable (fault injection clears it). */
  apUp = true;
  joins = 0;
  joinFailures = 0;
  losses = 0;

  constructor(readonly timing: WifiTiming) {}
}
