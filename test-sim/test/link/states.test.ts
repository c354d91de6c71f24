import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LINK_EVENTS, TRANSITIONS, type LinkEvent, type LinkState } from '../../../firmware/link/states';
import { DEVICE_EVENTS, DEVICE_TRANSITIONS, type DeviceEvent, type DeviceState } from '../../../firmware/device/states';
import { nextState } from '../../../firmware/util/states';

const LINK_STATES = Object.keys(TRANSITIONS) as LinkState[];
const DEVICE_STATES = Object.keys(DEVICE_TRANSITIONS) as DeviceState[];

/** The intended moves, written out once more by hand: every pair not listed must be illegal. */
const LEGAL: Record<string, string> = {
  'Boot/Start': 'WifiJoin',
  'WifiJoin/WifiUp': 'TimeSync', 'WifiJoin/WifiFailed': 'Backoff', 'WifiJoin/Stop': 'Sleep',
  'TimeSync/TimeSynced': 'TlsConnect', 'TimeSync/TimeFailed': 'Backoff', 'TimeSync/WifiLost': 'Backoff', 'TimeSync/Stop': 'Sleep',
  'TlsConnect/TlsUp': 'MqttConnect', 'TlsConnect/TlsFailed': 'Backoff', 'TlsConnect/WifiLost': 'Backoff', 'TlsConnect/Stop': 'Sleep',
  'MqttConnect/MqttUp': 'Online', 'MqttConnect/MqttFailed': 'Backoff', 'MqttConnect/Stop': 'Sleep',
  'Online/LinkLost': 'Backoff', 'Online/Stop': 'Closing',
  'Backoff/BackoffDone': 'WifiJoin', 'Backoff/Stop': 'Sleep',
  'Closing/Closed': 'Sleep',
};

const DEVICE_LEGAL: Record<string, string> = {
  'Boot/Rest': 'Asleep', 'Boot/Upload': 'Uploading', 'Boot/Serve': 'Serving',
  'Uploading/Flushed': 'Leaving', 'Uploading/Backoff': 'Leaving', 'Uploading/AwakeLimit': 'Leaving',
  'Leaving/Left': 'Asleep',
  'Asleep/SleepRefused': 'Restarting',
};

test('every state/event pair: the link table allows exactly the intended moves', () => {
  for (const state of LINK_STATES) {
    for (const event of LINK_EVENTS) assert.equal(nextState<LinkState, LinkEvent>(TRANSITIONS, state, event), LEGAL[`${state}/${event}`], `${state} + ${event}`);
  }
});

test('every state/event pair: the device table allows exactly the intended moves', () => {
  for (const state of DEVICE_STATES) {
    for (const event of DEVICE_EVENTS) assert.equal(nextState<DeviceState, DeviceEvent>(DEVICE_TRANSITIONS, state, event), DEVICE_LEGAL[`${state}/${event}`], `${state} + ${event}`);
  }
});

function reachable(table: Readonly<Record<string, Readonly<Record<string, string | undefined>>>>, from: string): Set<string> {
  const seen = new Set<string>([from]);
  const queue = [from];
  while (queue.length) for (const to of Object.values(table[queue.shift()!])) if (to && !seen.has(to)) { seen.add(to); queue.push(to); }
  return seen;
}

test('both tables are frozen; every state is reachable from Boot; every connecting state can reach Online', () => {
  for (const table of [TRANSITIONS, DEVICE_TRANSITIONS]) {
    assert.ok(Object.isFrozen(table));
    for (const row of Object.values(table)) assert.ok(Object.isFrozen(row));
  }
  assert.throws(() => { (TRANSITIONS as Record<string, unknown>).Online = {}; });
  assert.deepEqual([...reachable(TRANSITIONS, 'Boot')].sort(), [...LINK_STATES].sort());
  assert.deepEqual([...reachable(DEVICE_TRANSITIONS, 'Boot')].sort(), [...DEVICE_STATES].sort());
  for (const s of ['WifiJoin', 'TimeSync', 'TlsConnect', 'MqttConnect', 'Backoff']) assert.ok(reachable(TRANSITIONS, s).has('Online'), s);
});
