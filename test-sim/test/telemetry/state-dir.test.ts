/**
 * `--state DIR`: a simulator killed with SIGKILL mid-run is the device losing
 * power; started again with the same DIR, the device carries on from its flash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runSimulation } from '../../sim';
import { parseScenario } from '../../scenarios/scenario';
import { TelemetryQueue } from '../../../firmware/telemetry/queue';
import { SimFlash } from '../../flash/flash';

/** Samples the queue on a copy of the flash file holds (0 while it is missing or too short). */
function samplesOnFlash(file: string): number {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    return 0;
  }
  if (bytes.length !== 64 * 1024) return 0;
  const copy = new SimFlash({ byteLength: 64 * 1024, blockSize: 4096 });
  copy.bytes.set(bytes);
  return TelemetryQueue.open(copy).nextId - 1;
}

test('kill -9 at a random moment, start again with the same --state: sequence numbers carry on, queued samples are sent', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldlink-state-'));
  const child = spawn(process.execPath, ['tools/run.mjs', 'test-sim/cli/main.ts', '--engine', 'node', '--duration', '7d', '--state', dir], { stdio: 'ignore' });
  // Pull the plug once the device has put a few samples on its flash (polled, however slow the machine is).
  const file = join(dir, 'flash-0.bin');
  for (;;) {
    await sleep(50);
    if (samplesOnFlash(file) > 10) break;
    assert.equal(child.exitCode, null, 'the simulator is still running');
  }
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));

  const flash = new SimFlash({ byteLength: 64 * 1024, blockSize: 4096, path: join(dir, 'flash-0.bin') });
  const before = TelemetryQueue.open(flash);
  const lastSeq = before.nextId - 1;
  const queued = before.stats.records;
  flash.close();
  assert.ok(lastSeq > 10, `the first run got ${lastSeq} samples onto flash`);

  const { events, summary } = await runSimulation({
    engine: 'node', seed: 3, stateDir: dir,
    scenario: parseScenario({ duration: '1h', config: { powerMode: 'always' } }, 'resume'),
    beforeTeardown: async (_d, world) => {
      const received = new Set(world.deliveries!.seqs.get('sim-thing-1'));
      for (let seq = lastSeq - queued + 1; seq <= lastSeq; seq++) assert.ok(received.has(seq), `sample ${seq}, queued when the power went, was delivered`);
    },
  });
  const boot = events.find((e) => e.event === 'app.boot')!;
  assert.equal(boot.fields?.nextSeq, lastSeq + 1, 'the sequence continues where the flash left it');
  assert.equal(summary.samples_lost, 0);
  assert.equal(summary.crashes, 0);
});

test('--state naming a file is one clear error', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'fieldlink-state-')), 'not-a-dir');
  writeFileSync(file, 'x');
  return assert.rejects(
    runSimulation({ engine: 'node', seed: 1, stateDir: file, scenario: parseScenario({ duration: '1m' }, 'x') }),
    /--state .* is a file; give a directory/,
  );
});
