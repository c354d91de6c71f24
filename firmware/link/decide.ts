/**
 * What to do after a failure, as one pure function: which schedule, how long
 * to wait, what to report once, and the counters to carry on. The supervisor
 * applies the decision; it decides nothing itself.
 *
 * Rules:
 * - The failure's class picks the schedule: `credentials` (and a takeover,
 *   below) the long `configuration` one, `wifi` its own, `clock` and `time`
 *   (a certificate date failure, a time sync that failed) the `time` one,
 *   everything else `network`.
 * - Counters reset only after a connection that stayed up `stableMs`.
 * - A broker that closes `takeoverStreak` connections in a row before they
 *   became stable is treated as a configuration fault (most often a second
 *   device using the same client id: each CONNECT disconnects the other), so
 *   two such devices settle into the long schedule instead of a fight.
 * - A configuration fault is reported once until the link was stable again.
 * - A wait of at least `radioOffMs` turns the radio off.
 */
import { nextDelay, type BackoffPolicy } from './backoff';
import type { Failure } from './classify';

export type Schedule = 'network' | 'wifi' | 'configuration' | 'time';

export interface LinkPolicy {
  network: BackoffPolicy;
  wifi: BackoffPolicy;
  configuration: BackoffPolicy;
  time: BackoffPolicy;
  /** Uptime after which the attempt counters reset. */
  stableMs: number;
  minConnectGapMs: number;
  radioOffMs: number;
  tlsTimeoutMs: number;
  takeoverStreak: number;
}

export const DEFAULT_POLICY: LinkPolicy = Object.freeze({
  network: Object.freeze({ baseMs: 1000, capMs: 5 * 60_000, floorMs: 1000 }),
  wifi: Object.freeze({ baseMs: 2000, capMs: 10 * 60_000, floorMs: 1000 }),
  configuration: Object.freeze({ baseMs: 10 * 60_000, capMs: 6 * 3_600_000, floorMs: 10 * 60_000 }),
  // A lying time server is usually corrected within minutes (a captive portal, a DHCP-pushed NTP server).
  time: Object.freeze({ baseMs: 30_000, capMs: 60 * 60_000, floorMs: 5000 }),
  stableMs: 30_000,
  minConnectGapMs: 1000,
  radioOffMs: 5000,
  tlsTimeoutMs: 15_000,
  takeoverStreak: 3,
});

/** What a deep sleep must carry (RTC memory). */
export interface FailureCounters {
  attempts: Record<Schedule, number>;
  /** Connections in a row that the broker closed before they were stable. */
  shortLived: number;
  /** The configuration fault already reported, if any. */
  reportedFault: Failure | null;
}

export interface FailureContext {
  /** The link was Online when it failed, for `onlineMs`. */
  onlineMs: number | undefined;
  /** A uniform uint32 from the HAL's entropy. */
  random32: number;
}

export interface Decision {
  schedule: Schedule;
  delayMs: number;
  /** Report this configuration fault now (it was not reported since the last stable link). */
  report: { failure: Failure; takeover: boolean } | null;
  /** Turn the radio off for the wait. */
  radioOff: boolean;
  /** Sync the clock before the next attempt. */
  resyncTime: boolean;
  counters: FailureCounters;
}

export function freshCounters(): FailureCounters {
  return { attempts: { network: 0, wifi: 0, configuration: 0, time: 0 }, shortLived: 0, reportedFault: null };
}

export function decide(failure: Failure, counters: FailureCounters, policy: LinkPolicy, context: FailureContext): Decision {
  const stable = context.onlineMs !== undefined && context.onlineMs >= policy.stableMs;
  const attempts = { ...counters.attempts };
  let shortLived = counters.shortLived;
  let reportedFault = counters.reportedFault;
  if (stable) {
    attempts.network = attempts.configuration = attempts.time = 0;
    shortLived = 0;
    reportedFault = null;
  } else if (context.onlineMs !== undefined && failure === 'broker-closed') {
    shortLived++;
  }
  const takeover = failure === 'broker-closed' && shortLived >= policy.takeoverStreak;
  const configurationFault = failure === 'credentials' || takeover;
  const schedule: Schedule = configurationFault ? 'configuration' : failure === 'wifi' ? 'wifi' : failure === 'clock' || failure === 'time' ? 'time' : 'network';
  const backoff = { policy: policy[schedule], attempt: attempts[schedule] };
  const delayMs = nextDelay(backoff, context.random32);
  attempts[schedule] = backoff.attempt;
  let report: Decision['report'] = null;
  if (configurationFault && reportedFault !== failure) {
    reportedFault = failure;
    report = { failure, takeover };
  }
  return {
    schedule,
    delayMs,
    report,
    radioOff: delayMs >= policy.radioOffMs,
    resyncTime: failure === 'clock',
    counters: { attempts, shortLived, reportedFault },
  };
}
