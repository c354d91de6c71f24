import { test } from 'node:test';
import assert from 'node:assert/strict';
import { elapsed, after, reached } from '../../../firmware/util/time';

test('elapsed is correct across the uint32 wrap', () => {
  assert.equal(elapsed(5, 0xfffffffb), 10);
  assert.equal(elapsed(1000, 400), 600);
});

test('after wraps and reached compares across the wrap', () => {
  const deadline = after(0xfffffff0, 0x20);
  assert.equal(deadline, 0x10);
  assert.equal(reached(0xfffffff8, deadline), false);
  assert.equal(reached(0x10, deadline), true);
  assert.equal(reached(0x11, deadline), true);
});
