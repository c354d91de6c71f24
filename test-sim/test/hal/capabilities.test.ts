import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CAPABILITIES as MODDABLE } from '../../../hal/moddable/capabilities';
import { CAPABILITIES as SIM } from '../../../hal/sim/capabilities';

test('the simulator HAL declares exactly what hal/moddable does on the chip', () => {
  assert.deepEqual(SIM, MODDABLE);
});

test('capability lists are frozen data', () => {
  for (const caps of [SIM, MODDABLE]) {
    assert.ok(Object.isFrozen(caps) && Object.isFrozen(caps.tls) && Object.isFrozen(caps.wifiJoin));
    assert.ok(caps.wifiJoin.includes('scan'), 'a full scan is always possible');
    assert.ok(caps.retainedBytes > 0 && caps.maxDeepSleepMs > 0);
  }
});
