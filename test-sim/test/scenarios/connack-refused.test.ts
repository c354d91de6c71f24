import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scenario, minutes } from './run';

test('CONNACK 3 (server unavailable) retries on the network schedule; CONNACK 5 (not authorized) takes the slow one and is reported once', async () => {
  const { on, summary } = await scenario('connack-refused');
  const unavailable = on('link.backoff').filter((e) => e.t < minutes(10) && e.fields?.failure === 'broker-refused');
  assert.ok(unavailable.length >= 3 && unavailable.every((e) => e.fields?.schedule === 'network'), `${unavailable.length} network-schedule retries`);
  const back = on('mqtt.connected').find((e) => e.t >= minutes(10));
  assert.ok(back && back.t < minutes(16), 'accepted again within one backoff step of the refusal ending');

  const notAuthorized = on('mqtt.closed').filter((e) => e.t >= minutes(60) && /not authorized/.test(String(e.fields?.message)));
  assert.ok(notAuthorized.length >= 2 && notAuthorized.length <= 6, `${notAuthorized.length} CONNECTs in 2 h of "not authorized"`);
  assert.equal(on('link.configuration-fault').length, 1, 'reported once');
  assert.match(summary.configuration_faults[0], /not authorized \(5\)/);
});
