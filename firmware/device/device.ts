/**
 * The device's cycle (device table in states.ts) on top of the link
 * supervisor, the uploader and the queue.
 *
 * - Duty-cycled: every wake takes a sample when one is due; when a batch is
 *   due it starts the link, uploads, and once every batch is acknowledged says
 *   goodbye (MQTT DISCONNECT, TLS close_notify with a bounded wait, radio off)
 *   before it deep-sleeps until the next sample. A backoff is slept through
 *   with the supervisor's counters in RTC memory.
 * - Always connected: samples on a timer, uploads when a batch is due, the
 *   link stays up.
 * - The task watchdog is fed at every sample, every link transition handled
 *   here and by a timer while awake; a deep sleep the HAL refuses (it validates
 *   before it stops anything) restarts the device with everything kept: the
 *   queue is on flash and the retained state was stored first.
 */
import type { Hal } from '../../hal/types';
import type { LinkSupervisor, SupervisorState } from '../link/supervisor';
import type { Sampler } from '../telemetry/sampler';
import type { TelemetryQueue } from '../telemetry/queue';
import type { Uploader } from '../telemetry/uploader';
import { batchDue } from '../telemetry/batch';
import { elapsed } from '../util/time';
import { fromUtf8, toUtf8 } from '../util/text';
import { nextState } from '../util/states';
import { DEVICE_TRANSITIONS, type DeviceEvent, type DeviceState } from './states';

/** The longest a duty-cycled wake stays up before it gives up and sleeps (a stuck handshake, a silent broker). */
export const MAX_AWAKE_MS = 90_000;
/** Watchdog feeding period while awake: well inside ESP-IDF's default 5 s task watchdog. */
export const WATCHDOG_FEED_MS = 2000;

/**
 * What survives deep sleep in RTC memory: u16 length, that many bytes of JSON
 * (a couple of hundred), then the queue's snapshot (under 1 KB) so a wake does
 * not rescan the flash.
 */
export interface RetainedState {
  v: 2;
  link: SupervisorState | null;
  /** Wall time of the next sample, when the clock is trusted. */
  nextSampleAt: number | null;
  /** Wall time before which no upload may start (a backoff slept through). */
  uploadNotBefore: number | null;
}

export function loadRetained(hal: Hal): { state: RetainedState; queue: Uint8Array } | undefined {
  const bytes = hal.retained.load();
  if (!bytes || bytes.length < 2) return undefined;
  const length = bytes[0] | (bytes[1] << 8);
  try {
    const state = JSON.parse(fromUtf8(bytes.subarray(2, 2 + length))) as RetainedState;
    return state && state.v === 2 ? { state, queue: bytes.subarray(2 + length) } : undefined;
  } catch {
    return undefined;
  }
}

function storeRetained(hal: Hal, state: RetainedState, queue: Uint8Array): void {
  const json = toUtf8(JSON.stringify(state));
  const bytes = new Uint8Array(2 + json.length + queue.length);
  bytes[0] = json.length & 0xff;
  bytes[1] = json.length >> 8;
  bytes.set(json, 2);
  bytes.set(queue, 2 + json.length);
  hal.retained.store(bytes);
}

export interface DeviceOptions {
  mode: 'always' | 'duty';
  sampleIntervalMs: number;
  uploadIntervalMs: number;
  /** Wall time from the Timekeeper (undefined while untrusted). */
  wallTime(): number | undefined;
}

export class Device {
  state: DeviceState = 'Boot';
  private readonly bootTick: number;
  private nextSampleAt: number | null = null;
  private awakeTimer: number | undefined;

  constructor(
    private readonly hal: Hal,
    private readonly options: DeviceOptions,
    private readonly queue: TelemetryQueue,
    private readonly sampler: Sampler,
    private readonly uploader: Uploader,
    private readonly supervisor: LinkSupervisor,
    private readonly counters: { queueErrors: number },
  ) {
    this.bootTick = hal.clock.now();
  }

  /** Start this boot's cycle; `retained` is what the last boot left in RTC memory. */
  run(retained: RetainedState | undefined): void {
    this.feed();
    if (this.hal.capabilities.watchdog) this.watchdogLoop();
    if (this.options.mode === 'always') {
      this.move('Serve');
      const sample = () => {
        this.takeSample();
        this.upload(false);
        this.hal.timers.set(sample, this.options.sampleIntervalMs);
      };
      sample();
      this.supervisor.start();
      return;
    }
    const wall = this.options.wallTime();
    const sampleDue = retained?.nextSampleAt == null || wall === undefined || wall >= retained.nextSampleAt - 50;
    if (sampleDue) {
      this.takeSample();
      this.nextSampleAt = wall !== undefined ? (retained?.nextSampleAt ?? wall) + this.options.sampleIntervalMs : null;
      // A wake that came late (a long upload) does not pile up samples: skip to the next slot ahead.
      if (this.nextSampleAt !== null && wall !== undefined && this.nextSampleAt <= wall) this.nextSampleAt = wall + this.options.sampleIntervalMs;
    } else {
      this.nextSampleAt = retained!.nextSampleAt;
    }
    const backoffOver = retained?.uploadNotBefore == null || (wall !== undefined && wall >= retained.uploadNotBefore);
    const needUpload = this.uploader.unsent() > 0 && (wall === undefined || this.due() || this.hal.power.bootReason !== 'deep-sleep');
    if (needUpload && backoffOver) {
      this.move('Upload');
      this.supervisor.start();
      this.awakeTimer = this.hal.timers.set(() => {
        this.awakeTimer = undefined;
        this.hal.log.event('power.awake-limit', { ms: MAX_AWAKE_MS, state: this.supervisor.state });
        this.leave('AwakeLimit', null);
      }, MAX_AWAKE_MS);
    } else {
      this.move('Rest');
      this.deepSleep(this.nextSampleDelay(), backoffOver ? null : retained!.uploadNotBefore);
    }
  }

  /** The link came up (supervisor onOnline). */
  online(): void {
    this.feed();
    if (this.options.mode === 'always') this.hal.wifi.setPowerSave('min-modem');
    this.upload(true);
  }

  /** A PUBACK arrived and the uploader consumed what it could: send more, or finish. */
  acknowledged(): void {
    this.feed();
    this.upload(true);
  }

  /** The link starts a backoff of `delayMs` with the radio off: a duty-cycled device sleeps through it. */
  backoff(delayMs: number): boolean {
    if (this.options.mode !== 'duty') return false;
    const wall = this.options.wallTime();
    this.leave('Backoff', wall !== undefined ? wall + delayMs : null, delayMs);
    return true;
  }

  /** Send due batches (all of them when `flush`); a duty-cycled device leaves once all are acknowledged. */
  private upload(flush: boolean): void {
    this.uploader.send(() => flush || this.due());
    if (this.options.mode === 'duty' && this.state === 'Uploading' && this.supervisor.state === 'Online' && this.uploader.idle) {
      this.leave('Flushed', null);
    }
  }

  private due(): boolean {
    const wallMs = this.options.wallTime();
    // Checked once per sample: go at the last check before the oldest sample would exceed the upload interval.
    const maxAgeMs = Math.max(0, this.options.uploadIntervalMs - this.options.sampleIntervalMs);
    // Without a usable sample time, the oldest of n unsent samples, taken one per interval, is (n - 1) intervals old at least: boots since it do not reset that.
    const waitedMs = Math.max(elapsed(this.hal.clock.now(), this.bootTick), (this.uploader.unsent() - 1) * this.options.sampleIntervalMs);
    return batchDue(this.queue, { wallMs, waitedMs }, { maxAgeMs }, this.uploader.next);
  }

  private takeSample(): void {
    this.feed();
    const result = this.sampler.sample();
    if (result instanceof Error) {
      this.counters.queueErrors++;
      this.hal.log.event('telemetry.queue-error', { kind: result.kind, message: result.message });
    }
  }

  private nextSampleDelay(): number {
    const wall = this.options.wallTime();
    // At most one interval: a slot set while the clock was wrong (a lying time server) must not put the device to sleep for years.
    if (wall !== undefined && this.nextSampleAt !== null) return Math.min(this.options.sampleIntervalMs, Math.max(0, this.nextSampleAt - wall));
    return Math.max(0, this.options.sampleIntervalMs - elapsed(this.hal.clock.now(), this.bootTick));
  }

  /** Goodbye (the supervisor's graceful stop), then deep sleep; at most once per boot. */
  private leave(event: DeviceEvent, uploadNotBefore: number | null, backoffMs?: number): void {
    if (!this.move(event)) return;
    if (this.awakeTimer !== undefined) this.hal.timers.clear(this.awakeTimer);
    this.awakeTimer = undefined;
    this.supervisor.stop(() => {
      this.move('Left');
      const sampleIn = this.nextSampleDelay();
      this.deepSleep(backoffMs === undefined ? sampleIn : Math.min(backoffMs, sampleIn), uploadNotBefore);
    });
  }

  private deepSleep(ms: number, uploadNotBefore: number | null): void {
    const wall = this.options.wallTime();
    const state: RetainedState = {
      v: 2,
      link: this.supervisor.exportState(),
      nextSampleAt: wall !== undefined ? wall + this.nextSampleDelay() : null,
      uploadNotBefore,
    };
    storeRetained(this.hal, state, this.queue.snapshot());
    // The HAL takes whole milliseconds from 1 to its maximum: asking for less or more would be refused.
    const sleepMs = Math.min(this.hal.capabilities.maxDeepSleepMs, Math.max(1, Math.ceil(ms)));
    this.hal.log.event('power.deep-sleep', { ms: sleepMs, state: this.supervisor.state });
    try {
      this.hal.power.deepSleep(sleepMs);
    } catch (error) {
      // Refused before anything stopped: the state is stored, so a restart loses nothing.
      this.move('SleepRefused');
      this.hal.log.event('power.deep-sleep-refused', { ms: sleepMs, message: String((error as Error)?.message ?? error) });
      this.hal.power.restart();
    }
  }

  private feed(): void {
    this.hal.power.feedWatchdog();
  }

  private watchdogLoop(): void {
    this.hal.timers.set(() => {
      if (this.state === 'Asleep' || this.state === 'Restarting') return;
      this.feed();
      this.watchdogLoop();
    }, WATCHDOG_FEED_MS);
  }

  private move(event: DeviceEvent): boolean {
    const from = this.state;
    const to = nextState<DeviceState, DeviceEvent>(DEVICE_TRANSITIONS, from, event);
    if (to === undefined) return false;
    this.state = to;
    this.hal.log.event('app.transition', { from, event, to });
    return true;
  }
}
