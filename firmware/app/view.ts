/**
 * What the firmware says about itself through `AppHandle.inspect()`: the one
 * typed contract the simulator's summary, its tests and the report read. A
 * field renamed here fails to compile where it is read.
 */
import type { DeviceState } from '../device/states';
import type { LinkState } from '../link/states';
import type { QueueStats } from '../telemetry/queue';

export interface FirmwareView {
  mode: 'always' | 'duty';
  /** Where the device's own cycle is (firmware/device/states.ts). */
  device: DeviceState;
  /** Where the link is (firmware/link/states.ts). */
  state: LinkState;
  link: { connects: number; failures: number; backoffMs: number; transitions: number };
  mqtt: { packetsSent: number; packetsReceived: number; bytesSent: number; pings: number };
  /** Batches published, acknowledged, refused by the client, and samples the queue refused. */
  published: number;
  acked: number;
  publishErrors: number;
  queueErrors: number;
  /** Accepted time syncs, readings refused as earlier than the floor, syncs where servers disagreed. */
  time: { syncs: number; refused: number; disagreements: number };
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
