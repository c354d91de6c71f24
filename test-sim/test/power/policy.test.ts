/** The firmware's power policy (firmware/power/policy.ts): always connected or duty-cycled, and where the two break even. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ENERGY_PROFILES, choosePowerMode, type PowerInputs } from '../../../firmware/power/policy';

const INPUTS: PowerInputs = { uploadIntervalMs: 15 * 60_000, sampleIntervalMs: 60_000, payloadBytes: 530, keepAliveS: 1200 };

test('at the break-even upload interval both modes draw the same; duty-cycled draws less above it, always connected below', () => {
  for (const profile of Object.values(ENERGY_PROFILES)) {
    const { breakEvenMs } = choosePowerMode(profile, INPUTS);
    assert.ok(Number.isFinite(breakEvenMs) && breakEvenMs > 1000, `${profile.name}: break-even ${breakEvenMs}`);
    // Equal to within the break-even's rounding to whole milliseconds.
    const at = choosePowerMode(profile, { ...INPUTS, uploadIntervalMs: breakEvenMs });
    assert.ok(Math.abs(at.alwaysMa - at.dutyMa) < 1e-4 * at.alwaysMa, `${profile.name}: ${at.alwaysMa} vs ${at.dutyMa} mA at ${breakEvenMs} ms`);
    const above = choosePowerMode(profile, { ...INPUTS, uploadIntervalMs: breakEvenMs * 1.01 });
    const below = choosePowerMode(profile, { ...INPUTS, uploadIntervalMs: breakEvenMs * 0.99 });
    assert.equal(above.mode, 'duty');
    assert.ok(above.dutyMa < above.alwaysMa);
    assert.equal(below.mode, 'always');
    assert.ok(below.alwaysMa < below.dutyMa);
    // The break-even depends on the chip and the other inputs, not on the upload interval asked about.
    assert.equal(above.breakEvenMs, breakEvenMs);
  }
});

test('the mode is the cheaper of the two averages at every upload interval, on the break-even\'s side', () => {
  const profile = ENERGY_PROFILES.esp32;
  const { breakEvenMs } = choosePowerMode(profile, INPUTS);
  for (const uploadIntervalMs of [10_000, 60_000, 5 * 60_000, 15 * 60_000, 3_600_000, 86_400_000]) {
    const choice = choosePowerMode(profile, { ...INPUTS, uploadIntervalMs });
    assert.equal(choice.mode, choice.dutyMa < choice.alwaysMa ? 'duty' : 'always', `${uploadIntervalMs} ms`);
    assert.equal(choice.mode, uploadIntervalMs > breakEvenMs ? 'duty' : 'always', `${uploadIntervalMs} ms against ${breakEvenMs} ms`);
  }
});

test('when a boot per sample alone costs more than staying connected, duty-cycling never wins: no break-even', () => {
  const profile = ENERGY_PROFILES.esp32;
  // 270 ms at 50 mA every second is 13.5 mA, more than connected light sleep (2.33 mA) plus pings.
  const inputs = { ...INPUTS, sampleIntervalMs: 1000 };
  assert.equal(choosePowerMode(profile, inputs).breakEvenMs, Infinity);
  for (const uploadIntervalMs of [1000, 3_600_000, 7 * 86_400_000]) assert.equal(choosePowerMode(profile, { ...inputs, uploadIntervalMs }).mode, 'always');
});
