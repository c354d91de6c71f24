import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scenario, minutes } from './run';

test('a half-open link (packets silently dropped, no RST) is detected by keepalive within keepalive + ping timeout', async () => {
  const { on, summary } = await scenario('half-open');
  const start = minutes(10);
  const closed = on('mqtt.closed').find((e) => e.t >= start)!;
  assert.equal(closed.fields?.kind, 'keepalive-timeout');
  assert.ok(closed.t - start <= 60_000 + 10_000 + 1000, `detected ${Math.round((closed.t - start) / 1000)} s after the path went dark`);
  const attemptsWhileDark = on('tls.error').filter((e) => e.t > closed.t && e.t < minutes(30));
  assert.ok(attemptsWhileDark.every((e) => e.fields?.category === 'timeout'), 'connects into the black hole time out');
  assert.ok(on('tls.connected').some((e) => e.t >= minutes(30)), 'back once the path returns');
  assert.equal((summary.firmware as { app: { state: string } }).app.state, 'Online');
});
