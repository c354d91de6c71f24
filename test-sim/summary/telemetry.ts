/**
 * Telemetry accounting of a run, from both ends: what the firmware says it
 * generated and still holds (its `FirmwareView`, firmware/app/view.ts) and
 * what the broker received (net/deliveries.ts).
 */
import type { Inspection } from '../../hal/sim/device';
import type { ConfigErrorView, FirmwareView } from '../../firmware/app/view';
import { EVENTS } from '../../hal/events';
import type { DeviceHost } from '../device/host';
import type { RecordedEvent } from '../device/context';
import type { World } from '../net/world';

/** A device's inspection at the end of a run (`engine: 'off'` when it never booted). */
export type DeviceInspection = Inspection;

/** The firmware's view, when the app is the firmware and it got past its configuration. */
export function firmwareView(inspection: DeviceInspection | null | undefined): FirmwareView | undefined {
  const app = inspection?.app as Partial<FirmwareView> | ConfigErrorView | null | undefined;
  if (!app || 'configError' in app) return undefined;
  return typeof app.nextSeq === 'number' && typeof app.floor === 'number' && typeof app.queue === 'object' ? (app as FirmwareView) : undefined;
}

export interface TelemetryAccount {
  samples_generated: number;
  samples_delivered: number | null;
  samples_lost: number | null;
  duplicates: number | null;
  samples_dropped: number;
  dropped_reported: number | null;
  samples_pending: number;
  queue_max_bytes: number;
}

/**
 * Per device: the seqs generated in this run (from the first boot's nextSeq to
 * the last one the firmware reported), which of them the broker received, which
 * are still queued, and which the queue dropped (and counted). A seq that is
 * none of these was lost.
 */
export function accountTelemetry(
  devices: readonly DeviceHost[], finals: readonly DeviceInspection[], events: readonly RecordedEvent[], world: World,
): TelemetryAccount {
  const out: TelemetryAccount = {
    samples_generated: 0, samples_delivered: 0, samples_lost: 0, duplicates: 0,
    samples_dropped: 0, dropped_reported: 0, samples_pending: 0, queue_max_bytes: 0,
  };
  devices.forEach((device, i) => {
    const boots = events.filter((e) => e.device === device.index && e.event === EVENTS.appBoot);
    const view = firmwareView(finals[i]);
    if (!boots.length || !view) return;
    const thing = String(boots[0].fields?.thing);
    const first = Number(boots[0].fields?.nextSeq);
    const end = view.nextSeq;
    const dropped = view.queue.droppedTotal - Number(boots[0].fields?.droppedTotal ?? 0);
    out.samples_generated += end - first;
    out.samples_dropped += dropped;
    out.samples_pending += view.queue.records;
    out.queue_max_bytes = Math.max(out.queue_max_bytes, view.queue.maxBytes);
    if (!world.deliveries) {
      out.samples_delivered = out.samples_lost = out.duplicates = out.dropped_reported = null;
      return;
    }
    const received = world.deliveries.seqs.get(thing) ?? [];
    const distinct = new Set(received.filter((s) => s >= first && s < end));
    let consumedNotDelivered = 0;
    for (let seq = first; seq < end; seq++) if (!distinct.has(seq) && seq <= view.floor) consumedNotDelivered++;
    out.samples_delivered! += distinct.size;
    out.duplicates! += received.filter((s) => s >= first && s < end).length - distinct.size;
    out.samples_lost! += Math.max(0, consumedNotDelivered - dropped);
    out.dropped_reported! += world.deliveries.droppedReported.get(thing) ?? 0;
  });
  return out;
}
