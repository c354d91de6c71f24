/** What the simulator needs from an engine that runs the firmware. */

/** The host's side of the bridge: answers the firmware's synchronous calls. */
export interface HostCalls {
  handle(message: Uint8Array): Uint8Array;
}

/** XS metering (xsnap's crank meter); zero under Node. */
export interface EngineMeter {
  /** Sum of XS compute units over all deliveries. */
  compute: number;
  deliveries: number;
  /** Largest live heap slot count seen after a delivery. */
  peakHeapSlots: number;
  /** Largest total of bytes the XS machine had allocated (chunks and slots). */
  allocatedBytes: number;
}

export interface Engine {
  readonly name: 'xs' | 'node';
  readonly meter: EngineMeter;
  /** Deliver one host event; resolves with the reply body. Rejects with FirmwareError if the firmware threw. */
  deliver(message: Uint8Array): Promise<Uint8Array>;
  stop(): Promise<void>;
}

export type EngineName = Engine['name'];
