/**
 * The MQTT client inside XS against a real aedes broker behind the local
 * AWS-IoT-like TLS endpoint.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSimulation } from '../../sim';
import { parseScenario } from '../../scenarios/scenario';
import { probe } from '../../apps/mqtt-probe';
import { localWorld } from '../../net/world';
import type { App } from '../../../hal/types';

const app = { module: 'test-sim/apps/mqtt-probe.ts', exportName: 'probe', fn: probe as App };

interface ProbeState {
  state: string; sent: number; acked: number; inflight: number; received: string[]; errors: string[]; sessions: boolean[]; pings: number;
}

test('connect, QoS 0 and 1 publish, subscribe and receive, in XS over TLS to aedes', async () => {
  const published: string[] = [];
  const { summary } = await runSimulation({
    engine: 'xs',
    app,
    seed: 3,
    // aedes forwards a QoS 1 message back to its sender only once the sender's next packet arrives
    // (seen with aedes 1.2); the 30 s keepalive supplies that packet.
    scenario: parseScenario({ duration: '2m', config: { count: 10, everyMs: 2000, keepAliveS: 30 } }, 'aedes-basic'),
    beforeRun: (_s, _d, world) => {
      world.endpoint!.broker.on('publish', (packet, client) => {
        if (client && packet.topic.endsWith('/m')) published.push(`${packet.qos}:${packet.payload.toString()}`);
      });
    },
  });
  const p = (summary.firmware as { engine: string; app: ProbeState });
  assert.equal(p.engine, 'xs');
  assert.equal(p.app.state, 'Online');
  assert.equal(p.app.sent, 10);
  assert.equal(p.app.acked, 5, 'the five QoS 1 messages were acknowledged');
  assert.equal(p.app.inflight, 0);
  assert.deepEqual(published, Array.from({ length: 10 }, (_, i) => `${i % 2}:${i}`));
  assert.deepEqual([...p.app.received].sort(), Array.from({ length: 10 }, (_, i) => `${i % 2}:${i}`).sort(), 'the device received its own messages back');
  assert.equal(summary.tls_handshakes, 1);
});

test('keepalive pings keep a long idle link open and the broker sees the device alive', async () => {
  const { summary } = await runSimulation({
    engine: 'xs',
    app,
    seed: 4,
    scenario: parseScenario({ duration: '2h', config: { count: 1, keepAliveS: 60 } }, 'aedes-idle'),
    beforeTeardown: async (_devices, world) => {
      assert.equal(world.endpoint!.stats.keepaliveTimeouts, 0);
      assert.equal(world.endpoint!.sessions().length, 1);
    },
  });
  const p = (summary.firmware as { app: ProbeState & { link: { connects: number } } }).app;
  assert.equal(p.state, 'Online');
  assert.equal(p.link.connects, 1, 'one connection for the whole two hours');
  assert.ok(p.pings >= 110 && p.pings <= 120, `about one PINGREQ a minute over two idle hours, got ${p.pings}`);
});

test('broker restart with QoS 1 messages in flight: none is lost', async () => {
  const delivered = new Set<string>();
  let restarted = false;
  const { summary } = await runSimulation({
    engine: 'xs',
    app,
    seed: 5,
    scenario: parseScenario({ duration: '10m', config: { count: 40, burst: 20, everyMs: 60_000, qos: 1 } }, 'aedes-restart'),
    world: async (scheduler) => {
      let world = await localWorld(scheduler);
      const watch = () => world.endpoint!.broker.on('publish', (packet, client) => {
        if (client && packet.topic.endsWith('/m')) delivered.add(packet.payload.toString());
      });
      watch();
      // Stop the broker right after the first burst leaves the device, before its PUBACKs come back.
      scheduler.at(10_000.5, async () => {
        await world.close();
        restarted = true;
        scheduler.after(30_000, async () => {
          world = await localWorld(scheduler);
          watch();
        });
      });
      return {
        ...world,
        resolve: (host, p) => world.resolve(host, p),
        openSecureSocket: (options, events) => world.openSecureSocket!(options, events),
        get endpoint() { return world.endpoint; },
        close: () => world.close(),
      };
    },
  });
  const p = (summary.firmware as { app: ProbeState }).app;
  assert.ok(restarted);
  assert.equal(p.sent, 40);
  assert.equal(p.inflight, 0, 'every QoS 1 message was acknowledged in the end');
  assert.deepEqual([...delivered].map(Number).sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i), 'every message reached the broker');
  assert.ok(summary.tls_handshakes >= 2, 'the device reconnected');
});
