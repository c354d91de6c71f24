/**
 * Upload batches: one MQTT PUBLISH payload built from queued samples, bounded
 * in bytes, and the rule that says when a batch is due (full, or its oldest
 * sample has waited long enough).
 *
 * Payload schema (compact JSON, UTF-8, keys in this order, no spaces):
 *
 *   {"thing":"sim-thing-1","seq":[41,55],"samples":[[41,1767225600000,21.37],[42,null,21.4],...],
 *    "dropped":0,"fw":"0.1.0"}
 *
 *   thing    the AWS IoT thing name (the MQTT client id)
 *   seq      [first, last]: the sequence numbers this batch covers, inclusive.
 *            Every seq in the range is either in `samples` or was a record that
 *            did not decode as a sample (skipped, never retried). Ranges of
 *            successive batches do not overlap, except that QoS 1 redelivers a
 *            batch whose PUBACK was lost (dedupe on thing and seq).
 *   samples  [seq, t, value]: seq rises by one per sample for the life of the
 *            device's flash region; t is Unix epoch milliseconds, or null when
 *            the wall clock was not synced when the sample was taken; value is
 *            the sensor reading (null if it was not a finite number).
 *   dropped  samples the queue discarded on overflow (oldest first) that no
 *            acknowledged batch has reported yet; zero unless the queue
 *            overflowed. A batch in flight when its samples were discarded may
 *            still arrive, so `dropped` counts samples removed, not samples lost.
 *   fw       firmware version
 *
 * Size: at most `maxBytes` (default 4096, at most 131072, the AWS IoT Core
 * payload limit). A sample takes at most 54 bytes of JSON with its comma, a
 * synced one with two decimals typically 27 (`[1234,1767225600000,21.37],`).
 *
 * Topic: config `topic` (firmware/app/config.ts), AWS's telemetry pattern
 * `dt/<app>/<thing>/telemetry`; the MQTT client checks it against the broker
 * profile's limits before every PUBLISH.
 */
import { toUtf8 } from '../util/text';
import { decodeSample } from './record';
import type { TelemetryQueue } from './queue';

export const DEFAULT_BATCH_BYTES = 4096;
export const AWS_MAX_PAYLOAD = 128 * 1024;
/** Longest JSON of one sample: `[4294967295,281474976710655,-1.2345678901234567e-308]`. */
const MAX_SAMPLE_JSON = 53;
const MAX_U32 = 0xffffffff;
/** Typical JSON of one synced sample, for the "batch is full" estimate. */
const TYPICAL_SAMPLE_JSON = 30;

export interface BatchOptions {
  thing: string;
  /** Firmware version. */
  fw: string;
  /** Largest payload in bytes; default 4096, at most 131072. */
  maxBytes?: number;
}

/** Where the next batch starts: after the last batch still in flight (or the queue's floor). */
export interface BatchCursor {
  /** Last seq already sent in a batch awaiting its PUBACK. */
  seq: number;
  /** The `droppedTotal` that batch reported up to. */
  droppedTotal: number;
}

export interface UploadBatch {
  payload: Uint8Array;
  /** The seq range covered, inclusive. */
  first: number;
  last: number;
  /** Samples in the payload. */
  count: number;
  /** Records in the range that did not decode as samples. */
  skipped: number;
  /** The `dropped` value in the payload. */
  dropped: number;
  /** The queue's droppedTotal this batch reports up to: pass to `queue.consume(last, droppedTotal)` after the PUBACK. */
  droppedTotal: number;
  /** Cursor for a further batch sent before this one is acknowledged. */
  cursor: BatchCursor;
}

function num(value: number): string {
  return Number.isFinite(value) ? JSON.stringify(value) : 'null';
}

/**
 * The next batch from records above the cursor (default: the queue's floor),
 * or undefined when there is nothing to send. Reads flash; writes nothing.
 */
export function buildBatch(queue: TelemetryQueue, options: BatchOptions, cursor?: BatchCursor): UploadBatch | undefined {
  const maxBytes = options.maxBytes ?? DEFAULT_BATCH_BYTES;
  const thing = JSON.stringify(options.thing);
  const fw = JSON.stringify(options.fw);
  const stats = queue.stats;
  const acked = stats.droppedTotal - stats.dropped;
  const dropped = stats.droppedTotal - Math.max(acked, Math.min(cursor?.droppedTotal ?? 0, stats.droppedTotal));
  const head = (first: number, last: number): Uint8Array => toUtf8(`{"thing":${thing},"seq":[${first},${last}],"samples":[`);
  const tail = (n: number): Uint8Array => toUtf8(`],"dropped":${n},"fw":${fw}}`);
  // The envelope with 10-digit room for each number (the largest u32): the bound holds whatever the ids are.
  const start = head(MAX_U32, MAX_U32).length;
  const envelope = start + tail(MAX_U32).length;
  if (!Number.isInteger(maxBytes) || maxBytes > AWS_MAX_PAYLOAD || maxBytes < envelope + MAX_SAMPLE_JSON) {
    throw new RangeError(`batch: maxBytes ${maxBytes} must be an integer from ${envelope + MAX_SAMPLE_JSON} to ${AWS_MAX_PAYLOAD}`);
  }
  let after = cursor?.seq ?? 0;
  // The samples go straight into the payload's bytes (no string per sample kept, no joined copy),
  // after room for the head at its longest; the head is put right before them once `last` is known.
  const out = new Uint8Array(maxBytes);
  let at = start;
  let count = 0;
  let used = envelope;
  let first = 0;
  let last = 0;
  let skipped = 0;
  let full = false;
  while (!full) {
    const records = queue.peek({ after, maxRecords: 16, maxBytes: 16 * 64 });
    if (records.length === 0) break;
    for (const record of records) {
      const sample = decodeSample(record.payload);
      const part = sample ? `[${record.id},${sample.t === null ? 'null' : num(sample.t)},${num(sample.v)}]` : '';
      const cost = part.length + (count > 0 && part ? 1 : 0);
      if (used + cost > maxBytes) {
        full = true;
        break;
      }
      if (first === 0) first = record.id;
      last = record.id;
      after = record.id;
      if (part) {
        if (count++) out[at++] = 44; // ','
        out.set(toUtf8(part), at);
        at += part.length;
        used += cost;
      } else {
        skipped++;
      }
    }
  }
  if (first === 0) return undefined;
  const h = head(first, last);
  const t = tail(dropped);
  out.set(h, start - h.length);
  out.set(t, at);
  return {
    payload: out.slice(start - h.length, at + t.length),
    first,
    last,
    count,
    skipped,
    dropped,
    droppedTotal: stats.droppedTotal,
    cursor: { seq: last, droppedTotal: stats.droppedTotal },
  };
}

export interface DueOptions {
  /** Default 4096. */
  maxBytes?: number;
  /** Send once the oldest unsent sample is this old; default 15 minutes. */
  maxAgeMs?: number;
}

/**
 * Whether a batch should go now: there are unsent samples, and either they
 * would fill a batch or the oldest has waited `maxAgeMs`. Age comes from the
 * sample's timestamp when both it and `wallMs` are known and the timestamp is
 * not ahead of `wallMs` (a clock that was wrong when it was taken), else from
 * `waitedMs` (monotonic time the caller measured since that sample, or since boot).
 */
export function batchDue(
  queue: TelemetryQueue,
  now: { wallMs: number | undefined; waitedMs: number },
  options: DueOptions = {},
  cursor?: BatchCursor,
): boolean {
  const maxBytes = options.maxBytes ?? DEFAULT_BATCH_BYTES;
  const maxAgeMs = options.maxAgeMs ?? 15 * 60_000;
  const after = Math.max(queue.floor, cursor?.seq ?? 0);
  const oldest = queue.peek({ after, maxRecords: 1 });
  if (oldest.length === 0) return false;
  if ((queue.nextId - 1 - after) * TYPICAL_SAMPLE_JSON >= maxBytes) return true;
  const sample = decodeSample(oldest[0].payload);
  if (sample && sample.t !== null && now.wallMs !== undefined && sample.t <= now.wallMs) return now.wallMs - sample.t >= maxAgeMs;
  return now.waitedMs >= maxAgeMs;
}
