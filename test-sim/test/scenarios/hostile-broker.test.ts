import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSimulation } from '../../sim';
import { loadScenario } from '../../scenarios/scenario';
import type { HostileStats } from '../../endpoint/hostile';
import { minutes } from './run';

test('a hostile broker (acks reordered, acks withheld, QoS 2 flood, PUBACK before CONNACK): typed closes, every sample delivered', async () => {
  let stats: HostileStats | undefined;
  const { summary, events } = await runSimulation({
    engine: 'xs', scenario: loadScenario('hostile-broker'), seed: 1,
    beforeTeardown: async (_devices, world) => { stats = { ...world.hostile!.stats }; },
  });
  const closes = events.filter((e) => e.event === 'mqtt.closed');
  const closed = (kind: string, from: number, to: number) => closes.filter((e) => e.fields?.kind === kind && e.t >= from && e.t < to).length;

  // Each rule the broker broke was seen, and answered with its own close reason while it was broken.
  assert.ok(stats!.reordered >= 1, `${stats!.reordered} PUBACKs reordered`);
  // The device saw a later batch acknowledged before an earlier one, and consumed only the acknowledged prefix.
  const acked = events.filter((e) => e.event === 'telemetry.acked' && e.t >= minutes(19) && e.t < minutes(34)).map((e) => Number(e.fields!.first));
  assert.ok(acked.some((first, i) => i > 0 && first < acked[i - 1]), `acknowledged batches in order: ${acked.join(', ')}`);
  assert.ok(stats!.withheld >= 1 && stats!.released >= 1, `${stats!.withheld} PUBACKs withheld, ${stats!.released} released`);
  assert.ok(closed('puback-timeout', minutes(40), minutes(48)) >= 2, 'withheld PUBACKs close the connection at the PUBACK deadline (2 x 60 s keepalive)');
  assert.ok(stats!.flooded >= 40);
  assert.ok(closed('qos2-refused', minutes(55), minutes(60)) >= 1, 'a QoS 2 PUBLISH from an AWS-profile broker closes the connection');
  assert.ok(stats!.early >= 1);
  assert.ok(closed('before-connack', minutes(65), minutes(68)) >= 1, 'a PUBACK before CONNACK closes the connection');
  // Out-of-order PUBACKs are legal (both ids await one): no close for them.
  assert.equal(closes.filter((e) => e.fields?.kind === 'unknown-packet-id').length, 0);
  // Only the reasons this broker caused, and the ones the scenario's outage and reset cause.
  const kinds = new Set(closes.map((e) => String(e.fields?.kind)));
  assert.deepEqual([...kinds].filter((k) => !['puback-timeout', 'qos2-refused', 'before-connack', 'closed'].includes(k)), []);

  // Every sample delivered or still queued; nothing lost, nothing dropped.
  assert.equal(summary.samples_lost, 0);
  assert.equal(summary.samples_dropped, 0);
  assert.equal(summary.samples_delivered, summary.samples_generated - summary.samples_pending);
  assert.ok(summary.samples_pending <= 12, `${summary.samples_pending} samples pending: at most the last upload interval's`);
  // A duplicate is a sample whose PUBACK the device never got: the broker counted those itself.
  assert.ok(stats!.samplesUnacknowledged > 0);
  assert.equal(summary.duplicates, stats!.samplesUnacknowledged);
  assert.equal((summary.firmware as { app: { state: string } }).app.state, 'Online');
});
