import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scenario, radioOnMs, minutes } from './run';
import { DEFAULT_POLICY } from '../../../firmware/link/decide';

test('a 10-minute broker outage: only the attempts the backoff allows, radio off while waiting, back within one step', async () => {
  const { summary, events, on } = await scenario('broker-outage');
  const down = minutes(5);
  const up = minutes(15);
  const { baseMs, capMs, floorMs } = DEFAULT_POLICY.network;

  const backoffs = on('link.backoff').filter((e) => e.t >= down && e.t < up);
  const attempts = on('tls.error').filter((e) => e.t >= down && e.t < up);
  assert.ok(attempts.length >= 5 && attempts.length <= 14, `${attempts.length} attempts in the 10 minutes`);
  for (const b of backoffs) {
    const attempt = Number(b.fields!.attempt);
    const delay = Number(b.fields!.delayMs);
    assert.ok(delay >= floorMs && delay <= Math.min(capMs, baseMs * 2 ** (attempt - 1)), `delay ${delay} within the full-jitter ceiling of attempt ${attempt}`);
  }
  // Each new attempt starts no earlier than the backoff that preceded it allows.
  const starts = events.filter((e) => e.event === 'link.transition' && e.fields?.to === 'TlsConnect');
  for (const b of backoffs) {
    const nextStart = starts.find((s) => s.t > b.t);
    if (nextStart) assert.ok(nextStart.t >= b.t + Number(b.fields!.delayMs) - 1, 'no attempt before its backoff ran out');
  }

  const radioShare = radioOnMs(events, down, up) / (up - down);
  assert.ok(radioShare < 0.25, `radio on ${(radioShare * 100).toFixed(1)}% of the outage`);

  const lastWait = on('link.backoff').filter((e) => e.t < up).at(-1)!;
  const wakeAt = lastWait.t + Number(lastWait.fields!.delayMs);
  const back = on('tls.connected').find((e) => e.t >= up)!;
  assert.ok(back, 'connected again');
  assert.ok(back.t - Math.max(wakeAt, up) <= 5_000, `connected ${back.t - wakeAt} ms after the backoff step that spanned the broker's return`);
  assert.equal((summary.firmware as { app: { state: string } }).app.state, 'Online');
});
