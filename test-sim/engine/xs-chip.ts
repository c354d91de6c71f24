/**
 * One simulated device's XS engine across its boots: a single xsnap-worker for
 * the whole run, and at every boot a fresh machine state in it.
 *
 * The worker first evaluates a loader that compiles the firmware bundle once
 * (a `ModuleSource`) and freezes the built-ins, as Moddable's XS linker does
 * after preload on the device ("Automatic Freezing of Built-ins",
 * documentation/xs/preload.md in the Moddable SDK). Each boot then instantiates
 * the firmware in a new `Compartment`: its own global object and fresh module
 * state, sharing only the frozen built-ins. What the previous boot built is
 * unreachable and collected (`gc()` runs first, so heap counts are per boot).
 * So, as after a reset or a wake from deep sleep on the chip, nothing of the
 * firmware's RAM survives a boot; only flash and RTC memory do, which live on
 * the host (test-sim/test/engine/fresh-ram.test.ts holds this).
 *
 * Starting a worker and loading the firmware costs about 40 ms; a boot in the
 * running worker well under one. When the worker had to be killed (a power cut
 * inside a host call), the next boot starts a new one.
 */
import type { Engine, EngineMeter, HostCalls } from './types';
import { XsWorker, accumulate, type XsMeterReading } from './xs';

/** Evaluated once per worker: compile the firmware, freeze the built-ins, route deliveries to the current boot. */
function loader(bundle: string): string {
  return `(() => {
  const source = new ModuleSource(${JSON.stringify(bundle)});
  // The host functions a device build has too: the bridge, harden, and Moddable's modules/data/text.
  const host = { issueCommand, harden, TextEncoder, TextDecoder };
  for (const name of Object.getOwnPropertyNames(globalThis)) {
    if (name !== 'globalThis' && name !== 'global') harden(globalThis[name]);
  }
  let current;
  const boot = () => {
    current = undefined;
    gc();
    const compartment = new Compartment({ globals: { ...host }, modules: { firmware: { source } } });
    compartment.importNow('firmware');
    current = compartment.globalThis.handleCommand;
    if (typeof current !== 'function') throw new Error('the firmware bundle installed no handleCommand');
    return new ArrayBuffer(0);
  };
  // An empty delivery boots a fresh machine (a delivery costs far less than evaluating a script).
  globalThis.handleCommand = (buffer) => (buffer.byteLength === 0 ? boot() : current(buffer));
})();`;
}

export class XsChip {
  private worker: XsWorker | undefined;
  private calls: HostCalls | undefined;
  private reading: ((reading: XsMeterReading) => void) | undefined;
  /** Workers started over the run (1 unless one had to be killed). */
  workers = 0;

  constructor(private readonly bundle: string) {}

  /** A fresh machine for one boot; `calls` answers its host calls. */
  async boot(calls: HostCalls): Promise<Engine> {
    this.calls = calls;
    if (!this.worker?.alive) {
      this.workers++;
      this.reading = undefined;
      this.worker = new XsWorker({ handle: (bytes) => this.calls!.handle(bytes) }, (r) => this.reading?.(r));
      await this.worker.evaluate(loader(this.bundle));
    }
    const worker = this.worker;
    const meter: EngineMeter = { compute: 0, deliveries: 0, peakHeapSlots: 0, allocatedBytes: 0 };
    this.reading = (r) => accumulate(meter, r);
    await worker.deliver(new Uint8Array(0));
    let stopped = false;
    return {
      name: 'xs',
      meter,
      deliver: (message) => (stopped ? Promise.reject(new Error('XS engine: delivery after the machine stopped')) : worker.deliver(message)),
      stop: async () => {
        stopped = true;
      },
    };
  }

  /** End of the run: the worker process goes. */
  async close(): Promise<void> {
    await this.worker?.stop();
    this.worker = undefined;
  }
}
