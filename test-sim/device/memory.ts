/**
 * The chip's RTC domain as the simulator keeps it: the RTC wall clock and the
 * firmware's retained bytes (`Hal.retained`, ESP32 RTC memory). Both survive
 * deep sleep and every reset; a power cut loses them.
 */
import { Op, bodyView, message, withBody } from '../../hal/sim/wire';
import type { Scheduler } from '../clock/scheduler';
import { ok, type BridgeTable } from './bridge';

export class RtcDomain {
  /** Wall time the firmware set (`wallMs` at virtual `atMs`); it keeps running while the chip is powered. */
  private rtc: { atMs: number; wallMs: number } | undefined;
  private retained: Uint8Array | undefined;

  constructor(private readonly scheduler: Scheduler) {}

  /** Epoch ms the RTC reads now (whole milliseconds, as `Date.now()` on Moddable), NaN when never set since power-on. */
  wallMs(): number {
    return this.rtc ? Math.floor(this.rtc.wallMs + (this.scheduler.now - this.rtc.atMs)) : NaN;
  }

  setWall(wallMs: number): void {
    this.rtc = { atMs: this.scheduler.now, wallMs };
  }

  /** Power is gone: the RTC stops and RTC memory is lost. */
  powerLost(): void {
    this.retained = undefined;
    this.rtc = undefined;
  }

  readonly bridge: BridgeTable = {
    [Op.RetainedLoad]: () => (this.retained ? withBody(Op.RetainedLoad, 1, this.retained) : message(Op.RetainedLoad, 0, 0).bytes),
    [Op.RetainedStore]: (m) => {
      this.retained = m.body.slice();
      return ok(m);
    },
    [Op.TimeSet]: (m) => {
      this.setWall(bodyView(m).getFloat64(0, true));
      return ok(m);
    },
  };
}
