/** decide(): one failure class at a time, as a pure function of its inputs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_POLICY, decide, freshCounters, type FailureCounters } from '../../../firmware/link/decide';
import type { Failure } from '../../../firmware/link/classify';

const TOP = 0xffffffff; // a random draw at the top: the delay is the ceiling
const at = (attempts: Partial<FailureCounters['attempts']> = {}, rest: Partial<FailureCounters> = {}): FailureCounters => ({
  ...freshCounters(), ...rest, attempts: { ...freshCounters().attempts, ...attempts },
});

const EXPECTED: Record<Failure, { schedule: string; firstDelay: number; report: boolean; resyncTime: boolean }> = {
  wifi: { schedule: 'wifi', firstDelay: 2000, report: false, resyncTime: false },
  dns: { schedule: 'network', firstDelay: 1000, report: false, resyncTime: false },
  tcp: { schedule: 'network', firstDelay: 1000, report: false, resyncTime: false },
  timeout: { schedule: 'network', firstDelay: 1000, report: false, resyncTime: false },
  'tls-network': { schedule: 'network', firstDelay: 1000, report: false, resyncTime: false },
  credentials: { schedule: 'configuration', firstDelay: 600_000, report: true, resyncTime: false },
  clock: { schedule: 'time', firstDelay: 30_000, report: false, resyncTime: true },
  time: { schedule: 'time', firstDelay: 30_000, report: false, resyncTime: false },
  'broker-refused': { schedule: 'network', firstDelay: 1000, report: false, resyncTime: false },
  protocol: { schedule: 'network', firstDelay: 1000, report: false, resyncTime: false },
  keepalive: { schedule: 'network', firstDelay: 1000, report: false, resyncTime: false },
  'broker-closed': { schedule: 'network', firstDelay: 1000, report: false, resyncTime: false },
};

for (const [failure, want] of Object.entries(EXPECTED) as [Failure, (typeof EXPECTED)[Failure]][]) {
  test(`${failure}: the ${want.schedule} schedule, ${want.firstDelay} ms first${want.report ? ', reported once' : ''}${want.resyncTime ? ', clock re-synced' : ''}`, () => {
    const counters = freshCounters();
    const d = decide(failure, counters, DEFAULT_POLICY, { onlineMs: undefined, random32: TOP });
    assert.equal(d.schedule, want.schedule);
    assert.equal(d.delayMs, want.firstDelay);
    assert.equal(d.report !== null, want.report);
    assert.equal(d.resyncTime, want.resyncTime);
    assert.equal(d.radioOff, want.firstDelay >= DEFAULT_POLICY.radioOffMs);
    assert.equal(d.counters.attempts[d.schedule as keyof FailureCounters['attempts']], 1);
    assert.deepEqual(counters, freshCounters(), 'pure: the input counters are untouched');
    const again = decide(failure, d.counters, DEFAULT_POLICY, { onlineMs: undefined, random32: TOP });
    assert.equal(again.delayMs, Math.min(want.firstDelay * 2, DEFAULT_POLICY[d.schedule].capMs), 'the ceiling doubles');
    assert.equal(again.report, null, 'a fault is reported once');
  });
}

test('a link that stayed up stableMs resets the counters and the reported fault; a shorter one does not', () => {
  const busy = at({ network: 5, configuration: 2, time: 3 }, { reportedFault: 'credentials', shortLived: 2 });
  const stable = decide('tcp', busy, DEFAULT_POLICY, { onlineMs: DEFAULT_POLICY.stableMs, random32: TOP });
  assert.deepEqual(stable.counters, at({ network: 1 }));
  const short = decide('tcp', busy, DEFAULT_POLICY, { onlineMs: DEFAULT_POLICY.stableMs - 1, random32: TOP });
  assert.equal(short.counters.attempts.network, 6);
  assert.equal(short.counters.reportedFault, 'credentials');
});

test('three short-lived connections closed by the broker are a takeover: configuration schedule, reported once', () => {
  let counters = freshCounters();
  const schedules: string[] = [];
  let reports = 0;
  for (let i = 0; i < 5; i++) {
    const d = decide('broker-closed', counters, DEFAULT_POLICY, { onlineMs: 2000, random32: TOP });
    schedules.push(d.schedule);
    if (d.report) {
      reports++;
      assert.equal(d.report.takeover, true);
    }
    counters = d.counters;
  }
  assert.deepEqual(schedules, ['network', 'network', 'configuration', 'configuration', 'configuration']);
  assert.equal(reports, 1);
});

test('full jitter draws below the ceiling, never below the floor', () => {
  assert.equal(decide('tcp', at({ network: 3 }), DEFAULT_POLICY, { onlineMs: undefined, random32: 0 }).delayMs, 1000);
  assert.equal(decide('tcp', at({ network: 3 }), DEFAULT_POLICY, { onlineMs: undefined, random32: 0x8000_0000 }).delayMs, 4000);
});
