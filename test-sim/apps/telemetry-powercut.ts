/**
 * Device-side power-cut harness for the durable queue, run inside XS by
 * test-sim/test/telemetry/powercut-xs.test.ts. The host arms a torn write on
 * the simulated flash; the DeviceHost turns the PowerCut into a reboot, as on
 * a device.
 *
 * Boot 1 (the last flash block is erased): write a marker there, then run the
 * workload on the queue region until the power fails in write `k`.
 * Boot 2 (marker present): replay the workload on a RAM flash to learn the
 * states it passes through, then check the recovered queue (checkRecovery:
 * it equals a state the workload passed through, reopens the same, and runs
 * the rest of the workload correctly).
 *
 * Config: `{ seed, ops, maxPayload, consumePercent, reopenPercent, blocks, k, keep, continueOps }`.
 * `inspect()` returns a `PowerCutReport`.
 */
import type { AppHandle, Flash, Hal } from '../../hal/types';
import { MemFlash, checkRecovery, makeWorkload, opOfWrite, runWorkload, type RunOptions } from './telemetry-workload';

export interface PowerCutReport {
  phase: 'workload' | 'no-cut' | 'verified' | 'error';
  k: number;
  keep: number;
  /** Length of write k in the clean replay. */
  length: number;
  /** Writes of the whole workload in the clean replay. */
  writes: number;
  matched: string;
  failures: string[];
  digest: number;
  records: number;
}

const MARKER = Uint8Array.of(0x50, 0x43, 0x55, 0x54); // "PCUT"

function num(config: Record<string, unknown>, key: string, fallback: number): number {
  const value = config[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new RangeError(`config.${key} must be a non-negative integer`);
  return value;
}

export function telemetryPowerCut(hal: Hal, raw: unknown): AppHandle {
  const config = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const shape = {
    ops: num(config, 'ops', 120),
    maxPayload: num(config, 'maxPayload', 1200),
    consumePercent: num(config, 'consumePercent', 10),
    reopenPercent: num(config, 'reopenPercent', 5),
  };
  const ops = makeWorkload(num(config, 'seed', 1), shape);
  const region = { firstBlock: 0, blockCount: num(config, 'blocks', 3) };
  const report: PowerCutReport = {
    phase: 'workload', k: num(config, 'k', 1), keep: num(config, 'keep', 0), length: 0, writes: 0, matched: 'none', failures: [], digest: 0, records: 0,
  };
  const flash = hal.flash;
  let writes = 0;
  const counted: Flash = {
    get byteLength() { return flash.byteLength; },
    get blockSize() { return flash.blockSize; },
    read: (offset, length) => flash.read(offset, length),
    write: (offset, bytes) => {
      writes++;
      flash.write(offset, bytes);
    },
    erase: (block) => flash.erase(block),
  };
  const options: RunOptions = { region, writeCount: () => writes };
  const markerAt = flash.byteLength - flash.blockSize;
  const continueOps = num(config, 'continueOps', 30);

  try {
    if (flash.read(markerAt, MARKER.length).every((b) => b === 0xff)) {
      flash.write(markerAt, MARKER);
      hal.log.event('powercut.workload', { k: report.k, keep: report.keep });
      const run = runWorkload(counted, ops, { ...options, light: { imagesAt: [] } });
      report.phase = 'no-cut';
      report.failures = run.failures;
    } else {
      // Replay on RAM flash: once for the write count of each operation, once
      // for the images around the operation that holds write k.
      const pass = new MemFlash(flash.byteLength, flash.blockSize);
      const writesOf = runWorkload(pass, ops, { region, writeCount: () => pass.writes, light: { imagesAt: [] } }).writes;
      const m = opOfWrite(writesOf, report.k);
      const mem = new MemFlash(flash.byteLength, flash.blockSize);
      const clean = runWorkload(mem, ops, { region, writeCount: () => mem.writes, light: { imagesAt: [m, m + 1] } });
      report.writes = clean.writes[ops.length];
      report.length = mem.sizes[report.k - 1] ?? 0;
      const result = checkRecovery(counted, ops, clean, report.k, report.keep, report.length, options, continueOps);
      report.phase = 'verified';
      report.matched = result.matched;
      report.failures = clean.failures.concat(result.failures);
      report.digest = result.digest;
      report.records = result.records;
      hal.log.event('powercut.verified', { matched: result.matched, failures: report.failures.length });
    }
  } catch (error) {
    // The power cut itself must reach the host (under XS it never gets here: the host stops the machine).
    if (error instanceof Error && error.name === 'PowerCut') throw error;
    report.phase = 'error';
    report.failures.push(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  }
  return { inspect: () => report };
}
