/**
 * A simulated device's flash with a full telemetry backlog: the firmware's own
 * queue (firmware/telemetry/queue.ts) filled with samples until it is full,
 * written as the 64 KB `storage` partition file the Moddable simulator's HAL
 * reads (hal/moddable/storage-sim.ts: `<deviceDir>/flash-storage.bin`). The
 * next mcsim boot then uploads the whole backlog in one wake, the worst case
 * for memory (tools/moddable/memory.ts, the mcsim tests).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRamFlash } from '../../hal/moddable/flash-ram';
import { TelemetryQueue } from '../../firmware/telemetry/queue';
import { encodeSample } from '../../firmware/telemetry/record';

const REGION_BYTES = 16 * 4096;
const BLOCK_BYTES = 4096;
/** Samples of room left for the wake's own (one per boot). */
const HEADROOM = 8;

/** The queue over a fresh flash with `count` synced samples, one a minute ending at `endMs`. */
function filled(count: number, endMs: number): { flash: ReturnType<typeof createRamFlash>; queue: TelemetryQueue } {
  const flash = createRamFlash(REGION_BYTES, BLOCK_BYTES);
  const queue = TelemetryQueue.open(flash);
  for (let i = 0; i < count; i++) {
    const result = queue.append(encodeSample({ t: endMs - 60_000 * (count - i), v: 20 + (i % 50) / 10 }));
    if ('kind' in result) throw new Error(`backlog: append ${i} failed: ${result.message}`);
  }
  return { flash, queue };
}

/**
 * Fills the queue to `HEADROOM` samples short of the first one it would drop
 * (so the samples taken during the measured wake itself drop nothing) and
 * writes the partition file; returns how many samples it holds.
 */
export function writeBacklog(deviceDir: string, endMs: number, partition = 'storage'): number {
  let count = 0;
  {
    // Count how many fit: the first append that makes the queue drop is one too many.
    const flash = createRamFlash(REGION_BYTES, BLOCK_BYTES);
    const queue = TelemetryQueue.open(flash);
    while (queue.stats.dropped === 0 && count < 100_000) {
      queue.append(encodeSample({ t: endMs, v: 0 }));
      if (queue.stats.dropped === 0) count++;
    }
  }
  const { flash, queue } = filled(count - HEADROOM, endMs);
  mkdirSync(deviceDir, { recursive: true, mode: 0o700 });
  writeFileSync(join(deviceDir, `flash-${partition}.bin`), flash.read(0, REGION_BYTES));
  return queue.stats.records;
}
