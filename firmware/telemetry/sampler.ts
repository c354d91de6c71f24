/**
 * Takes one sample (sensor value, wall time or "not synced") and appends it to
 * the durable queue. The sample's sequence number is the queue id it gets:
 * device-wide, rising across reboots, deep sleep and power cuts, because the
 * queue recovers its next id from flash (block headers, records and checkpoints
 * all carry ids) and never erases its newest block.
 */
import type { Clock, Sensor } from '../../hal/types';
import { encodeSample, type Sample } from './record';
import { QueueError, type TelemetryQueue } from './queue';

export interface TakenSample extends Sample {
  seq: number;
}

export class Sampler {
  /** Samples taken since boot, and how many the queue refused. */
  readonly counters = { taken: 0, refused: 0 };

  /** `clock` supplies the wall time a sample is stamped with (firmware/time: the one firmware trusts). */
  constructor(private readonly queue: TelemetryQueue, private readonly sensor: Sensor, private readonly clock: Pick<Clock, 'wallTime'>) {}

  /** Read the sensor now and store the sample durably; returns it with its seq. */
  sample(): TakenSample | QueueError {
    const sample: Sample = { t: this.clock.wallTime() ?? null, v: this.sensor.read() };
    const result = this.queue.append(encodeSample(sample));
    if (result instanceof QueueError) {
      this.counters.refused++;
      return result;
    }
    this.counters.taken++;
    return { seq: result.id, t: sample.t, v: sample.v };
  }
}
