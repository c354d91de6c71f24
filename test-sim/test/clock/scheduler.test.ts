import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler } from '../../clock/scheduler';

test('timers run in deadline order, ties in the order they were set, and time warps to each deadline', async () => {
  const s = new Scheduler();
  const seen: string[] = [];
  s.at(5000, () => { seen.push(`b@${s.now}`); });
  s.at(1000, () => { seen.push(`a@${s.now}`); });
  s.at(5000, () => { seen.push(`c@${s.now}`); });
  const wall = performance.now();
  await s.run(3_600_000);
  assert.deepEqual(seen, ['a@1000', 'b@5000', 'c@5000']);
  assert.equal(s.now, 3_600_000);
  assert.ok(performance.now() - wall < 500, 'an hour of timers took no real hour');
});

test('a cancelled timer never runs and tasks may schedule more tasks', async () => {
  const s = new Scheduler();
  let fired = 0;
  const handle = s.after(10, () => { fired += 100; });
  handle.cancel();
  const tick = () => { fired++; if (fired < 5) s.after(1000, tick); };
  s.after(1000, tick);
  await s.run(60_000);
  assert.equal(fired, 5);
});

test('while real I/O is under way virtual time follows the wall clock instead of warping', async () => {
  const s = new Scheduler({ quietMs: 5 });
  let firedAt = -1;
  s.at(0, () => {
    s.beginIo();
    setTimeout(() => s.post(() => { s.endIo(); firedAt = s.now; }), 40);
  });
  s.at(10_000, () => {});
  await s.run(20_000);
  assert.ok(firedAt >= 30 && firedAt < 1000, `the I/O completion arrived at virtual ${firedAt} ms, close to its wall latency`);
  assert.equal(s.now, 20_000);
});
