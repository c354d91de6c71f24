/**
 * What the firmware says about itself through `AppHandle.inspect()`: the one
 * typed contract the simulator's summary, its tests and the report read. A
 * field renamed here fails to compile where it is read.
 */
import type { LinkState } from '../link/states';
import type { QueueStats } from '../telemetry/queue';

export interface FirmwareView {
  mode: 'always' | 'duty';
  state: LinkState;
  link: { connects: number; failures: number; backoffMs: number; transitions: number };
  mqtt: { packetsSent: number; packetsReceived: number; bytesSent: number; pings: number };
  /** Batches published, acknowledged, refused by the client, and samples the queue refused. */
  published: number;
  acked: number;
  publishErrors: number;
  queueErrors: number;
  /** Samples taken during this boot. */
  samples: number;
  /** The queue id the next sample gets (ids rise across reboots). */
  nextSeq: number;
  /** Every id up to this one is acknowledged (consumed). */
  floor: number;
  /** Records still queued. */
  pending: number;
  queue: QueueStats;
}

/** What `inspect()` returns when the configuration was refused at boot. */
export interface ConfigErrorView {
  configError: string;
}
