/** hal/moddable/watchdog: the application watchdog's window follows firmware's latest pending timer. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { watchdogWindow } from '../../../hal/moddable/watchdog';

const GRACE = 120_000;

test('with nothing scheduled, the window is the grace period', () => {
  assert.equal(watchdogWindow(5_000, [], GRACE), GRACE);
});

test('the window reaches the grace period past the latest pending timer, not the first', () => {
  assert.equal(watchdogWindow(1_000, [61_000, 1_201_000, 31_000], GRACE), 1_200_000 + GRACE);
});

test('a timer already due does not shorten or lengthen it', () => {
  assert.equal(watchdogWindow(100_000, [90_000], GRACE), GRACE);
});

test('ticks that wrap past 2^32 are still ordered', () => {
  const now = 0xffff_f000;
  const due = (now + 60_000) >>> 0; // after the wrap
  assert.equal(watchdogWindow(now, [due], GRACE), 60_000 + GRACE);
});
