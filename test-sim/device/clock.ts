/**
 * The device's clocks and timers as the firmware sees them: a monotonic uint32
 * tick that restarts at every boot (as ESP32's does after deep sleep), the RTC
 * wall clock (device/memory.ts), one-shot timers on virtual time, and the time
 * server query (SNTP), which needs an associated radio.
 */
import { HEADER, Op, bodyJson, bodyView, message, withJson } from '../../hal/sim/wire';
import type { TimerHandle } from '../clock/scheduler';
import { ok, type BridgeTable } from './bridge';
import type { DeviceContext } from './context';
import type { RtcDomain } from './memory';

/** Where the tick starts at each boot: 17 minutes before its uint32 wrap, so every run exercises wrap-safe time. */
export const TICK_ORIGIN = 0xfff00000;

/** One SNTP exchange on a good network, ms. */
const TIME_QUERY_MS = 60;

export interface DeviceClockOptions {
  rtc: RtcDomain;
  /** Wall clock (epoch ms) at simulation start: what a time server answers at virtual 0. */
  epochMs: number;
  /** The station is associated (a time query needs the network). */
  online(): boolean;
}

/** A time server that lies (the `time-skew` fault): its answers are off by `skewMs`. */
export interface TimeLie {
  skewMs: number;
  /** The one server that lies; every server when absent. */
  server?: string;
}

export class DeviceClock {
  private bootedAt = 0;
  /** Set while a `time-skew` fault holds. */
  lie: TimeLie | undefined;
  private timers = new Map<number, TimerHandle>();

  constructor(private readonly ctx: DeviceContext, private readonly options: DeviceClockOptions) {}

  /** Monotonic uint32 tick the firmware sees. */
  tick(): number {
    return (TICK_ORIGIN + Math.floor(this.ctx.scheduler.now - this.bootedAt)) >>> 0;
  }

  /** A new boot: the tick starts again from its origin. */
  booted(): void {
    this.bootedAt = this.ctx.scheduler.now;
  }

  /** The machine stopped: its timers die with it. */
  halt(): void {
    for (const timer of this.timers.values()) timer.cancel();
    this.timers.clear();
  }

  readonly bridge: BridgeTable = {
    [Op.Now]: () => {
      const reply = message(Op.Now, 0, 12);
      reply.view.setUint32(HEADER, this.tick(), true);
      reply.view.setFloat64(HEADER + 4, this.options.rtc.wallMs(), true);
      return reply.bytes;
    },
    [Op.TimerSet]: (m) => {
      const delay = bodyView(m).getUint32(0, true);
      const id = m.id;
      this.timers.set(id, this.ctx.later(delay, () => {
        this.timers.delete(id);
        return message(Op.Timer, id, 0).bytes;
      }));
      return ok(m);
    },
    [Op.TimerClear]: (m) => {
      this.timers.get(m.id)?.cancel();
      this.timers.delete(m.id);
      return ok(m);
    },
    [Op.TimeQuery]: (m) => {
      const { server } = bodyJson<{ server: string }>(m);
      this.ctx.later(TIME_QUERY_MS, () => {
        if (!this.options.online()) {
          return withJson(Op.TimeReply, 0, { error: { category: 'wifi', message: 'time query needs the network' } });
        }
        const lie = this.lie && (this.lie.server === undefined || this.lie.server === server) ? this.lie.skewMs : 0;
        return withJson(Op.TimeReply, 0, { wallMs: this.options.epochMs + this.ctx.scheduler.now + lie, server });
      });
      return ok(m);
    },
  };
}
