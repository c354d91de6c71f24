import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler } from '../../clock/scheduler';
import { RealIo } from '../../clock/real-io';

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
  assert.ok(performance.now() - wall < 60_000, 'an hour of timers took no real hour');
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

test('over real sockets, virtual time follows the wall clock while a connect is under way instead of warping', async () => {
  const s = new Scheduler();
  const io = new RealIo();
  s.realIo = io;
  let firedAt = -1;
  s.at(0, () => {
    io.beginIo();
    setTimeout(() => s.post(() => { io.endIo(); firedAt = s.now; }), 40);
  });
  s.at(10_000, () => {});
  await s.run(20_000);
  assert.ok(firedAt >= 30 && firedAt < 10_000, `the I/O completion arrived at virtual ${firedAt} ms: after its wall latency, before the clock warped to the next timer`);
  assert.equal(s.now, 20_000);
});

test('after a task, the clock waits for the work it started in Node (immediates, stream callbacks) before moving on', async () => {
  const s = new Scheduler();
  const seen: string[] = [];
  s.at(100, () => {
    s.touch();
    // A chain of event-loop turns, as stream plumbing makes: each link schedules the next.
    let links = 0;
    const link = () => {
      s.touch();
      if (++links < 50) setImmediate(link);
      else s.after(10, () => { seen.push(`reply@${s.now}`); });
    };
    setImmediate(link);
  });
  s.at(105, () => { seen.push(`timer@${s.now}`); });
  await s.run(1000);
  assert.deepEqual(seen, ['timer@105', 'reply@110'], 'the reply was scheduled at the virtual time of the task that caused it');
});

test('realtime paces tasks to the wall clock', async () => {
  const s = new Scheduler({ realtime: true });
  let at = -1;
  const wall = performance.now();
  s.at(60, () => { at = performance.now() - wall; });
  await s.run(80);
  assert.ok(at >= 55, `the task at virtual 60 ms ran after ${at.toFixed(0)} ms of wall time`);
});
