/**
 * What every part of a simulated device shares: its index, the virtual clock,
 * the energy meter, the event record, and a way to deliver an event to the
 * firmware later that is dropped when the device has rebooted in between.
 */
import type { Scheduler, TimerHandle } from '../clock/scheduler';
import type { EnergyMeter } from '../energy/meter';

export interface RecordedEvent {
  t: number;
  device: number;
  event: string;
  fields?: Record<string, unknown>;
}

/** Makes the firmware event to deliver, or undefined to deliver nothing. */
export type EventSource = () => Uint8Array | undefined;

export interface DeviceContext {
  readonly index: number;
  readonly scheduler: Scheduler;
  readonly meter: EnergyMeter;
  record(event: string, fields?: Record<string, unknown>): void;
  /** Deliver what `bytes` makes `ms` of virtual time from now, unless the device rebooted or halted meanwhile. */
  later(ms: number, bytes: EventSource): TimerHandle;
  /** The same at the current virtual time, after the task running now. */
  post(bytes: EventSource): void;
}
