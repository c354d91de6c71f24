/**
 * Sends queued samples as batches over the MQTT client and consumes them from
 * the queue as they are acknowledged.
 *
 * Contracts:
 * - The queue is consumed only up to the last batch of the acknowledged
 *   prefix: a PUBACK for batch 2 before batch 1's removes nothing until batch
 *   1 is acknowledged too (the queue's rule that every id at or below the
 *   floor is delivered).
 * - Batches in flight stay in flight across reconnects: the MQTT client
 *   republishes them with their packet ids, so nothing is sent twice by this
 *   layer. After a reboot the session is gone and sending restarts from the
 *   queue's floor.
 * - At most `maxInflight` batches await PUBACK at once.
 */
import type { LogValue } from '../../hal/types';
import type { MqttClient } from '../mqtt/client';
import { MqttError } from '../mqtt/errors';
import { buildBatch, type BatchCursor, type UploadBatch } from './batch';
import type { TelemetryQueue } from './queue';

export interface UploaderOptions {
  topic: string;
  thing: string;
  fw: string;
  maxInflight: number;
}

interface Sent {
  packetId: number;
  batch: UploadBatch;
  acked: boolean;
}

export class Uploader {
  readonly counters = { published: 0, acked: 0, publishErrors: 0 };
  /** Batches awaiting PUBACK, in the order sent. */
  private sent: Sent[] = [];
  private cursor: BatchCursor | undefined;

  constructor(
    private readonly queue: TelemetryQueue,
    private readonly client: MqttClient,
    private readonly options: UploaderOptions,
    private readonly log: { event(name: string, fields?: Record<string, LogValue>): void },
  ) {}

  get inflight(): number {
    return this.sent.length;
  }

  /** Samples not yet in any batch sent on this connection. */
  unsent(): number {
    return this.queue.nextId - 1 - Math.max(this.queue.floor, this.cursor?.seq ?? 0);
  }

  /** Nothing awaits PUBACK and nothing is left to send. */
  get idle(): boolean {
    return this.sent.length === 0 && this.unsent() === 0;
  }

  /** Where the next batch starts (for the "batch due" rule). */
  get next(): BatchCursor | undefined {
    return this.cursor;
  }

  /** Send batches while `more()` says so, keeping at most `maxInflight` in flight. */
  send(more: () => boolean): void {
    while (this.client.connected && this.sent.length < this.options.maxInflight && more()) {
      const batch = buildBatch(this.queue, { thing: this.options.thing, fw: this.options.fw }, this.cursor);
      if (!batch) return;
      const result = this.client.publish(this.options.topic, batch.payload, 1);
      if (result instanceof MqttError) {
        this.counters.publishErrors++;
        this.log.event('telemetry.publish-error', { kind: result.kind, message: result.message });
        return;
      }
      this.counters.published++;
      this.sent.push({ packetId: result.packetId!, batch, acked: false });
      this.cursor = batch.cursor;
    }
  }

  /** A PUBACK (wire to the client's onAcked). */
  acknowledged(packetId: number): void {
    const entry = this.sent.find((s) => s.packetId === packetId && !s.acked);
    if (!entry) return;
    entry.acked = true;
    this.counters.acked++;
    const { first, last, count, dropped } = entry.batch;
    this.log.event('telemetry.acked', { first, last, count, dropped });
    let done: UploadBatch | undefined;
    while (this.sent.length > 0 && this.sent[0].acked) done = this.sent.shift()!.batch;
    if (done) this.queue.consume(done.last, done.droppedTotal);
  }
}
