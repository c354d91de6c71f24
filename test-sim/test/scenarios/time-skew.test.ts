import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scenario, minutes } from './run';
import { SIM_EPOCH_MS } from '../../../tools/provision/defaults';

const YEAR_MS = 365 * 86_400_000;

test('time servers that lie (ten years ahead, ten years behind, one of three ahead, all ten days ahead): the device refuses the lie or recovers once time is honest, losing nothing', async () => {
  const { on, summary } = await scenario('time-skew');
  const between = (events: ReturnType<typeof on>, from: number, to: number) => events.filter((e) => e.t >= from && e.t < to);
  const honest = (e: { t: number; fields?: Record<string, unknown> }) => Math.abs(Number(e.fields!.wallMs) - (SIM_EPOCH_MS + e.t)) < 1000;

  // Every server ten years ahead: the lie is taken (servers agree) but the server's certificate is
  // expired at that clock: tls-cert with reason time, on the time schedule, and no connection.
  const future = between(on('tls.error'), 0, minutes(30));
  assert.ok(future.length >= 2, `${future.length} certificate date failures`);
  assert.ok(future.every((e) => e.fields?.category === 'tls-cert' && /expired at the device clock, 2035/.test(String(e.fields?.message))), JSON.stringify(future[0]?.fields));
  assert.ok(between(on('link.backoff'), 0, minutes(30)).every((e) => e.fields?.failure === 'clock' && e.fields?.schedule === 'time'));
  assert.equal(between(on('tls.connected'), 0, minutes(30)).length, 0);
  // Honest again: synced to the honest time and connected within the time schedule's next step.
  const back = on('tls.connected').find((e) => e.t >= minutes(30))!;
  assert.ok(back.t < minutes(45), `connected again ${Math.round(back.t / 1000)} s into the run`);
  assert.ok(honest(on('time.synced').filter((e) => e.t <= back.t).at(-1)!));

  // Every server ten years behind: refused below the floor; the RTC keeps its honest time.
  const refused = between(on('time.refused'), minutes(60), minutes(90));
  assert.ok(refused.length >= 3 && refused.every((e) => Number(e.fields!.wallMs) < Number(e.fields!.floorMs)));
  assert.equal(between(on('time.synced'), minutes(60), minutes(90)).length, 0);
  assert.ok(between(on('time.kept'), minutes(60), minutes(90)).length >= 1 && between(on('tls.connected'), minutes(60), minutes(90)).length >= 1, 'online through the lie on the running clock');
  assert.ok(on('tls.connected').some((e) => e.t >= minutes(90) && e.t < minutes(120)), 'online again after the lie');

  // One server of three ten years ahead: outvoted by the two that agree, nothing fails.
  const outvoted = between(on('time.synced'), minutes(120), minutes(150));
  assert.ok(outvoted.length >= 2 && outvoted.every((e) => e.fields?.server !== 'pool.ntp.org' && e.fields?.agreedWith !== 'pool.ntp.org' && honest(e)));
  assert.equal(between(on('tls.error'), minutes(60), minutes(210)).length, 0);

  // Every server ten days ahead: inside the certificates' validity, so the lie is taken, the TLS
  // handshake confirms it and it becomes the last-known-good floor. Once the servers are honest
  // their readings fall below that floor and are refused, but the periodic re-sync failing keeps
  // the running clock (time.kept) and the device stays online: the floor cannot cut it off.
  const DAY_MS = 86_400_000;
  assert.ok(between(on('time.synced'), minutes(150), minutes(170)).some((e) => Math.abs(Number(e.fields!.wallMs) - (SIM_EPOCH_MS + e.t + 10 * DAY_MS)) < 1000), 'the ten-day lie was taken');
  const after = between(on('time.refused'), minutes(170), minutes(210));
  assert.ok(after.length >= 1 && after.every((e) => honest(e) && Number(e.fields!.floorMs) > SIM_EPOCH_MS + e.t + DAY_MS), 'honest readings fell below the floor the lie raised');
  assert.ok(between(on('time.kept'), minutes(170), minutes(210)).length >= 1);
  assert.ok(between(on('tls.connected'), minutes(170), minutes(210)).length >= 1, 'online after the honest servers were refused');

  // The ten-year lies never became the floor.
  assert.ok(on('time.refused').every((e) => Number(e.fields!.floorMs) < SIM_EPOCH_MS + YEAR_MS));
  // Nothing lost: every sample delivered but those of the last upload interval, none twice.
  assert.equal(summary.samples_lost, 0);
  assert.equal(summary.duplicates, 0);
  assert.equal(summary.samples_dropped, 0);
  assert.equal(summary.samples_delivered, summary.samples_generated - summary.samples_pending);
  assert.ok(summary.samples_pending <= 15, `${summary.samples_pending} samples pending`);
});
