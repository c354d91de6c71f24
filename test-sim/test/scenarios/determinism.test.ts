/**
 * The same seed gives the same run: for every built-in scenario, the event log
 * (with its virtual timestamps) of two runs has the same SHA-256, the second
 * run made while a CPU-burning process competes for the machine. Long
 * scenarios run their first 3 hours; the fleet scenario runs 20 of its devices.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { runSimulation } from '../../sim';
import { loadScenario, SCENARIO_DIR } from '../../scenarios/scenario';
import { EVENTS } from '../../../hal/events';

const SCENARIOS = readdirSync(SCENARIO_DIR).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, '')).sort();
const CAP_MS = 3 * 3_600_000;

/** Every event name any run recorded: each must be in hal/events.ts (checked at the end). */
const recorded = new Set<string>();

async function digest(name: string): Promise<string> {
  const scenario = loadScenario(name);
  const fleet = scenario.devices > 1 && name.startsWith('fleet');
  if (fleet) scenario.devices = 20;
  const { summary, events } = await runSimulation({
    engine: 'node', seed: 1, scenario, durationMs: Math.min(scenario.durationMs, CAP_MS), world: fleet ? 'model' : 'local',
  });
  for (const e of events) recorded.add(e.event);
  return summary.events_sha256;
}

/** A busy-looping process until stopped. */
function burnCpu(): () => void {
  const burner: ChildProcess = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
  return () => { burner.kill('SIGKILL'); };
}

test('every built-in scenario is a list of scenarios this test knows to exist', () => {
  assert.ok(SCENARIOS.includes('default') && SCENARIOS.includes('broker-outage') && SCENARIOS.length >= 10, SCENARIOS.join(', '));
});

for (const name of SCENARIOS) {
  test(`${name}: the same seed gives the same event log, also with the CPU under load`, async () => {
    const idle = await digest(name);
    const stop = burnCpu();
    let loaded: string;
    try {
      loaded = await digest(name);
    } finally {
      stop();
    }
    assert.match(idle, /^[0-9a-f]{64}$/);
    assert.equal(loaded, idle);
  });
}

test('every event name the runs recorded (firmware, HAL and simulator) is in hal/events.ts', () => {
  const names = new Set<string>(Object.values(EVENTS));
  assert.ok(recorded.size >= 15, `${recorded.size} names recorded`);
  assert.deepEqual([...recorded].filter((e) => !names.has(e)).sort(), []);
});
