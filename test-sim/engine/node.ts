/**
 * Runs the same firmware in-process under Node with the same simulator HAL and
 * bridge messages: fast, and the XS run stays the fidelity check.
 */
import { createSimDevice, type SimDevice } from '../../hal/sim/device';
import type { App } from '../../hal/types';
import { FirmwareError } from './xs';
import { PowerCut } from '../flash/flash';
import type { Engine, EngineMeter, HostCalls } from './types';

export class NodeEngine implements Engine {
  readonly name = 'node';
  readonly meter: EngineMeter = { compute: 0, deliveries: 0, peakHeapSlots: 0, allocatedBytes: 0 };
  private device: SimDevice;

  constructor(app: App, calls: HostCalls) {
    this.device = createSimDevice({ call: (bytes) => calls.handle(bytes) }, app, 'node');
  }

  deliver(message: Uint8Array): Promise<Uint8Array> {
    this.meter.deliveries++;
    try {
      return Promise.resolve(this.device.deliver(message));
    } catch (error) {
      // A power cut thrown by a flash write is the host's, not the firmware's: pass it through as XS's SIGKILL does.
      if (error instanceof PowerCut) return Promise.reject(error);
      return Promise.reject(new FirmwareError(error instanceof Error ? `${error.name}: ${error.message}` : String(error)));
    }
  }

  async stop(): Promise<void> {}
}
