/**
 * The durable queue's test workload and its checks, written as device code so
 * the same functions run under Node (test-sim/test/telemetry) and inside XS
 * (test-sim/apps/telemetry-powercut.ts).
 *
 * - `makeWorkload(seed, shape)`: a scripted list of appends, consumes (some
 *   acknowledging the dropped count) and reopens, sized to overflow the region.
 * - `runWorkload(flash, ops, ...)`: runs it against a model FIFO and checks,
 *   after every operation, that the queue holds exactly the records the model
 *   holds except the oldest ones it dropped, and that it counted every drop.
 *   Returns the queue's image (records, ids, counters) after each operation
 *   and the flash write count around each.
 * - `checkRecovery(...)`: after a power cut inside operation m, the recovered
 *   queue must equal the image before m, after m, or (an append that started a
 *   block) after m without its record; reopening again must give the same
 *   image; and the rest of the workload must run on it with every check.
 */
import type { Flash } from '../../hal/types';
import { TelemetryQueue, QueueError, type QueueOptions } from '../../firmware/telemetry/queue';

/** The simulator's seeded generator, the same in XS and Node. */
import { SeededRandom as Rng } from '../device/random';

export { Rng };

/** NOR flash in RAM (erase to 0xFF, writes AND), counting writes; for dry runs on the device. */
export class MemFlash implements Flash {
  readonly bytes: Uint8Array;
  writes = 0;
  erases = 0;
  /** Length of every write, in order. */
  readonly sizes: number[] = [];
  constructor(readonly byteLength: number, readonly blockSize: number) {
    this.bytes = new Uint8Array(byteLength).fill(0xff);
  }
  read(offset: number, byteLength: number): Uint8Array {
    if (offset < 0 || offset + byteLength > this.byteLength) throw new RangeError('read outside flash');
    return this.bytes.slice(offset, offset + byteLength);
  }
  write(offset: number, bytes: Uint8Array): void {
    if (offset < 0 || offset + bytes.length > this.byteLength) throw new RangeError('write outside flash');
    this.writes++;
    this.sizes.push(bytes.length);
    for (let i = 0; i < bytes.length; i++) this.bytes[offset + i] &= bytes[i];
  }
  erase(block: number): void {
    this.erases++;
    this.bytes.fill(0xff, block * this.blockSize, (block + 1) * this.blockSize);
  }
}

export type Op =
  | { kind: 'append'; payload: Uint8Array }
  /** Consume up to id `nextId - 1 - lag` (all but the newest `lag`); pass the dropped total when `ackDrops`. */
  | { kind: 'consume'; lag: number; ackDrops: boolean }
  | { kind: 'reopen' };

export interface WorkloadShape {
  ops: number;
  /** Largest payload; lengths are uniform in 0..maxPayload. */
  maxPayload: number;
  /** Percent of operations that consume, and that reopen. */
  consumePercent: number;
  reopenPercent: number;
}

export function makeWorkload(seed: number, shape: WorkloadShape): Op[] {
  const rng = new Rng(seed);
  const ops: Op[] = [];
  for (let i = 0; i < shape.ops; i++) {
    const roll = rng.below(100);
    if (roll < shape.consumePercent) {
      ops.push({ kind: 'consume', lag: rng.below(8), ackDrops: rng.chance(50) });
    } else if (roll < shape.consumePercent + shape.reopenPercent) {
      ops.push({ kind: 'reopen' });
    } else {
      const payload = new Uint8Array(rng.below(shape.maxPayload + 1));
      // Some payloads end in 0xFF bytes: a write torn there leaves a complete record.
      const fill = rng.below(4);
      if (fill === 0) payload.fill(0xff);
      if (fill > 1) {
        const view = new DataView(payload.buffer);
        let j = 0;
        for (; j + 4 <= payload.length; j += 4) view.setUint32(j, rng.next32(), true);
        for (; j < payload.length; j++) payload[j] = rng.below(256);
      }
      ops.push({ kind: 'append', payload });
    }
  }
  return ops;
}

/** What a queue holds, as the firmware sees it. */
export interface QueueImage {
  nextId: number;
  floor: number;
  droppedTotal: number;
  dropped: number;
  ids: number[];
  payloads: Uint8Array[];
}

export function imageOf(queue: TelemetryQueue, failures?: string[]): QueueImage {
  const ids: number[] = [];
  const payloads: Uint8Array[] = [];
  let after = 0;
  for (;;) {
    const batch = queue.peek({ after, maxRecords: 50, maxBytes: 1 << 20 });
    if (batch.length === 0) break;
    for (const record of batch) {
      if (record.id <= after) failures?.push(`peek returned id ${record.id} after ${after}`);
      ids.push(record.id);
      payloads.push(record.payload);
      after = record.id;
    }
  }
  const stats = queue.stats;
  if (failures && stats.records !== ids.length) failures.push(`stats.records ${stats.records} but ${ids.length} records peeked`);
  if (failures && ids.length && ids[ids.length - 1] >= queue.nextId) failures.push(`nextId ${queue.nextId} not above id ${ids[ids.length - 1]}`);
  return { nextId: queue.nextId, floor: queue.floor, droppedTotal: stats.droppedTotal, dropped: stats.dropped, ids, payloads };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Where two images differ, or undefined when they are equal. */
export function diffImages(a: QueueImage, b: QueueImage): string | undefined {
  for (const key of ['nextId', 'floor', 'droppedTotal', 'dropped'] as const) {
    if (a[key] !== b[key]) return `${key} ${a[key]} vs ${b[key]}`;
  }
  if (a.ids.length !== b.ids.length) return `${a.ids.length} records vs ${b.ids.length}`;
  for (let i = 0; i < a.ids.length; i++) {
    if (a.ids[i] !== b.ids[i]) return `record ${i}: id ${a.ids[i]} vs ${b.ids[i]}`;
    if (!equalBytes(a.payloads[i], b.payloads[i])) return `record ${a.ids[i]}: payloads differ`;
  }
  return undefined;
}

/** The image without its newest record (and that record's id unused). */
export function withoutLast(image: QueueImage): QueueImage {
  return { ...image, nextId: image.nextId - 1, ids: image.ids.slice(0, -1), payloads: image.payloads.slice(0, -1) };
}

export interface RunResult {
  queue: TelemetryQueue;
  /** images[i]: the queue before operation i (images[ops.length]: after the last). */
  images: QueueImage[];
  /** writes[i]: flash writes done before operation i, counted from the start of the run. */
  writes: number[];
  failures: string[];
  /** Records dropped on overflow during the run, as the model counted them. */
  dropped: number;
}

export interface RunOptions {
  region?: QueueOptions;
  /** Also open a second queue after every operation and compare (costs a scan each time). */
  reopenEach?: boolean;
  /** Only run the operations, without the model; take images only before the listed operations. */
  light?: { imagesAt: number[] };
  /** Counts flash writes (the flash's own counter). */
  writeCount(): number;
}

/**
 * Run `ops` from index `from` on `flash` and check each step against a model
 * that starts from the queue's own image. Exceptions from the flash (a power
 * cut) pass through; every other problem becomes a line in `failures`.
 */
export function runWorkload(flash: Flash, ops: Op[], options: RunOptions, from = 0, start?: TelemetryQueue): RunResult {
  const failures: string[] = [];
  const fail = (i: number, what: string) => {
    if (failures.length < 20) failures.push(`op ${i} (${ops[i]?.kind ?? 'end'}): ${what}`);
  };
  let queue = start ?? TelemetryQueue.open(flash, options.region);
  const light = options.light;
  const model = light ? undefined : imageOf(queue, failures);
  let modelDropped = 0;
  const images: QueueImage[] = [];
  const writes: number[] = [];
  const first = options.writeCount();
  for (let i = from; i < ops.length; i++) {
    if (!light || light.imagesAt.includes(i)) images[i] = imageOf(queue);
    writes[i] = options.writeCount() - first;
    const op = ops[i];
    if (op.kind === 'append') {
      const result = queue.append(op.payload);
      if (result instanceof QueueError) {
        fail(i, `append refused: ${result.message}`);
        continue;
      }
      if (!model) continue;
      if (result.id !== model.nextId) fail(i, `append gave id ${result.id}, expected ${model.nextId}`);
      model.ids.push(result.id);
      model.payloads.push(op.payload);
      model.nextId = result.id + 1;
    } else if (op.kind === 'consume') {
      const upto = Math.max(queue.floor, queue.nextId - 1 - op.lag);
      const droppedTotal = op.ackDrops ? queue.stats.droppedTotal : undefined;
      queue.consume(upto, droppedTotal);
      if (!model) continue;
      let n = 0;
      while (n < model.ids.length && model.ids[n] <= upto) n++;
      model.ids.splice(0, n);
      model.payloads.splice(0, n);
      model.floor = Math.max(model.floor, upto);
      if (droppedTotal !== undefined) model.dropped = model.droppedTotal - droppedTotal;
    } else {
      queue = TelemetryQueue.open(flash, options.region);
      if (!model) continue;
    }
    // Overflow: the queue may have dropped the oldest records; they must be a
    // prefix of the model's and counted exactly.
    const live = imageOf(queue, failures);
    let lost = 0;
    while (lost < model.ids.length && (live.ids.length === 0 || model.ids[lost] < live.ids[0])) lost++;
    if (lost > 0) {
      if (op.kind === 'reopen') fail(i, `reopen lost ${lost} records`);
      model.floor = Math.max(model.floor, model.ids[lost - 1]);
      model.ids.splice(0, lost);
      model.payloads.splice(0, lost);
      model.droppedTotal += lost;
      model.dropped += lost;
      modelDropped += lost;
    }
    const diff = diffImages(live, model);
    if (diff) fail(i, `queue differs from the model: ${diff}`);
    if (options.reopenEach) {
      const again = diffImages(imageOf(TelemetryQueue.open(flash, options.region)), live);
      if (again) fail(i, `reopen differs: ${again}`);
    }
    // Continue from the queue's own view so one failure does not cascade.
    Object.assign(model, live, { ids: live.ids.slice(), payloads: live.payloads.slice() });
  }
  if (!light || light.imagesAt.includes(ops.length)) images[ops.length] = imageOf(queue);
  writes[ops.length] = options.writeCount() - first;
  return { queue, images, writes, failures, dropped: modelDropped };
}

/** The operation that write number `k` (1-based, counted from the run's start) belongs to. */
export function opOfWrite(writes: number[], k: number): number {
  for (let i = 0; i + 1 < writes.length; i++) if (writes[i] < k && k <= writes[i + 1]) return i;
  return -1;
}

export interface RecoveryReport {
  failures: string[];
  /** Which image the recovered queue equals: 'before', 'after' or 'mid' (an append's new block without its record). */
  matched: string;
  /** FNV-1a over the recovered image, for comparing engines. */
  digest: number;
  records: number;
}

/**
 * Check the queue recovered after a power cut during write `k` of a run of
 * `ops` whose clean run gave `clean` (its images before and after the
 * operation holding write k are enough). `keep` and `length` describe the torn
 * write. Then run the rest of the workload on it (at most `continueOps`
 * operations), checked step by step.
 */
export function checkRecovery(
  flash: Flash, ops: Op[], clean: RunResult, k: number, keep: number, length: number, options: RunOptions, continueOps = Infinity,
): RecoveryReport {
  const failures: string[] = [];
  const m = opOfWrite(clean.writes, k);
  if (m < 0) return { failures: [`write ${k} is not in the run (${clean.writes[clean.writes.length - 1]} writes)`], matched: 'none', digest: 0, records: 0 };
  let queue: TelemetryQueue;
  try {
    queue = TelemetryQueue.open(flash, options.region);
  } catch (error) {
    return { failures: [`open threw: ${String(error)}`], matched: 'none', digest: 0, records: 0 };
  }
  const recovered = imageOf(queue, failures);
  for (let i = 1; i < recovered.ids.length; i++) {
    if (recovered.ids[i] <= recovered.ids[i - 1]) failures.push(`ids not rising at ${i}: ${recovered.ids[i - 1]}, ${recovered.ids[i]}`);
  }
  const before = clean.images[m];
  const after = clean.images[m + 1];
  const candidates: [string, QueueImage][] = [['before', before], ['after', after]];
  if (ops[m]?.kind === 'append' && after.ids.length > 0) candidates.push(['mid', withoutLast(after)]);
  let matched = 'none';
  for (const [name, image] of candidates) {
    if (matched === 'none' && !diffImages(recovered, image)) matched = name;
  }
  if (matched === 'none') {
    failures.push(`write ${k} (op ${m} ${ops[m]?.kind}, keep ${keep}/${length}): recovered queue matches no state: ` +
      `vs before ${diffImages(recovered, before)}; vs after ${diffImages(recovered, after)}`);
  }
  const lastWriteOfOp = clean.writes[m + 1] === k;
  const firstWriteOfOp = clean.writes[m] + 1 === k;
  if (keep >= length && lastWriteOfOp && matched !== 'after') failures.push(`write ${k} completed but the queue is not in the after state (${matched})`);
  if (keep === 0 && firstWriteOfOp && matched !== 'before') failures.push(`write ${k} wrote nothing but the queue is not in the before state (${matched})`);
  const again = diffImages(imageOf(TelemetryQueue.open(flash, options.region)), recovered);
  if (again) failures.push(`second reopen differs: ${again}`);
  // The device carries on: the rest of the workload, checked step by step.
  const rest = runWorkload(flash, ops.slice(0, Math.min(ops.length, m + 1 + continueOps)), options, m + 1, queue);
  for (const f of rest.failures) failures.push(`after recovery: ${f}`);
  const probe = rest.queue.append(Uint8Array.of(1, 2, 3));
  if (probe instanceof QueueError) failures.push(`append after recovery refused: ${probe.message}`);
  const final = imageOf(TelemetryQueue.open(flash, options.region), failures);
  if (!(probe instanceof QueueError) && final.ids[final.ids.length - 1] !== probe.id) failures.push('the probe append did not survive a reopen');
  return { failures, matched, digest: digestImage(recovered, digestImage(final, 0x811c9dc5)), records: recovered.ids.length };
}

export function digestImage(image: QueueImage, seed: number): number {
  let h = seed >>> 0;
  const mix = (n: number) => {
    for (let s = 0; s < 32; s += 8) h = Math.imul(h ^ ((n >>> s) & 0xff), 0x01000193) >>> 0;
  };
  mix(image.nextId);
  mix(image.floor);
  mix(image.droppedTotal);
  mix(image.dropped);
  for (let i = 0; i < image.ids.length; i++) {
    mix(image.ids[i]);
    for (const b of image.payloads[i]) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  }
  return h;
}
