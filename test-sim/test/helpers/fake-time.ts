/** A hand-driven HAL clock and timers for unit tests (coreMQTT-style fake clock). */
import type { Clock, Timers } from '../../../hal/types';

export class FakeTime {
  /** Starts near the uint32 wrap so tests cross it. */
  ms = 0xffff_f000;
  /** What every time server says: 2026-01-01T00:00:00Z at the start, advancing with `ms`. */
  serverWallMs = Date.UTC(2026, 0, 1);
  /** The RTC: unset until `setWallTime`. */
  private rtc: { at: number; wallMs: number } | undefined;
  private timers = new Map<number, { at: number; callback: () => void }>();
  private next = 1;

  readonly clock: Clock = {
    now: () => this.ms >>> 0,
    wallTime: () => (this.rtc ? this.rtc.wallMs + (this.ms - this.rtc.at) : undefined),
    query: (server, done) => done({ wallMs: this.serverWallMs + (this.ms - 0xffff_f000), server }),
    setWallTime: (wallMs) => {
      this.rtc = { at: this.ms, wallMs };
    },
  };

  readonly timers_: Timers = {
    set: (callback, delayMs) => {
      const id = this.next++;
      this.timers.set(id, { at: this.ms + delayMs, callback });
      return id;
    },
    clear: (id) => {
      this.timers.delete(id);
    },
  };

  /** Drop every timer (the device halted: deep sleep, restart). */
  clearAll(): void {
    this.timers.clear();
  }

  get pending(): number {
    return this.timers.size;
  }

  /** Advance time, firing due timers in order. */
  advance(ms: number): void {
    const end = this.ms + ms;
    for (;;) {
      let due: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= end && (!due || entry[1].at < due[1].at)) due = entry;
      if (!due) break;
      this.timers.delete(due[0]);
      this.ms = Math.max(this.ms, due[1].at);
      due[1].callback();
    }
    this.ms = end;
  }
}
