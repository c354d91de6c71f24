/**
 * Wrap-safe arithmetic on the HAL's uint32 millisecond ticks.
 * Valid while the true distance between two ticks is below 2^31 ms (24.8 days).
 */

/** Milliseconds from `earlier` to `later`, correct across one wrap of the tick. */
export function elapsed(later: number, earlier: number): number {
  return (later - earlier) >>> 0;
}

/** The tick `ms` after `tick`. */
export function after(tick: number, ms: number): number {
  return (tick + ms) >>> 0;
}

/** True when `deadline` has been reached at `now` (deadlines less than 2^31 ms ahead). */
export function reached(now: number, deadline: number): boolean {
  return ((now - deadline) | 0) >= 0;
}
