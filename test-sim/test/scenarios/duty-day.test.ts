import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSimulation } from '../../sim';
import { loadScenario, parseScenario } from '../../scenarios/scenario';

test('a 24 h duty-cycled day: deep sleep between samples, one connection per upload, disconnect right after the last PUBACK', async () => {
  // The Node engine for the whole day (1,440 wakes); the XS engine runs the same firmware for two hours below.
  const { summary, events } = await runSimulation({ engine: 'node', seed: 8, scenario: loadScenario('duty-day') });
  assert.equal(summary.power_mode, 'duty');
  assert.ok(summary.boots >= 1400, `${summary.boots} wakes`);
  assert.ok(summary.tls_handshakes >= 90 && summary.tls_handshakes <= 100, `${summary.tls_handshakes} connections (96 uploads a day)`);
  assert.ok(summary.avg_ma < 0.6, `${summary.avg_ma} mA on average`);
  assert.equal(summary.samples_lost, 0);
  assert.equal(summary.samples_delivered! + summary.samples_pending, summary.samples_generated);
  // No idle radio tail: each connection ends within a second of its last acknowledgement.
  const acked = events.filter((e) => e.event === 'telemetry.acked');
  for (const a of acked) {
    const off = events.find((e) => e.event === 'radio' && e.fields?.state === 'off' && e.t >= a.t);
    assert.ok(off && off.t - a.t <= 1000, `radio off ${off ? off.t - a.t : '?'} ms after a PUBACK`);
  }
  assert.ok(summary.radio_on_ms < 0.01 * 86_400_000, `radio on ${summary.radio_on_ms} ms of the day`);
});

test('the same duty cycle inside XS for two hours: the engine restarts at every wake and the queue carries on', async () => {
  const { summary } = await runSimulation({ engine: 'xs', seed: 8, scenario: parseScenario({ duration: '2h' }, 'duty-2h') });
  assert.equal(summary.engine, 'xs');
  assert.ok(summary.boots >= 115, `${summary.boots} fresh XS machines`);
  assert.equal(summary.crashes, 0);
  assert.equal(summary.samples_lost, 0);
  assert.ok(summary.samples_delivered! >= 100);
});
