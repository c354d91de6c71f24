import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scenario } from './run';

test('Wi-Fi flapping: each loss is noticed, rejoined with the cached hint, and nothing is left unsent', async () => {
  const { on, summary } = await scenario('wifi-flapping');
  const app = (summary.firmware as { app: { state: string } }).app;
  const losses = on('link.backoff').filter((e) => e.fields?.failure === 'wifi' && e.fields?.attempt === 1);
  assert.equal(losses.length, 5,
    `each of the five losses started a Wi-Fi backoff (TLS failures ${JSON.stringify(summary.tls_failures)}, configuration faults ${JSON.stringify(summary.configuration_faults)})`);
  assert.ok(summary.connects <= 5 * 2 + 1, `${summary.connects} connects for 5 losses`);
  assert.equal(app.state, 'Online');
  assert.equal(summary.samples_lost, 0);
  assert.equal(summary.samples_delivered! + summary.samples_pending, summary.samples_generated, 'every sample was delivered or is still queued');
});
