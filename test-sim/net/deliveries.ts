/**
 * What the broker received from each device's telemetry: the subscriber side of
 * the end-to-end checks. Parses the documented batch schema
 * (firmware/telemetry/batch.ts) of every PUBLISH on a `dt/.../telemetry` topic.
 */
export interface DeliveryRecord {
  /** Every seq received, in arrival order (duplicates included), per thing. */
  seqs: Map<string, number[]>;
  /** Sum of `dropped` over distinct batches (by thing and seq range). */
  droppedReported: Map<string, number>;
  batches: number;
  malformed: number;
  /** First arrival of each seq, virtual ms, per thing (only when the record was given a clock). */
  arrivals: Map<string, Map<number, number>>;
  /** Sample time (wall ms) each seq carried, per thing. */
  sampledAt: Map<string, Map<number, number>>;
  /** PUBLISHes received on a telemetry topic, and the AWS IoT messages they are metered as (5 KB units of topic + payload). */
  publishes: number;
  billedUnits: number;
}

/** AWS IoT Core meters a PUBLISH from a device on its topic and payload, in 5 KB units ("AWS IoT Core additional metering details"). */
export function billedUnits(topicBytes: number, payloadBytes: number): number {
  return Math.max(1, Math.ceil((topicBytes + payloadBytes) / 5120));
}

export function createDeliveryRecord(now?: () => number): DeliveryRecord & { receive(topic: string, payload: Uint8Array): void } {
  const seen = new Set<string>();
  const record = {
    seqs: new Map<string, number[]>(),
    droppedReported: new Map<string, number>(),
    batches: 0,
    malformed: 0,
    arrivals: new Map<string, Map<number, number>>(),
    sampledAt: new Map<string, Map<number, number>>(),
    publishes: 0,
    billedUnits: 0,
    receive(topic: string, payload: Uint8Array) {
      if (!/^dt\/.*\/telemetry$/.test(topic)) return;
      record.publishes++;
      record.billedUnits += billedUnits(Buffer.byteLength(topic), payload.length);
      let batch: { thing: string; seq: [number, number]; samples: [number, number | null, number | null][]; dropped: number };
      try {
        batch = JSON.parse(Buffer.from(payload).toString('utf8'));
      } catch {
        record.malformed++;
        return;
      }
      record.batches++;
      const list = record.seqs.get(batch.thing) ?? [];
      for (const [seq] of batch.samples) list.push(seq);
      record.seqs.set(batch.thing, list);
      if (now) {
        const arrivals = record.arrivals.get(batch.thing) ?? new Map<number, number>();
        const sampled = record.sampledAt.get(batch.thing) ?? new Map<number, number>();
        for (const [seq, t] of batch.samples) {
          if (!arrivals.has(seq)) arrivals.set(seq, now());
          if (typeof t === 'number' && !sampled.has(seq)) sampled.set(seq, t);
        }
        record.arrivals.set(batch.thing, arrivals);
        record.sampledAt.set(batch.thing, sampled);
      }
      const key = `${batch.thing}:${batch.seq[0]}-${batch.seq[1]}`;
      if (!seen.has(key)) {
        seen.add(key);
        record.droppedReported.set(batch.thing, (record.droppedReported.get(batch.thing) ?? 0) + batch.dropped);
      }
    },
  };
  return record;
}
