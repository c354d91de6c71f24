/**
 * The simulator's virtual clock and event loop.
 *
 * Everything that happens to the simulated world is a task on this loop, run
 * one at a time in virtual-time order (ties in the order they were scheduled).
 * After each task the loop lets the work that task started in Node settle: the
 * local world's TLS endpoint and broker run on in-memory streams
 * (net/memory.ts), which `touch()` the scheduler whenever bytes move; the loop
 * turns Node's event loop until a turn passes with no bytes moved and nothing
 * pending, and only then takes the next task. A byte the endpoint sends
 * becomes a task of its own, a modelled latency later. So the clock jumps from
 * task to task and never reads the wall clock: the same seed gives the same
 * run, on an idle or a loaded machine.
 *
 * Real sockets (an external broker, mosquitto) cannot be told apart from
 * silence this way; a world that has them sets `realIo` (clock/real-io.ts),
 * whose best-effort holds make virtual time follow the wall clock while a
 * reply is due. `realtime` paces every task to the wall clock.
 */
import type { RealIo } from './real-io';

type Task = () => void | Promise<void>;

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
  /** Virtual time runs with the wall clock (no warp). */
  realtime?: boolean;
}

/** Turns of Node's event loop after which in-memory I/O that still moves bytes is a simulator bug. */
const MAX_SETTLE_TURNS = 100_000;

export class Scheduler {
  /** Virtual milliseconds since the start of the simulation. */
  now = 0;
  readonly realtime: boolean;
  /** Set by a world with real sockets: best-effort wall-clock holds while replies are due. */
  realIo: RealIo | undefined;
  private heap: TimerEntry[] = [];
  private seq = 0;
  private ready: Task[] = [];
  private activity = 0;
  private settledActivity = 0;
  private wake: (() => void) | undefined;
  private stopped = false;

  constructor(options: SchedulerOptions = {}) {
    this.realtime = options.realtime ?? false;
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

  /** Queue a task at the current virtual time, after the task running now (FIFO). */
  post(task: Task): void {
    this.ready.push(task);
    this.wake?.();
  }

  /** In-memory I/O moved bytes: the loop waits until Node has processed them before time moves on. */
  touch(): void {
    this.activity++;
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  /** Run until virtual time `until`, `stop()`, or nothing is left to happen. */
  async run(until: number): Promise<void> {
    this.stopped = false;
    const pace = this.realtime ? { wall: performance.now(), virtual: this.now } : undefined;
    await this.settle();
    while (!this.stopped) {
      this.realIo?.advance(this, Math.min(until, this.nextAt()));
      const task = this.ready.shift();
      if (task) {
        await task();
        await this.settle();
        continue;
      }
      const next = this.peek();
      const target = next && next.at <= until ? next.at : until;
      if (this.realIo && (await this.realIo.follow(this, target, until))) continue;
      if (pace) {
        const due = pace.wall + (target - pace.virtual);
        if (due > performance.now()) {
          await this.sleepWall(due - performance.now());
          continue;
        }
      }
      if (!next || next.at > until) {
        this.now = Math.max(this.now, until);
        break;
      }
      this.pop();
      this.now = Math.max(this.now, next.at);
      await next.task();
      await this.settle();
    }
  }

  /**
   * Turn Node's event loop until the in-memory network is quiet: a whole turn
   * with no bytes moved and no immediate callback pending. Nothing here reads a
   * clock, so where the turns fall in wall time cannot change the run.
   */
  private async settle(): Promise<void> {
    if (this.realIo) {
      await this.realIo.settle();
      return;
    }
    if (this.activity === this.settledActivity) return;
    for (let turn = 0; turn < MAX_SETTLE_TURNS; turn++) {
      const before = this.activity;
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.activity === before && !immediatePending()) {
        this.settledActivity = this.activity;
        return;
      }
    }
    throw new Error(`scheduler: in-memory I/O still moving bytes after ${MAX_SETTLE_TURNS} turns at virtual ${this.now} ms`);
  }

  /** Sleep up to `ms` of wall time; a `post` or `at` from I/O wakes it early. */
  sleepWall(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, Math.max(0, Math.min(ms, 1000)));
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

  /** Something is queued to run at the current virtual time. */
  get hasReady(): boolean {
    return this.ready.length > 0;
  }

  /** Virtual time of the next timer, Infinity when none. */
  nextAt(): number {
    return this.peek()?.at ?? Infinity;
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

/** An immediate callback (stream plumbing, aedes) is queued in Node's event loop. */
function immediatePending(): boolean {
  return process.getActiveResourcesInfo().includes('Immediate');
}
