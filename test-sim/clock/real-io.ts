/**
 * Best-effort virtual time over real sockets (`--endpoint`, the mosquitto
 * interop tests). A real socket cannot say "nothing more is coming", so while a
 * reply is due virtual time follows the wall clock instead of jumping:
 *
 * - during a TLS connect (until it succeeds or fails);
 * - after a write the firmware marked `{ reply: true }`, until bytes come back
 *   or `REPLY_WAIT_WALL_MS` of wall time passed; when more such writes were
 *   made than chunks came back (a burst of QoS 1 PUBLISHes), after each chunk
 *   for up to `REPLY_GAP_WALL_MS` more, since the next replies are right behind
 *   (a broker that coalesced them into one chunk costs that wait once);
 * - for `QUIET_MS` of wall time after any bytes moved;
 * - before each jump, one turn of Node's event loop lets I/O that already
 *   arrived (a reset) post its task; at the end of a run, up to `DRAIN_MS`
 *   of wall time lets replies under way arrive.
 *
 * Runs against real sockets are therefore not reproducible to the millisecond;
 * the local world (net/memory.ts) is.
 */
import type { Scheduler } from './scheduler';

/** Longest wall time a write marked `reply` holds the clock: long enough for a broker on a loaded machine, short for one that never answers. */
export const REPLY_WAIT_WALL_MS = 5000;
/** Longest wall time the clock waits for the next of several replies due after one came back. */
export const REPLY_GAP_WALL_MS = 250;
/** Wall time after bytes moved during which a reply may still come. */
const QUIET_MS = 5;
/** Longest wall time spent at the end of a run waiting for real I/O to settle. */
const DRAIN_MS = 2000;

export class RealIo {
  private busy = 0;
  private lastIoWall = -Infinity;
  private wallMark: number | undefined;
  private drainStart: number | undefined;

  /** A connect started: the clock follows the wall until `endIo`. */
  beginIo(): void {
    this.busy++;
    this.mark();
  }

  endIo(): void {
    this.busy = Math.max(0, this.busy - 1);
    this.lastIoWall = performance.now();
  }

  /** Bytes moved. */
  touch(): void {
    this.lastIoWall = performance.now();
    this.mark();
  }

  /** A reply is due: hold until the returned release is called (bytes came back) or `boundMs` of wall time pass (then `onTimeout`). */
  replyDue(boundMs: number, onTimeout?: () => void): () => void {
    this.touch();
    this.beginIo();
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      clearTimeout(timer);
      this.endIo();
    };
    const timer = setTimeout(() => {
      release();
      onTimeout?.();
    }, boundMs);
    return release;
  }

  /** After each task: one turn of Node's event loop, so I/O that already arrived posts its task. */
  async settle(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** Before the loop runs anything: while real I/O is hot, the wall time since the last look passes on the virtual clock too (not beyond `cap`). */
  advance(scheduler: Scheduler, cap: number): void {
    const wallNow = performance.now();
    if (!this.hot(wallNow)) {
      this.wallMark = undefined;
      return;
    }
    if (this.wallMark !== undefined) scheduler.now = Math.max(scheduler.now, Math.min(cap, scheduler.now + (wallNow - this.wallMark)));
    this.wallMark = wallNow;
  }

  /**
   * Called by the scheduler when nothing is ready and its next stop is
   * `target` (after `advance`). Returns true when it waited (the loop then
   * looks again), false when the clock may jump to `target`.
   */
  async follow(scheduler: Scheduler, target: number, until: number): Promise<boolean> {
    const wallNow = performance.now();
    if (!this.hot(wallNow)) return false;
    if (scheduler.now >= target) {
      if (target < until) return false;
      this.drainStart ??= wallNow;
      if (wallNow - this.drainStart > DRAIN_MS) return false;
    }
    const ioLeft = this.busy > 0 ? Infinity : Math.max(1, QUIET_MS - (wallNow - this.lastIoWall));
    await scheduler.sleepWall(Math.max(1, Math.min(target - scheduler.now, ioLeft)));
    return true;
  }

  private hot(wallNow: number): boolean {
    return this.busy > 0 || wallNow - this.lastIoWall < QUIET_MS;
  }

  private mark(): void {
    this.wallMark ??= performance.now();
  }
}
