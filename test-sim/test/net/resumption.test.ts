/**
 * TLS session resumption as the platform declares it (hal/sim/capabilities.ts
 * `tls`): the session lives in RAM (lost at every boot) or in RTC memory (kept
 * through deep sleep and resets, lost with the power); the local endpoint
 * resumes by ticket and by session id, or refuses, which costs one full
 * handshake and nothing else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { runSimulation, type SimOptions } from '../../sim';
import { parseScenario, type Scenario } from '../../scenarios/scenario';
import { MODDABLE_PLATFORM, type Platform } from '../../energy/costs';
import { localWorld } from '../../net/world';
import { CAPABILITIES } from '../../../hal/sim/capabilities';
import type { PlatformCapabilities } from '../../../hal/types';

function platform(tls: Partial<PlatformCapabilities['tls']>): Platform {
  const capabilities = { ...MODDABLE_PLATFORM.capabilities, tls: { ...MODDABLE_PLATFORM.capabilities.tls, ...tls } };
  return { ...MODDABLE_PLATFORM, capabilities };
}
const RAM = platform({ resumeAfterDeepSleep: false, resumption: ['session-id'] });
const RTC = platform({ resumeAfterDeepSleep: true, resumption: ['session-id'] });
/** A duty-cycled hour: uploads (one handshake each) at 15, 30 and 45 minutes after the first. */
const hour = (faults: unknown[] = []): Scenario => parseScenario({ duration: '1h', faults }, 'duty-hour');

async function run(options: Partial<SimOptions> & { scenario: Scenario }) {
  const { summary, events } = await runSimulation({ engine: 'node', seed: 1, ...options });
  const handshakes = events.filter((e) => e.event === 'tls.connected').map((e) => e.fields?.resumed);
  return { summary, handshakes };
}

test('the declared platform: a wake from deep sleep resumes exactly when the session survives deep sleep', async () => {
  const { summary, handshakes } = await run({ scenario: hour() });
  assert.equal(handshakes.length, 4);
  assert.equal(summary.tls_resumed, CAPABILITIES.tls.resumeAfterDeepSleep && CAPABILITIES.tls.resumption.length > 0 ? 3 : 0);
});

test('session in RAM: every wake does a full handshake; in RTC memory: every wake after the first resumes, and costs less', async () => {
  const ram = await run({ scenario: hour(), platform: RAM });
  const rtc = await run({ scenario: hour(), platform: RTC });
  assert.deepEqual(ram.handshakes, [false, false, false, false]);
  assert.deepEqual(rtc.handshakes, [false, true, true, true]);
  assert.equal(rtc.summary.tls_resumed, 3);
  assert.ok(rtc.summary.energy_mj < ram.summary.energy_mj, `${rtc.summary.energy_mj} mJ resumed against ${ram.summary.energy_mj} mJ full`);
});

test('cleared before a wake (test hook), or lost with the power: the next handshake is a full one', async () => {
  const cleared = await run({
    scenario: hour(), platform: RTC,
    beforeRun: (scheduler, devices) => { scheduler.at(1_500_000, () => devices[0].tlsSession.clear()); },
  });
  assert.deepEqual(cleared.handshakes, [false, true, false, true]);
  // The cut at 25 minutes: the device uploads at power-on again, with a full handshake.
  const cut = await run({ scenario: hour([{ at: '25m', kind: 'power-cut', for: '1s' }]), platform: RTC });
  assert.deepEqual(cut.handshakes, [false, true, false, true, true]);
});

test('an endpoint that refuses resumption costs one full handshake each and nothing else', async () => {
  const refused = await run({ scenario: hour(), platform: RTC, world: (scheduler) => localWorld(scheduler, { resumption: false }) });
  const ram = await run({ scenario: hour(), platform: RAM });
  assert.equal(refused.summary.tls_resumed, 0);
  assert.equal(refused.summary.events_sha256, ram.summary.events_sha256, 'the same run as a device that never offers a session');
  assert.equal(refused.summary.energy_mj, ram.summary.energy_mj);
});

test('the endpoint resumes by session id (no ticket sent) and by ticket', async () => {
  for (const resumption of [['session-id'], ['ticket', 'session-id']] as const) {
    let resumedAtEndpoint = -1;
    const r = await run({
      scenario: hour(), platform: platform({ resumeAfterDeepSleep: true, resumption }),
      beforeTeardown: async (_d, world) => { resumedAtEndpoint = world.endpoint!.stats.handshakes.resumed; },
    });
    assert.equal(r.summary.tls_resumed, 3, resumption.join('+'));
    assert.equal(resumedAtEndpoint, 3);
  }
});

test('always connected, the session in RAM resumes a reconnect within the same boot', async () => {
  const r = await run({
    scenario: parseScenario({ duration: '20m', config: { powerMode: 'always' }, faults: [{ at: '10m', kind: 'tcp-reset' }] }, 'reconnect'),
    platform: RAM,
  });
  assert.deepEqual(r.handshakes, [false, true]);
});

test('a device key the platform cannot sign with fails the connection, typed, before any byte is sent', async () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const ecKey = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  // A platform that signs with RSA only (Moddable's JavaScript TLS was one), given an EC key.
  const rsaOnly = platform({ keyTypes: ['rsa-2048'] });
  const { summary, events } = await runSimulation({
    engine: 'node', seed: 1, platform: rsaOnly,
    scenario: parseScenario({ duration: '2m', config: { powerMode: 'always' } }, 'ec-key'),
    world: async (scheduler) => {
      const world = await localWorld(scheduler);
      return { ...world, credentials: { ...world.credentials, 'device.key': ecKey } };
    },
  });
  const error = events.find((e) => e.event === 'tls.error')!;
  assert.equal(error.fields?.category, 'tls-handshake');
  assert.match(String(error.fields?.message), /cannot sign with a ec-p256 device key/);
  assert.equal(summary.tls_handshakes, 0);
});
