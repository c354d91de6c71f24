import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LinkEvent, LinkState, TRANSITIONS, next } from '../../../firmware/link/states';

/** The intended moves, written out once more by hand: every pair not listed must be illegal. */
const LEGAL: Record<string, string> = {
  'Boot/Start': 'WifiJoin', 'Boot/Idle': 'Sleep',
  'WifiJoin/WifiUp': 'TimeSync', 'WifiJoin/WifiFailed': 'Backoff',
  'TimeSync/TimeSynced': 'TlsConnect', 'TimeSync/TimeFailed': 'Backoff', 'TimeSync/WifiLost': 'Backoff',
  'TlsConnect/TlsUp': 'MqttConnect', 'TlsConnect/TlsFailed': 'Backoff', 'TlsConnect/WifiLost': 'Backoff',
  'MqttConnect/MqttUp': 'Online', 'MqttConnect/MqttFailed': 'Backoff', 'MqttConnect/WifiLost': 'Backoff',
  'Online/LinkLost': 'Backoff', 'Online/WifiLost': 'Backoff', 'Online/Idle': 'Sleep',
  'Backoff/BackoffDone': 'WifiJoin', 'Backoff/WifiLost': 'Backoff', 'Backoff/Idle': 'Sleep',
  'Sleep/Wake': 'WifiJoin',
};

test('every state/event pair: the table allows exactly the intended moves', () => {
  let checked = 0;
  for (const state of Object.values(LinkState)) {
    for (const event of Object.values(LinkEvent)) {
      assert.equal(next(state, event), LEGAL[`${state}/${event}`], `${state} + ${event}`);
      checked++;
    }
  }
  assert.equal(checked, Object.keys(LinkState).length * Object.keys(LinkEvent).length);
});

test('the table is frozen and every state can reach Online', () => {
  assert.ok(Object.isFrozen(TRANSITIONS));
  for (const row of Object.values(TRANSITIONS)) assert.ok(Object.isFrozen(row));
  assert.throws(() => { (TRANSITIONS as Record<string, unknown>).Online = {}; });
  for (const start of Object.values(LinkState)) {
    const seen = new Set<string>([start]);
    const queue: string[] = [start];
    while (queue.length) {
      const s = queue.shift()! as LinkState;
      for (const to of Object.values(TRANSITIONS[s])) if (!seen.has(to!)) { seen.add(to!); queue.push(to!); }
    }
    assert.ok(seen.has('Online') || start === 'Online', `${start} can reach Online`);
  }
});
