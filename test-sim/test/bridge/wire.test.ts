import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HEADER, Op, WIRE_VERSION, bodyJson, parse, withBody, withJson } from '../../../hal/sim/wire';

test('a message is version, op, little-endian id and body, in one exact ArrayBuffer', () => {
  const bytes = withBody(Op.TlsWrite, 0x01020304, new Uint8Array([9, 8, 7]));
  assert.deepEqual([...bytes], [WIRE_VERSION, Op.TlsWrite, 4, 3, 2, 1, 9, 8, 7]);
  assert.equal(bytes.buffer.byteLength, HEADER + 3);
  const m = parse(bytes);
  assert.equal(m.id, 0x01020304);
  assert.deepEqual([...m.body], [9, 8, 7]);
});

test('control messages carry JSON bodies', () => {
  const m = parse(withJson(Op.Log, 0, ['link.transition', { from: 'Boot', to: 'WifiJoin' }]));
  assert.deepEqual(bodyJson(m), ['link.transition', { from: 'Boot', to: 'WifiJoin' }]);
});

test('a message of another version is refused', () => {
  const bytes = withBody(Op.Now, 0, new Uint8Array(0));
  bytes[0] = 2;
  assert.throws(() => parse(bytes), /bad message \(version 2/);
});
