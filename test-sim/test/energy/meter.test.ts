/**
 * The energy meter's accounting: a boot is charged at boot current however the
 * host ordered its calls, the parts add up to the total under every band, and
 * each operation is priced by what the platform declares it can do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CATEGORIES, EnergyMeter } from '../../energy/meter';
import { chipCosts, handshakeCost, joinCost, MODDABLE_PLATFORM, type Platform } from '../../energy/costs';
import { ENERGY_PROFILES } from '../../../firmware/power/policy';
import type { PlatformCapabilities } from '../../../hal/types';

const ESP32 = ENERGY_PROFILES.esp32;

function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => { t += ms; } };
}

function platform(overrides: Partial<PlatformCapabilities>, runtime: Platform['runtime'] = 'xs'): Platform {
  return { name: 'test', runtime, capabilities: { ...MODDABLE_PLATFORM.capabilities, ...overrides } };
}

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

test('a boot without automatic light sleep is charged at boot current, not the difference to the awake baseline', () => {
  const c = clock();
  const meter = new EnergyMeter(ESP32, c.now, false, false, { platform: platform({}, 'native') });
  meter.setCpu('deep-sleep');
  c.advance(10_000 + ESP32.bootMs); // the host sleeps the boot's time too
  meter.setCpu('awake'); // the order the host uses: awake first, then boot
  meter.boot(ESP32.bootMs);
  const r = meter.read();
  const costs = chipCosts('esp32');
  close(r.byCategoryMj.boot, (costs.bootToAppMs * costs.bootMa / 1000) * costs.volts, 'boot');
  close(r.byCategoryMj.sleep, (10_000 * costs.currents.deepSleepMa / 1000) * costs.volts, 'deep sleep excludes the boot');
  assert.ok(costs.bootMa > costs.currents.cpuIdleMa + 20, 'the old bug charged bootMa - cpuIdleMa');
});

test('an XS platform pays the machine start on top of the ESP-IDF boot; a native app does not', () => {
  const run = (p: Platform) => {
    const c = clock();
    const meter = new EnergyMeter(ESP32, c.now, true, false, { platform: p });
    meter.setCpu('deep-sleep');
    c.advance(1000);
    meter.setCpu('awake');
    meter.boot(ESP32.bootMs);
    return meter.read().byCategoryMj['xs-start'];
  };
  assert.ok(run(MODDABLE_PLATFORM) > 0);
  assert.equal(run(platform({}, 'native')), 0);
});

test('energy by category adds up to the total, under every band', () => {
  const c = clock();
  const meter = new EnergyMeter(ESP32, c.now, true, false);
  for (let wake = 0; wake < 20; wake++) {
    meter.setCpu('deep-sleep');
    c.advance(59_000);
    meter.setCpu('awake');
    meter.boot();
    meter.event();
    meter.flashWrite(40);
    if (wake % 5 === 0) meter.flashErase();
    if (wake % 4 === 0) {
      meter.setRadio('joining');
      c.advance(900);
      meter.setRadio('associated');
      meter.dns();
      meter.handshake(wake % 8 === 0);
      c.advance(ESP32.tlsHandshakeMs);
      meter.bytes(300, true);
      meter.bytes(4, false);
      meter.compute(50_000);
      meter.setRadio('off');
    }
    c.advance(50);
  }
  for (const band of ['typical', 'pessimistic', 'optimistic'] as const) {
    const r = meter.readBand(band);
    const parts = CATEGORIES.reduce((t, k) => t + r.byCategoryMj[k], 0);
    close(parts, r.energyMj, `${band}: parts`);
    for (const k of CATEGORIES) assert.ok(r.byCategoryMj[k] >= 0, `${band}: ${k} = ${r.byCategoryMj[k]}`);
  }
  const [opt, typ, pess] = (['optimistic', 'typical', 'pessimistic'] as const).map((b) => meter.readBand(b).energyMj);
  assert.ok(opt < typ && typ < pess, `bands in order: ${opt} < ${typ} < ${pess}`);
  assert.equal(meter.read().ops.joins, 5);
  assert.equal(meter.read().ops.handshakesResumed, 3);
});

test('the running charge used for traces equals the priced ledger', () => {
  const c = clock();
  const meter = new EnergyMeter(ESP32, c.now, false, true);
  meter.setCpu('deep-sleep');
  c.advance(5000);
  meter.setCpu('awake');
  meter.boot();
  meter.setRadio('joining');
  c.advance(900);
  meter.setRadio('associated');
  meter.handshake(false);
  c.advance(ESP32.tlsHandshakeMs);
  meter.setRadio('off');
  const r = meter.read();
  close(meter.trace[meter.trace.length - 1].cumulativeMj, r.energyMj, 'trace end');
});

test('a hinted join is charged as a scan when the platform cannot do a hinted join', () => {
  const costs = chipCosts('esp32');
  const charge = (p: Platform) => {
    const c = clock();
    const meter = new EnergyMeter(ESP32, c.now, true, false, { platform: p });
    meter.setRadio('joining', true);
    c.advance(200); // the simulator's hinted join time
    meter.setRadio('associated');
    return meter.read().byCategoryMj['wifi-join'];
  };
  const mj = (maMs: number) => (maMs / 1000) * costs.volts;
  const scanOnly = platform({ wifiJoin: ['scan'] });
  close(charge(scanOnly), mj(joinCost(costs, scanOnly, 'scan').maMs), 'scan-only platform');
  const fast = platform({ wifiJoin: ['scan', 'channel-bssid', 'cached-ip'] });
  close(charge(fast), mj(joinCost(costs, fast, 'channel-bssid').maMs), 'hinted platform');
  const hintedDhcp = platform({ wifiJoin: ['scan', 'channel-bssid'] });
  close(charge(hintedDhcp), mj(joinCost(costs, hintedDhcp, 'channel-bssid').maMs), 'hinted join with DHCP');
  assert.ok(charge(fast) < charge(hintedDhcp) && charge(hintedDhcp) < charge(scanOnly));
});

test('a handshake is priced from the declared TLS implementation and key type: round trips listening, client CPU computing', () => {
  const costs = chipCosts('esp32');
  for (const implementation of ['moddable-js', 'mbedtls'] as const) {
    const p = platform({ tls: { ...MODDABLE_PLATFORM.capabilities.tls, implementation } });
    const table = costs.tlsComputeMs[implementation]['rsa-2048'];
    const full = handshakeCost(costs, p, false);
    const resumed = handshakeCost(costs, p, true);
    close(full.maMs, 3 * costs.rttMs * costs.currents.rxMa + table.full * costs.currents.cpuMa, `${implementation} full`);
    close(resumed.maMs, 2 * costs.rttMs * costs.currents.rxMa + table.resumed * costs.currents.cpuMa, `${implementation} resumed`);
    assert.ok(resumed.maMs < full.maMs / 5, `${implementation}: a resumed handshake is a fraction of a full one`);
  }
});
