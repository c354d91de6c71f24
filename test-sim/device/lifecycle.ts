/**
 * A simulated device's life: power-on, the firmware engine of each boot, the
 * deliveries of host events to it, and every way a run of the firmware ends:
 * deep sleep (wake later), restart, crash (an exception escaped), reset (RAM
 * lost, RTC domain kept), a deep sleep that fails (a restart), and power cut
 * (RTC domain lost too). There is one power-cut path, whether a fault cuts the
 * power between deliveries or a torn flash write cuts it inside one.
 */
import type { BootReason } from '../../hal/types';
import { EVENTS } from '../../hal/events';
import { Op, bodyView, message, withJson } from '../../hal/sim/wire';
import type { Scheduler, TimerHandle } from '../clock/scheduler';
import type { EnergyMeter } from '../energy/meter';
import type { Engine } from '../engine/types';
import { FirmwareError } from '../engine/xs';
import { PowerCut } from '../flash/flash';
import type { Inspection } from '../../hal/sim/device';
import { ok, type BridgeTable } from './bridge';
import type { EventSource } from './context';

/** What the lifecycle needs from the device it runs. */
export interface LifecycleHooks {
  scheduler: Scheduler;
  meter: EnergyMeter;
  /** Boot-to-app time of the chip, ms. */
  bootMs: number;
  /** Device configuration delivered with every Boot event. */
  config: unknown;
  startEngine(): Promise<Engine>;
  record(event: string, fields?: Record<string, unknown>): void;
  /** A new machine starts (the tick restarts). */
  booted(): void;
  /** A delivery ended (whatever its outcome): run the I/O the firmware asked for during it. */
  delivered(): void;
  /** Run the calls the firmware queued during a delivery (its reply, a Batch). */
  queued(reply: Uint8Array): void;
  /** An event the firmware must see before the next one (the flash changed under it), if any. */
  pending(): Uint8Array | undefined;
  /** The machine stops: timers, streams and the radio go with it. */
  halted(): void;
  /** Power is gone: the RTC domain is lost. */
  powerLost(): void;
}

export class Lifecycle {
  engine: Engine | undefined;
  boots = 0;
  crashes = 0;
  powerCuts = 0;
  /** Sum of XS compute over every boot. */
  compute = 0;
  peakHeapSlots = 0;
  /** The firmware's own view, asked just before its last deep sleep or halt. */
  lastInspect: Inspection | undefined;
  private dead = false;
  private generation = 0;
  private sleepRequest: { ms: number; reason: 'deep-sleep' | 'reset' } | undefined;
  /** The one pending power-up: a new one (a power cut during deep sleep) replaces the old wake. */
  private pendingBoot: TimerHandle | undefined;
  /** Fault injection: the next deep-sleep entry fails. */
  private sleepFails = false;

  constructor(private readonly hooks: LifecycleHooks) {}

  /** The firmware is not running (asleep, cut off, or between crash and reboot). */
  get off(): boolean {
    return this.dead;
  }

  /** Power on (or wake): a fresh engine, then the Boot event. */
  async boot(reason: BootReason): Promise<void> {
    this.boots++;
    this.dead = false;
    this.sleepRequest = undefined;
    this.generation++;
    this.hooks.record(EVENTS.deviceBoot, { reason });
    this.hooks.booted();
    this.hooks.meter.setCpu('awake');
    this.hooks.meter.boot();
    this.engine = await this.hooks.startEngine();
    await this.deliver(withJson(Op.Boot, 0, { reason, config: this.hooks.config }));
  }

  /** Ask the firmware for its state (tests and reports); while it sleeps, what it said last. */
  async inspect(): Promise<Inspection> {
    if (!this.engine || this.dead) return this.lastInspect ?? { engine: 'off', halted: true, app: null };
    const reply = await this.engine.deliver(message(Op.Inspect, 0, 0).bytes);
    this.lastInspect = JSON.parse(new TextDecoder().decode(reply)) as Inspection;
    return this.lastInspect;
  }

  /** Fault injection: cut the power now; it comes back `rebootAfterMs` later. */
  powerCut(rebootAfterMs: number): Promise<void> {
    return this.cutPower(rebootAfterMs);
  }

  /**
   * Fault injection: the device resets now (panic, watchdog, reset button). RAM
   * is lost; RTC memory and the RTC clock are kept; it boots at once (`reset`).
   * While it sleeps, the reset is the wake.
   */
  async reset(): Promise<void> {
    this.hooks.record(EVENTS.deviceReset);
    await this.halt();
    this.scheduleBoot(this.hooks.bootMs, 'reset');
  }

  /** Fault injection: the next deep-sleep entry fails and the chip restarts instead (ESP-IDF then calls esp_restart). */
  failNextSleep(): void {
    this.sleepFails = true;
  }

  async shutdown(): Promise<void> {
    await this.halt();
  }

  /** Deliver one event to the firmware and handle what the delivery asked for (sleep) or did (crash). */
  async deliver(bytes: Uint8Array): Promise<void> {
    const engine = this.engine;
    if (!engine || this.dead) return;
    // XS meters its own compute; under Node each event is charged the calibrated XS cost of an event.
    const computeBefore = engine.meter.compute;
    if (engine.name !== 'xs') this.hooks.meter.event();
    try {
      const first = this.hooks.pending();
      if (first) await engine.deliver(first);
      const reply = await engine.deliver(bytes);
      if (reply.length) this.hooks.queued(reply);
      if (engine.name === 'xs') this.hooks.meter.compute(engine.meter.compute - computeBefore);
    } catch (error) {
      this.hooks.delivered();
      if (error instanceof PowerCut || this.dead) {
        await this.cutPower(this.hooks.bootMs, { during: 'flash-write' });
        return;
      }
      if (error instanceof FirmwareError) {
        this.crashes++;
        this.hooks.record(EVENTS.deviceCrash, { message: error.message.split('\n')[0] });
        await this.halt();
        this.scheduleBoot(this.hooks.bootMs, 'crash');
        return;
      }
      throw error;
    }
    this.hooks.delivered();
    if (this.sleepRequest !== undefined) {
      const { ms, reason } = this.sleepRequest;
      await this.inspect().catch(() => undefined);
      if (reason === 'deep-sleep' && this.sleepFails) {
        this.sleepFails = false;
        this.hooks.record(EVENTS.deviceSleepFailed, { ms });
        await this.halt();
        this.scheduleBoot(this.hooks.bootMs, 'reset');
        return;
      }
      this.hooks.record(reason === 'reset' ? EVENTS.deviceRestart : EVENTS.deviceDeepSleep, { ms });
      await this.halt();
      this.scheduleBoot(ms + this.hooks.bootMs, reason);
    }
  }

  /** Deliver what `bytes` makes at virtual time `ms` from now, unless the device rebooted or halted meanwhile. */
  later(ms: number, bytes: EventSource): TimerHandle {
    return this.hooks.scheduler.after(ms, this.task(bytes));
  }

  post(bytes: EventSource): void {
    this.hooks.scheduler.post(this.task(bytes));
  }

  readonly bridge: BridgeTable = {
    [Op.DeepSleep]: (m) => {
      this.sleepRequest = { ms: bodyView(m).getUint32(0, true), reason: 'deep-sleep' };
      return ok(m);
    },
    [Op.Restart]: (m) => {
      this.sleepRequest = { ms: 0, reason: 'reset' };
      return ok(m);
    },
    [Op.FeedWatchdog]: (m) => ok(m),
  };

  /** The one power-cut path: RAM and the RTC domain are lost, flash is kept, power returns after `rebootAfterMs`. */
  private async cutPower(rebootAfterMs: number, fields?: Record<string, unknown>): Promise<void> {
    this.powerCuts++;
    this.hooks.record(EVENTS.devicePowerCut, fields);
    this.hooks.powerLost();
    await this.halt();
    this.scheduleBoot(rebootAfterMs, 'power-on');
  }

  private scheduleBoot(ms: number, reason: BootReason): void {
    this.pendingBoot?.cancel();
    this.pendingBoot = this.hooks.scheduler.after(ms, () => {
      this.pendingBoot = undefined;
      return this.boot(reason);
    });
  }

  private async halt(): Promise<void> {
    this.dead = true;
    this.generation++;
    this.hooks.halted();
    this.hooks.meter.setCpu('deep-sleep');
    const engine = this.engine;
    this.engine = undefined;
    if (engine) {
      this.compute += engine.meter.compute;
      this.peakHeapSlots = Math.max(this.peakHeapSlots, engine.meter.peakHeapSlots);
      await engine.stop();
    }
  }

  /** Deliver what `bytes` returns, unless the device rebooted since the task was made. */
  private task(bytes: EventSource): () => Promise<void> | undefined {
    const generation = this.generation;
    return () => {
      if (generation !== this.generation) return undefined;
      const message = bytes();
      return message ? this.deliver(message) : undefined;
    };
  }
}
