/**
 * The simulator's virtual clock and event loop.
 *
 * Time warp: when nothing real is under way, virtual time jumps straight to the
 * next timer deadline. While real I/O is under way (a TCP/TLS connect, or bytes
 * moved within the last `quietMs` of wall time, i.e. a reply may be coming),
 * virtual time advances with wall time instead. `realtime` never warps.
 *
 * Everything that happens to the simulated world runs as a task on this loop, one
 * at a time, in virtual-time order; real I/O callbacks `post` their task and the
 * loop runs it at the virtual time it arrived.
 */

type Task = () => void | Promise<void>;

/** Longest wall time spent at the end of a run waiting for real I/O to settle. */
const DRAIN_MS = 2000;

interface TimerEntry {
  at: number;
  seq: number;
  task: Task;
  cancelled: boolean;
}

export interface TimerHandle {
  cancel(): void;
}

export interface SchedulerOptions {
  realtime?: boolean;
  /** Wall milliseconds of I/O silence after which time may warp again. */
  quietMs?: number;
}

export class Scheduler {
  /** Virtual milliseconds since the start of the simulation. */
  now = 0;
  readonly realtime: boolean;
  readonly quietMs: number;
  private heap: TimerEntry[] = [];
  private seq = 0;
  private ready: Task[] = [];
  private busy = 0;
  private lastIoWall = -Infinity;
  private wake: (() => void) | undefined;
  private watchers: { pending(): boolean; gaveUp(): void }[] = [];
  private stopped = false;

  constructor(options: SchedulerOptions = {}) {
    this.realtime = options.realtime ?? false;
    this.quietMs = options.quietMs ?? 5;
  }

  /** Run `task` at virtual time `at` (not earlier than now). */
  at(at: number, task: Task): TimerHandle {
    const entry: TimerEntry = { at: Math.max(at, this.now), seq: this.seq++, task, cancelled: false };
    this.push(entry);
    this.wake?.();
    return { cancel: () => { entry.cancelled = true; } };
  }

  after(ms: number, task: Task): TimerHandle {
    return this.at(this.now + ms, task);
  }

  /** Queue a task from a real I/O callback; it runs at the virtual time the loop has reached. */
  post(task: Task): void {
    this.ready.push(task);
    this.wake?.();
  }

  /** A real operation (connect, handshake) started: no warp until `endIo`. */
  beginIo(): void {
    this.busy++;
  }

  endIo(): void {
    this.busy = Math.max(0, this.busy - 1);
    this.lastIoWall = performance.now();
  }

  /** Bytes moved: a reply may come, so hold warp for `quietMs` of wall time. */
  touchIo(): void {
    this.lastIoWall = performance.now();
  }

  /**
   * Hold warp while `pending()` says bytes are still on their way through real
   * sockets (for example sent by a device and not yet read by the broker), for at
   * most `capMs` of wall time without I/O; then `gaveUp()` (the bytes were lost).
   */
  watch(pending: () => boolean, gaveUp: () => void, capMs = 200): void {
    this.watchers.push({ pending, gaveUp });
    this.watchCapMs = capMs;
  }

  private watchCapMs = 200;

  private watched(wallNow: number): boolean {
    for (const w of this.watchers) {
      if (!w.pending()) continue;
      if (wallNow - this.lastIoWall < this.watchCapMs) return true;
      w.gaveUp();
    }
    return false;
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  /** Run until virtual time `until`, `stop()`, or nothing is left to happen. */
  async run(until: number): Promise<void> {
    this.stopped = false;
    let wallMark = performance.now();
    let drainStart: number | undefined;
    while (!this.stopped) {
      const wallNow = performance.now();
      const hot = this.realtime || this.busy > 0 || wallNow - this.lastIoWall < this.quietMs || this.watched(wallNow);
      if (hot) this.now = Math.min(until, this.now + (wallNow - wallMark), this.nextAt());
      wallMark = wallNow;

      const task = this.ready.shift();
      if (task) {
        await task();
        continue;
      }
      const next = this.peek();
      if (next && next.at <= this.now) {
        this.pop();
        await next.task();
        continue;
      }
      // At the end, let real I/O under way finish (at `until`, for at most DRAIN_MS of wall time).
      if (this.now >= until) {
        drainStart ??= wallNow;
        if (!hot || this.realtime || wallNow - drainStart > DRAIN_MS) break;
        await this.sleepWall(this.busy > 0 ? 10 : Math.max(1, this.quietMs - (wallNow - this.lastIoWall)));
        continue;
      }
      if (hot) {
        const target = Math.min(until, next?.at ?? Infinity);
        const ioLeft = this.busy > 0 || this.realtime ? Infinity : Math.max(1, this.quietMs - (wallNow - this.lastIoWall));
        await this.sleepWall(Math.max(0, Math.min(target - this.now, ioLeft)));
        continue;
      }
      // Before warping, give real I/O that already arrived (a reset, a late reply) one turn of
      // Node's event loop to post its task: awaiting in-process deliveries alone never yields to I/O.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.ready.length) continue;
      if (!next || next.at > until) {
        this.now = until;
        break;
      }
      this.now = next.at;
    }
  }

  private nextAt(): number {
    return this.peek()?.at ?? Infinity;
  }

  private sleepWall(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, Math.min(ms, 1000));
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }

  private peek(): TimerEntry | undefined {
    while (this.heap.length && this.heap[0].cancelled) this.pop();
    return this.heap[0];
  }

  private push(entry: TimerEntry): void {
    const heap = this.heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i], heap[parent])) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  }

  private pop(): TimerEntry | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length && last) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && before(heap[l], heap[m])) m = l;
        if (r < heap.length && before(heap[r], heap[m])) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m], heap[i]];
        i = m;
      }
    }
    return top;
  }
}

function before(a: TimerEntry, b: TimerEntry): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
