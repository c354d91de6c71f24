import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ceiling, createBackoff, nextDelay, resetBackoff } from '../../../firmware/link/backoff';

const policy = fc.record({
  baseMs: fc.integer({ min: 1, max: 60_000 }),
  extra: fc.integer({ min: 0, max: 24 * 3_600_000 }),
  floorMs: fc.integer({ min: 0, max: 2000 }),
}).map(({ baseMs, extra, floorMs }) => ({ baseMs, capMs: baseMs + extra, floorMs }));

test('every delay lies in [floor, min(cap, base * 2^attempt)] (full jitter, 32-bit ms)', () => {
  fc.assert(fc.property(policy, fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 1, maxLength: 60 }), (p, randoms) => {
    const b = createBackoff(p);
    randoms.forEach((r, attempt) => {
      const top = Math.min(p.capMs, p.baseMs * 2 ** attempt);
      const d = nextDelay(b, r);
      assert.ok(Number.isInteger(d));
      assert.ok(d >= p.floorMs);
      assert.ok(d <= Math.max(top, p.floorMs), `attempt ${attempt}: ${d} > ${top}`);
    });
  }));
});

test('caps beyond 65.5 s work (no uint16 limit) and the ceiling never overflows', () => {
  const b = createBackoff({ baseMs: 1000, capMs: 6 * 3_600_000, floorMs: 1000 });
  for (let i = 0; i < 100; i++) nextDelay(b, 0xffffffff);
  assert.equal(ceiling(b), 6 * 3_600_000);
  assert.equal(nextDelay(b, 0xffffffff), 6 * 3_600_000);
});

test('jitter spreads: delays for one attempt cover the whole range', () => {
  const samples: number[] = [];
  for (let r = 0; r < 1000; r++) {
    const b = createBackoff({ baseMs: 1000, capMs: 300_000, floorMs: 0 });
    b.attempt = 6;
    samples.push(nextDelay(b, Math.floor((r / 1000) * 0xffffffff)));
  }
  const top = 64_000;
  assert.ok(Math.min(...samples) < top * 0.05 && Math.max(...samples) > top * 0.95);
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  assert.ok(Math.abs(mean - top / 2) < top * 0.05, `mean ${mean} is about half the ceiling`);
});

test('the floor keeps two CONNECTs at least a second apart; reset starts over', () => {
  const b = createBackoff({ baseMs: 500, capMs: 5000, floorMs: 1000 });
  assert.equal(nextDelay(b, 0), 1000);
  nextDelay(b, 0xffffffff);
  nextDelay(b, 0xffffffff);
  assert.equal(b.attempt, 3);
  resetBackoff(b);
  assert.equal(b.attempt, 0);
  assert.equal(ceiling(b), 500);
});

test('bad policies are refused', () => {
  assert.throws(() => createBackoff({ baseMs: 0, capMs: 10, floorMs: 0 }), RangeError);
  assert.throws(() => createBackoff({ baseMs: 10, capMs: 5, floorMs: 0 }), RangeError);
  assert.throws(() => createBackoff({ baseMs: 10, capMs: 2 ** 33, floorMs: 0 }), RangeError);
});
