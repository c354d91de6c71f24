import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scenario } from './run';

test('two devices with one client id settle into the slow schedule instead of a reconnect fight', async () => {
  const { on, summary } = await scenario('takeover');
  assert.ok(summary.connects <= 30, `${summary.connects} connects by both devices in 2 h`);
  const faults = [0, 1].flatMap((device) => on('link.configuration-fault', device));
  assert.ok(faults.length >= 1 && faults.length <= 2, `reported at most once per device (${faults.length})`);
  assert.ok(summary.configuration_faults.some((f) => /another device may be using client id "sim-thing-1"/.test(f)));
  const slow = [0, 1].flatMap((device) => on('link.backoff', device)).filter((e) => e.fields?.schedule === 'configuration');
  assert.ok(slow.length >= 1 && slow.every((e) => Number(e.fields?.delayMs) >= 10 * 60_000), 'the streak moved to waits of at least 10 minutes');
});
