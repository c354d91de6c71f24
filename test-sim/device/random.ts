/**
 * Seeded PRNG (mulberry32): the simulator's entropy source, deterministic per
 * `--seed`. No Node APIs, so device-side test apps use it too.
 */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform uint32. */
  next32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.next32() / 4294967296;
  }

  /** Integer in 0..n-1 (n > 0). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(percent: number): boolean {
    return this.below(100) < percent;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }

  /** A derived generator, so adding draws in one place does not shift another. */
  fork(salt: number): SeededRandom {
    return new SeededRandom((this.next32() ^ Math.imul(salt + 1, 0x9e3779b1)) >>> 0);
  }
}
