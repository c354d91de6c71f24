/**
 * The application watchdog's window (hal.ts, native/power watchdogArm): how
 * long from `now` until the chip restarts unless firmware feeds the watchdog or
 * schedules a timer. Firmware that is waiting on its own timers is not stuck,
 * so the window reaches `graceMs` past the latest timer due (uint32 ticks,
 * wrap-safe: firmware/util/time). Pure.
 */
import { elapsed, reached } from '../../firmware/util/time';

export function watchdogWindow(now: number, dues: Iterable<number>, graceMs: number): number {
  let latest = now >>> 0;
  for (const due of dues) if (!reached(latest, due >>> 0)) latest = due >>> 0;
  return elapsed(latest, now >>> 0) + graceMs;
}
