import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ACCESS_POINT, JOIN_PARTS, planJoin } from '../../radio/wifi';
import { ENERGY_PROFILES } from '../../../firmware/link/energy';
import { CAPABILITIES } from '../../../hal/sim/capabilities';

const hint = { ...ACCESS_POINT };

test('a platform that only scans gets a full scan and DHCP on every join, hint or not', () => {
  assert.deepEqual(planJoin(['scan'], hint), { scan: 'full', address: 'dhcp', ms: ENERGY_PROFILES.esp32.joinColdMs });
  assert.deepEqual(planJoin(['scan'], null), planJoin(['scan'], hint));
});

test('each declared shortcut shortens the join only by its own part', () => {
  const scanOnly = planJoin(['scan'], hint).ms;
  assert.equal(planJoin(['scan', 'channel-bssid'], hint).ms, scanOnly - JOIN_PARTS.fullScanMs + JOIN_PARTS.fastScanMs);
  assert.equal(planJoin(['scan', 'cached-ip'], hint).ms, scanOnly - JOIN_PARTS.dhcpMs);
  assert.deepEqual(planJoin(['scan', 'channel-bssid', 'cached-ip'], hint), { scan: 'channel-bssid', address: 'cached', ms: ENERGY_PROFILES.esp32.joinHintMs });
});

test('a hint that no longer fits the access point (or has no address) earns nothing', () => {
  const all = ['scan', 'channel-bssid', 'cached-ip'] as const;
  assert.equal(planJoin(all, { ...hint, channel: 11 }).scan, 'full');
  assert.equal(planJoin(all, { ...hint, bssid: '02:00:5e:10:00:99' }).address, 'dhcp');
  assert.equal(planJoin(all, { channel: hint.channel, bssid: hint.bssid }).address, 'dhcp');
});

test('the simulator joins as its declared capabilities allow', () => {
  const plan = planJoin(CAPABILITIES.wifiJoin, hint);
  assert.equal(plan.scan === 'channel-bssid', CAPABILITIES.wifiJoin.includes('channel-bssid'));
  assert.equal(plan.address === 'cached', CAPABILITIES.wifiJoin.includes('cached-ip'));
});
