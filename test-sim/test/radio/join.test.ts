/**
 * The simulator's Wi-Fi join takes what the platform's declared capabilities
 * allow, at the meter's costs: the join the host times is the join it charges.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ACCESS_POINT, hintFits } from '../../radio/wifi';
import { EnergyMeter } from '../../energy/meter';
import { chipCosts, MODDABLE_PLATFORM } from '../../energy/costs';
import { ENERGY_PROFILES } from '../../../firmware/power/policy';
import type { PlatformCapabilities } from '../../../hal/types';

function meter(wifiJoin: PlatformCapabilities['wifiJoin']): EnergyMeter {
  const platform = { ...MODDABLE_PLATFORM, capabilities: { ...MODDABLE_PLATFORM.capabilities, wifiJoin } };
  return new EnergyMeter(ENERGY_PROFILES.esp32, () => 0, true, false, { platform });
}
const costs = chipCosts('esp32');

test('a platform that only scans gets a full scan and DHCP on every join, hint or not: the cited cold join', () => {
  assert.deepEqual(meter(['scan']).joinPlan(true), { kind: 'scan', dhcp: true, ms: ENERGY_PROFILES.esp32.joinColdMs });
  assert.deepEqual(meter(['scan']).joinPlan(false), meter(['scan']).joinPlan(true));
});

test('channel-bssid shortens the scan only; cached-ip then skips DHCP too: the cited hinted join', () => {
  assert.deepEqual(meter(['scan', 'channel-bssid']).joinPlan(true), { kind: 'channel-bssid', dhcp: true, ms: costs.joinMs['channel-bssid'] + costs.dhcpMs });
  assert.deepEqual(meter(['scan', 'channel-bssid', 'cached-ip']).joinPlan(true), { kind: 'channel-bssid', dhcp: false, ms: ENERGY_PROFILES.esp32.joinHintMs });
  assert.deepEqual(meter(['scan', 'channel-bssid', 'cached-ip']).joinPlan(false), { kind: 'scan', dhcp: true, ms: ENERGY_PROFILES.esp32.joinColdMs });
});

test('a hint counts only while it names the access point', () => {
  assert.equal(hintFits({ ...ACCESS_POINT }), true);
  assert.equal(hintFits({ ...ACCESS_POINT, channel: 11 }), false);
  assert.equal(hintFits({ ...ACCESS_POINT, bssid: '02:00:5e:10:00:99' }), false);
  assert.equal(hintFits(null), false);
});
