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
}

export function createDeliveryRecord(): DeliveryRecord & { receive(topic: string, payload: Uint8Array): void } {
  const seen = new Set<string>();
  const record = {
    seqs: new Map<string, number[]>(),
    droppedReported: new Map<string, number>(),
    batches: 0,
    malformed: 0,
    receive(topic: string, payload: Uint8Array) {
      if (!/^dt\/.*\/telemetry$/.test(topic)) return;
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
      const key = `${batch.thing}:${batch.seq[0]}-${batch.seq[1]}`;
      if (!seen.has(key)) {
        seen.add(key);
        record.droppedReported.set(batch.thing, (record.droppedReported.get(batch.thing) ?? 0) + batch.dropped);
      }
    },
  };
  return record;
}
