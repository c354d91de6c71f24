/**
 * Which wall time the device trusts. The HAL only asks a server
 * (`clock.query`) and sets the RTC (`clock.setWallTime`); this module decides.
 *
 * Contracts:
 * - A reading earlier than the floor is refused: the firmware's build time,
 *   or the last-known-good time kept on flash, whichever is later. A reading
 *   becomes last-known-good only after a TLS handshake validated certificate
 *   dates against it (`confirm`), so a server lying about the future cannot
 *   raise the floor and lock the honest time out.
 * - With more than one server configured, a reading is taken only when a
 *   second server agrees with it within `agreeMs`; servers are asked in turn,
 *   each at most once per sync. With one server, its reading is taken alone.
 * - The RTC is re-synced when it was never set, when it reads below the
 *   floor, after a certificate date failure (`distrust`), and every
 *   `resyncMs` (daily by default). Only the first three must succeed before
 *   a connect (`usable`): a periodic re-sync that fails keeps the running
 *   clock, so servers that fall below a last-known-good floor which a lie
 *   once raised cannot cut the device off.
 * - Failure is typed (`TimeFailure`), never thrown.
 */
import type { Clock, LinkError, LogValue, TimeReading } from '../../hal/types';
import { elapsed } from '../util/time';

export interface TimePolicy {
  /** Milliseconds since the epoch when this firmware was built: no honest clock is earlier. */
  buildTimeMs: number;
  /** Re-sync after this long; default one day. */
  resyncMs: number;
  /** Two readings agree when they are this close (after the time between them); default 60 s. */
  agreeMs: number;
}

/** Where the last-known-good time lives (the queue's flash region). */
export interface TimeStore {
  load(): number | undefined;
  save(wallMs: number): void;
}

export type TimeFailureKind =
  | 'unreachable'  // no server answered (`link` has the last failure)
  | 'too-early'    // every answer was earlier than the floor
  | 'disagree';    // servers answered but no two agreed

export interface TimeFailure {
  kind: TimeFailureKind;
  message: string;
  link?: LinkError;
}

export const DEFAULT_TIME_POLICY: Readonly<Omit<TimePolicy, 'buildTimeMs'>> = Object.freeze({ resyncMs: 86_400_000, agreeMs: 60_000 });

export class Timekeeper {
  /** Tick of the last accepted sync, when there was one since boot. */
  private syncedAt: number | undefined;
  private distrusted = false;
  private lastGood: number | undefined;
  readonly stats = { syncs: 0, refused: 0, disagreements: 0 };

  constructor(
    private readonly clock: Clock,
    private readonly servers: readonly string[],
    private readonly policy: TimePolicy,
    private readonly store: TimeStore,
    private readonly log?: { event(name: string, fields?: Record<string, LogValue>): void },
  ) {
    this.lastGood = store.load();
  }

  /** Earliest wall time the device accepts. */
  get floorMs(): number {
    return Math.max(this.policy.buildTimeMs, this.lastGood ?? 0);
  }

  /** The RTC's wall time when it is at or above the floor, else undefined (samples then carry no time). */
  now(): number | undefined {
    const wall = this.clock.wallTime();
    return wall !== undefined && wall >= this.floorMs ? wall : undefined;
  }

  /** True when the link must sync before it connects. */
  needsSync(): boolean {
    if (this.distrusted || this.now() === undefined) return true;
    // A wake from deep sleep has no sync tick: the RTC it kept is trusted until the daily re-sync is due by wall time.
    if (this.syncedAt === undefined) return this.lastGood === undefined || this.clock.wallTime()! - this.lastGood >= this.policy.resyncMs;
    return elapsed(this.clock.now(), this.syncedAt) >= this.policy.resyncMs;
  }

  /** True when the RTC clears the floor and no certificate date check has failed since the last sync. */
  usable(): boolean {
    return !this.distrusted && this.now() !== undefined;
  }

  /** A certificate date check failed: the clock may be wrong; sync before the next attempt. */
  distrust(): void {
    this.distrusted = true;
  }

  /** A TLS handshake validated certificate dates against the clock: keep it as last-known-good. */
  confirm(): void {
    const wall = this.now();
    if (wall === undefined || this.distrusted) return;
    // One flash write a day at most: the floor only needs to be roughly current.
    if (this.lastGood !== undefined && wall - this.lastGood < this.policy.resyncMs) return;
    this.lastGood = wall;
    this.store.save(wall);
  }

  /** Ask the servers and set the RTC from a reading that clears the floor (and agrees, with several servers). */
  sync(onDone: (failure: TimeFailure | undefined) => void): void {
    const floor = this.floorMs;
    const readings: { reading: TimeReading; at: number }[] = [];
    let lastError: LinkError | undefined;
    let early = 0;
    const ask = (i: number): void => {
      if (i >= this.servers.length) {
        this.stats.refused += early;
        if (readings.length > 0 && this.servers.length > 1) {
          this.stats.disagreements++;
          return onDone({ kind: 'disagree', message: `${readings.length} time server(s) answered, no two within ${this.policy.agreeMs} ms of each other` });
        }
        if (early > 0) return onDone({ kind: 'too-early', message: `every time reading was before ${floor} ms since the epoch, the earliest this device accepts` });
        return onDone({ kind: 'unreachable', message: `no time server answered${lastError ? `: ${lastError.message}` : ''}`, link: lastError });
      }
      this.clock.query(this.servers[i], (result) => {
        if ('category' in result) {
          lastError = result;
          return ask(i + 1);
        }
        const at = this.clock.now();
        if (!(result.wallMs >= floor)) {
          early++;
          this.log?.event('time.refused', { server: result.server, wallMs: result.wallMs, floorMs: floor });
          return ask(i + 1);
        }
        const agreeing = readings.find((r) => Math.abs(result.wallMs - (r.reading.wallMs + elapsed(at, r.at))) <= this.policy.agreeMs);
        if (this.servers.length > 1 && agreeing === undefined) {
          readings.push({ reading: result, at });
          return ask(i + 1);
        }
        this.clock.setWallTime(result.wallMs);
        this.syncedAt = at;
        this.distrusted = false;
        this.stats.syncs++;
        this.log?.event('time.synced', { server: result.server, wallMs: result.wallMs, agreedWith: agreeing?.reading.server ?? null });
        onDone(undefined);
      });
    };
    ask(0);
  }
}
