/**
 * A credential problem is reported once, clearly, and the device does not
 * hammer the endpoint (the link supervisor's long schedule for configuration faults).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSimulation } from '../../sim';
import { parseScenario } from '../../scenarios/scenario';

for (const [name, credentials, category] of [
  ['a device certificate from another CA', { ca: 'root-ca.pem', certificate: 'negative/other-ca-device.pem', key: 'device.key' }, 'tls-alert'],
  ['a CA that did not sign the endpoint', { ca: 'negative/other-root-ca.pem', certificate: 'device.pem', key: 'device.key' }, 'tls-cert'],
] as const) {
  test(`${name}: reported once, typed ${category}, at most a handful of attempts in 6 hours`, async () => {
    const { summary, events } = await runSimulation({
      engine: 'xs',
      seed: 11,
      scenario: parseScenario({ duration: '6h', config: { credentials } }, 'credentials-rejected'),
    });
    const faults = events.filter((e) => e.event === 'link.configuration-fault');
    assert.equal(faults.length, 1, 'reported once');
    assert.match(String(faults[0].fields?.check), /certificate/);
    assert.equal(summary.tls_handshakes, 0);
    const failures = summary.tls_failures[category] ?? 0;
    assert.ok(failures >= 2 && failures <= 7, `${failures} attempts in 6 h (10 min floor, doubling to a 6 h cap)`);
    assert.deepEqual(Object.keys(summary.tls_failures), [category]);
    assert.doesNotMatch(JSON.stringify(events), /PRIVATE KEY/);
  });
}
