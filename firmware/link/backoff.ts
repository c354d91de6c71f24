/**
 * Full-jitter exponential backoff (AWS Architecture Blog, "Exponential Backoff
 * and Jitter"): delay = random(0, min(cap, base * 2^attempt)). Pure: the caller
 * owns the timer and passes the random number, as FreeRTOS backoffAlgorithm
 * does, but with 32-bit milliseconds so a cap can exceed 65.5 s.
 */
export interface BackoffPolicy {
  readonly baseMs: number;
  readonly capMs: number;
  /** No delay is shorter than this (AWS allows one CONNECT per second per client id). */
  readonly floorMs: number;
  /** 'full' (default): random(0, ceiling). 'none': the ceiling itself, a baseline that synchronizes fleets. */
  readonly jitter?: 'full' | 'none';
}

export interface Backoff {
  readonly policy: BackoffPolicy;
  attempt: number;
}

export function createBackoff(policy: BackoffPolicy): Backoff {
  if (!(policy.baseMs > 0 && policy.capMs >= policy.baseMs && policy.floorMs >= 0 && policy.capMs <= 0xffffffff)) {
    throw new RangeError('backoff: need 0 < baseMs <= capMs <= 2^32-1 and floorMs >= 0');
  }
  return { policy, attempt: 0 };
}

/** The ceiling of the next delay, before jitter. */
export function ceiling(backoff: Backoff): number {
  const { baseMs, capMs } = backoff.policy;
  // 2^31 already exceeds any 32-bit cap, so stop doubling there.
  return Math.min(capMs, baseMs * 2 ** Math.min(backoff.attempt, 31));
}

/** The next delay in ms for `random32` (uniform uint32); counts the attempt. */
export function nextDelay(backoff: Backoff, random32: number): number {
  const top = ceiling(backoff);
  backoff.attempt++;
  const delay = backoff.policy.jitter === 'none' ? top : Math.floor(((random32 >>> 0) / 4294967296) * (top + 1));
  return Math.max(backoff.policy.floorMs, Math.min(top, delay));
}

export function resetBackoff(backoff: Backoff): void {
  backoff.attempt = 0;
}
