import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Op, message } from '../../../hal/sim/wire';
import { DeviceHost } from '../../device/host';
import { joinTables, ok } from '../../device/bridge';
import { Scheduler } from '../../clock/scheduler';
import { SeededRandom } from '../../device/random';
import { SimFlash } from '../../flash/flash';
import { ENERGY_PROFILES } from '../../../firmware/power/policy';

function host(): DeviceHost {
  return new DeviceHost({
    index: 0,
    scheduler: new Scheduler(),
    startEngine: () => Promise.reject(new Error('no engine in this test')),
    config: {},
    random: new SeededRandom(1),
    flash: new SimFlash({ byteLength: 8192, blockSize: 4096 }),
    wifi: { joinTimeoutMs: 3000 },
    credentials: {},
    resolve: () => undefined,
    epochMs: 0,
    energy: ENERGY_PROFILES.esp32,
    autoLightSleep: true,
    record: () => {},
    openSecureSocket: () => { throw new Error('no network in this test'); },
  });
}

test('every call the firmware can make over the bridge has exactly one handler on the host', () => {
  const calls = Object.values(Op).filter((op) => op < 0x80).sort((a, b) => a - b);
  assert.deepEqual(host().ops.sort((a, b) => a - b), calls);
});

test('two parts claiming one call is a simulator bug caught when the device is built', () => {
  assert.throws(() => joinTables({ [Op.Now]: ok }, { [Op.Now]: ok }), /bridge: Now is claimed by two parts/);
});

test('a call nobody owns is refused with its op code', () => {
  assert.throws(() => host().handle(message(0x7f, 0, 0).bytes), /bridge: unknown call 0x7f/);
});
