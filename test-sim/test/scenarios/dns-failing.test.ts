import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scenario, minutes } from './run';

test('DNS failing: attempts fail with the typed dns category on the network schedule, and the link returns', async () => {
  const { on, summary } = await scenario('dns-failing');
  const errors = on('tls.error').filter((e) => e.t > minutes(5) && e.t < minutes(19));
  assert.ok(errors.length >= 3 && errors.every((e) => e.fields?.category === 'dns'));
  assert.ok(on('link.backoff').filter((e) => e.fields?.failure === 'dns').every((e) => e.fields?.schedule === 'network'));
  assert.equal(summary.configuration_faults.length, 0, 'a DNS outage is not a configuration fault');
  assert.ok(on('tls.connected').some((e) => e.t >= minutes(19)));
});
