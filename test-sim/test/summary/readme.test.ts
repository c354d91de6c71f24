/**
 * The README's summary table is the declarations: same fields, same order,
 * same meaning and computation. Adding a field is one declaration in
 * test-sim/summary/fields.ts and its README row.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../engine/bundle';
import { fieldTable, summaryLines, SUMMARY_FIELDS, type SimSummary } from '../../summary/fields';

function readmeRows(): { key: string; meaning: string; how: string }[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('### Summary fields');
  const end = readme.slice(start + 1).search(/\n#{2,3} /);
  const section = readme.slice(start, end < 0 ? undefined : start + 1 + end);
  const rows = section.split('\n').filter((line) => /^\| `[a-z0-9_]+` \|/.test(line));
  return rows.map((line) => {
    const [key, meaning, how] = line.slice(2, -2).split(' | ');
    return { key: key.replace(/`/g, ''), meaning, how };
  });
}

test('the README lists every summary field, in order, with the meaning and computation declared for it', () => {
  assert.deepEqual(readmeRows(), fieldTable());
});

test('the CLI text is made from the fields: each line reads the value it shows', () => {
  const s = {
    simulated_ms: 3_600_000, wall_ms: 2000, engine: 'xs', seed: 7, scenario: 'x', devices: 1, events: 3, boots: 2, crashes: 0,
    tls_handshakes: 4, tls_resumed: 3, tls_failures: { tcp: 1 }, bytes_tx: 10, bytes_rx: 20, power_mode: 'duty', energy_mj: 5.5,
    avg_ma: 0.5, radio_on_ms: 9000, samples_generated: 60, samples_delivered: null, samples_pending: 14, samples_lost: null,
    duplicates: null, samples_dropped: 0, flash_writes: 65, configuration_faults: ['bad CA (check the CA)'],
  } as unknown as SimSummary;
  assert.deepEqual(summaryLines(s), [
    'scenario x: 1h simulated in 2.0 s (1800x) on xs, seed 7',
    '1 device(s), 2 boot(s), 0 crash(es), 3 events',
    'power: duty; 0.5 mA on average (5.5 mJ), radio on 9s; a 2500 mAh cell lasts 208 days',
    'TLS: 4 handshake(s) (1 full, 3 resumed), failures {"tcp":1}; 10 B sent, 20 B received',
    'telemetry: 60 samples, n/a delivered, 14 still queued, n/a lost, n/a duplicates, 0 dropped (queue full); 65 flash writes',
    'configuration fault: bad CA (check the CA)',
  ]);
  assert.ok(Object.keys(SUMMARY_FIELDS).includes('events_sha256'));
});
