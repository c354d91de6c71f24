/**
 * Binds the simulator HAL to the xsnap worker: `issueCommand` carries the
 * firmware's calls to the host, `handleCommand` receives the host's events.
 * The bundler generates the entry that calls `installXsDevice(app)`.
 */
import type { App } from '../types';
import { createSimDevice } from './device';

/** XS-only facts that a test checks so a silent fallback to Node cannot pass. */
function engineName(): string {
  const g = globalThis as Record<string, unknown>;
  const xs = typeof g.issueCommand === 'function' && typeof g.harden === 'function' && typeof g.process === 'undefined';
  return xs ? 'xs' : 'unknown';
}

export function installXsDevice(app: App): void {
  const device = createSimDevice(
    { call: (bytes) => new Uint8Array(issueCommand(bytes.buffer as ArrayBuffer)) },
    app,
    engineName(),
  );
  globalThis.handleCommand = (buffer: ArrayBuffer): ArrayBuffer => {
    const reply = device.deliver(new Uint8Array(buffer));
    return reply.byteOffset === 0 && reply.byteLength === reply.buffer.byteLength
      ? (reply.buffer as ArrayBuffer)
      : (reply.slice().buffer as ArrayBuffer);
  };
}
