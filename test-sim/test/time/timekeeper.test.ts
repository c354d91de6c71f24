/** Which wall time the firmware trusts (firmware/time/timekeeper.ts), on a fake clock and fake servers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock, LinkError, TimeReading } from '../../../hal/types';
import { DEFAULT_TIME_POLICY, Timekeeper, type TimeFailure } from '../../../firmware/time/timekeeper';

const BUILD = Date.UTC(2026, 5, 1);
const HONEST = Date.UTC(2026, 6, 1);

function rig(answers: Record<string, number | LinkError>, stored?: number) {
  let tick = 1000;
  let rtc: number | undefined;
  const asked: string[] = [];
  const saved: number[] = [];
  const clock: Clock = {
    now: () => tick,
    wallTime: () => rtc,
    query: (server, done) => {
      asked.push(server);
      const a = answers[server];
      done(typeof a === 'number' ? ({ wallMs: a, server } satisfies TimeReading) : a);
    },
    setWallTime: (ms) => { rtc = ms; },
  };
  const keeper = new Timekeeper(clock, Object.keys(answers), { ...DEFAULT_TIME_POLICY, buildTimeMs: BUILD }, { load: () => stored, save: (ms) => { saved.push(ms); } });
  const sync = (): TimeFailure | undefined => {
    let out: TimeFailure | undefined | 'pending' = 'pending';
    keeper.sync((f) => { out = f; });
    assert.notEqual(out, 'pending');
    return out as unknown as TimeFailure | undefined;
  };
  return { keeper, sync, asked, saved, rtc: () => rtc, advance: (ms: number) => { tick += ms; if (rtc !== undefined) rtc += ms; }, setRtc: (ms: number) => { rtc = ms; } };
}

test('two servers that agree set the clock; samples get the time', () => {
  const r = rig({ a: HONEST, b: HONEST + 400 });
  assert.equal(r.keeper.needsSync(), true);
  assert.equal(r.sync(), undefined);
  assert.equal(r.rtc(), HONEST + 400);
  assert.equal(r.keeper.now(), HONEST + 400);
  assert.equal(r.keeper.needsSync(), false);
});

test('a reading before the build time is refused and the clock is not set', () => {
  const r = rig({ a: Date.UTC(2020, 0, 1), b: Date.UTC(2020, 0, 1) });
  assert.equal(r.sync()?.kind, 'too-early');
  assert.equal(r.rtc(), undefined);
  assert.equal(r.keeper.stats.refused, 2);
});

test('a reading before the last-known-good time on flash is refused, even after the build time', () => {
  const r = rig({ a: HONEST, b: HONEST }, HONEST + 86_400_000);
  assert.equal(r.sync()?.kind, 'too-early');
  assert.equal(r.keeper.floorMs, HONEST + 86_400_000);
});

test('one lying server among several is outvoted; servers that all disagree are a typed failure', () => {
  const r = rig({ liar: Date.UTC(2031, 0, 1), a: HONEST, b: HONEST + 1000 });
  assert.equal(r.sync(), undefined);
  assert.equal(r.rtc(), HONEST + 1000);
  const d = rig({ a: HONEST, b: HONEST + 3_600_000 });
  assert.equal(d.sync()?.kind, 'disagree');
  const u = rig({ a: { category: 'timeout', message: 'no answer' }, b: { category: 'dns', message: 'no name' } });
  const f = u.sync();
  assert.equal(f?.kind, 'unreachable');
  assert.equal(f?.link?.category, 'dns');
});

test('a certificate date failure distrusts the clock until the next sync; daily re-sync', () => {
  const r = rig({ a: HONEST, b: HONEST });
  r.sync();
  r.keeper.distrust();
  assert.equal(r.keeper.needsSync(), true);
  r.sync();
  assert.equal(r.keeper.needsSync(), false);
  r.advance(86_400_000 - 1);
  assert.equal(r.keeper.needsSync(), false);
  r.advance(1);
  assert.equal(r.keeper.needsSync(), true);
});

test('only a time a TLS handshake confirmed becomes last-known-good, at most once a day, never while distrusted', () => {
  const r = rig({ a: Date.UTC(2030, 0, 1), b: Date.UTC(2030, 0, 1) });
  r.sync();
  r.keeper.distrust(); // the certificates said 2030 is wrong
  r.keeper.confirm();
  assert.deepEqual(r.saved, []);
  const h = rig({ a: HONEST, b: HONEST });
  h.sync();
  h.keeper.confirm();
  h.advance(3_600_000);
  h.keeper.confirm();
  assert.deepEqual(h.saved, [HONEST]);
});

test('a wake from deep sleep trusts the RTC it kept until the daily re-sync is due by wall time', () => {
  const r = rig({ a: HONEST, b: HONEST }, HONEST - 3_600_000);
  r.setRtc(HONEST);
  assert.equal(r.keeper.needsSync(), false);
  r.setRtc(HONEST - 3_600_000 + 86_400_000);
  assert.equal(r.keeper.needsSync(), true);
  r.setRtc(Date.UTC(2025, 0, 1));
  assert.equal(r.keeper.now(), undefined, 'an RTC below the floor is not used');
  assert.equal(r.keeper.needsSync(), true);
});
