/**
 * Runs firmware inside the real XS engine: the `xsnap-worker` binary that npm
 * `@agoric/xsnap` builds from Moddable's XS sources at install.
 *
 * We speak the worker's netstring protocol on fds 3 (to the worker) and 4 (from
 * it) directly, so no SES lockdown touches this process (see xsnap-worker.c):
 *   'e' + source      evaluate a script
 *   '?' + bytes       call globalThis.handleCommand(ArrayBuffer)
 *   'q'               quit
 * Replies: '.' + meter JSON + '\x01' + result, or '!' + error text. While it
 * handles a delivery, the worker may send '?' + bytes (issueCommand); we answer
 * '/' + bytes at once and it resumes.
 *
 * `XsEngine` is one worker that evaluated one script (tests, the bench's codec
 * runs). A simulated device uses `XsChip` (engine/xs-chip.ts): one worker for
 * the device's whole run and a fresh machine state at every boot.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Engine, EngineMeter, HostCalls } from './types';

const require = createRequire(import.meta.url);

export function xsnapWorkerPath(): string {
  const root = dirname(require.resolve('@agoric/xsnap/package.json'));
  const path = join(root, 'xsnap-native/xsnap/build/bin/lin/release/xsnap-worker');
  if (!existsSync(path)) {
    throw new Error(`XS engine not built: ${path} is missing — run \`npm rebuild @agoric/xsnap\` (needs make and a C compiler)`);
  }
  return path;
}

interface Pending {
  resolve(reply: Uint8Array): void;
  reject(error: Error): void;
}

/** What xsnap reports after each command. */
export interface XsMeterReading {
  compute: number;
  allocate: number;
  currentHeapCount: number;
}

/** One xsnap-worker process. */
export class XsWorker {
  private child: ChildProcess;
  private inbox: Buffer = Buffer.alloc(0);
  private pending: Pending | undefined;
  private exited: Error | undefined;
  private stderr = '';

  /** `calls` answers issueCommand; `onMeter` sees the meter of every successful command. */
  constructor(private readonly calls: HostCalls, private readonly onMeter: (reading: XsMeterReading) => void) {
    this.child = spawn(xsnapWorkerPath(), ['-i', '1'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-2000);
    });
    (this.child.stdio[4] as NodeJS.ReadableStream).on('data', (chunk: Buffer) => this.receive(chunk));
    // A killed worker's pipes report EPIPE or ECONNRESET; its exit is what counts (below).
    for (const fd of [3, 4]) (this.child.stdio[fd] as NodeJS.EventEmitter).on('error', () => {});
    this.child.on('exit', (code, signal) => {
      this.exited = new Error(`XS worker exited (${signal ?? code})${this.stderr ? `: ${this.stderr.trim().split('\n').pop()}` : ''}`);
      this.pending?.reject(this.exited);
      this.pending = undefined;
    });
    this.child.on('error', (error) => {
      this.exited = error;
      this.pending?.reject(error);
      this.pending = undefined;
    });
  }

  /** The process is gone (killed after a host fault, or crashed). */
  get alive(): boolean {
    return this.exited === undefined;
  }

  evaluate(source: string): Promise<Uint8Array> {
    return this.request(Buffer.concat([Buffer.from('e'), Buffer.from(source)]));
  }

  deliver(message: Uint8Array): Promise<Uint8Array> {
    return this.request(Buffer.concat([Buffer.from('?'), message]));
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const exit = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exit;
  }

  private request(payload: Buffer): Promise<Uint8Array> {
    if (this.exited) return Promise.reject(this.exited);
    if (this.pending) return Promise.reject(new Error('XS engine: delivery while another is under way'));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.write(payload);
    });
  }

  private write(payload: Buffer): void {
    const toWorker = this.child.stdio[3] as NodeJS.WritableStream;
    toWorker.write(Buffer.concat([Buffer.from(`${payload.length}:`), payload, Buffer.from(',')]));
  }

  private receive(chunk: Buffer): void {
    this.inbox = this.inbox.length ? Buffer.concat([this.inbox, chunk]) : chunk;
    for (;;) {
      const colon = this.inbox.indexOf(0x3a);
      if (colon < 0) return;
      const length = Number(this.inbox.toString('latin1', 0, colon));
      if (this.inbox.length < colon + 2 + length) return;
      const frame = this.inbox.subarray(colon + 1, colon + 1 + length);
      this.inbox = this.inbox.subarray(colon + 2 + length);
      this.frame(frame);
    }
  }

  private frame(frame: Buffer): void {
    const kind = frame[0];
    if (kind === 0x3f /* ? */) {
      let reply: Uint8Array;
      try {
        reply = this.calls.handle(new Uint8Array(frame.buffer, frame.byteOffset + 1, frame.length - 1).slice());
      } catch (error) {
        // A host fault must not leave the worker blocked in issueCommand. It counts as gone from
        // now on, not only once its exit is reported, so nothing is sent to it meanwhile.
        this.child.kill('SIGKILL');
        this.exited ??= error as Error;
        this.pending?.reject(error as Error);
        this.pending = undefined;
        return;
      }
      this.write(Buffer.concat([Buffer.from('/'), reply]));
      return;
    }
    const pending = this.pending;
    this.pending = undefined;
    if (!pending) return;
    if (kind === 0x2e /* . */) {
      const separator = frame.indexOf(1);
      this.onMeter(JSON.parse(frame.toString('utf8', 1, separator)) as XsMeterReading);
      pending.resolve(new Uint8Array(frame.subarray(separator + 1)));
    } else {
      pending.reject(new FirmwareError(frame.toString('utf8', 1)));
    }
  }
}

/** Adds one command's reading to a meter. */
export function accumulate(meter: EngineMeter, reading: XsMeterReading): void {
  meter.deliveries++;
  meter.compute += reading.compute;
  meter.allocatedBytes = Math.max(meter.allocatedBytes, reading.allocate);
  meter.peakHeapSlots = Math.max(meter.peakHeapSlots, reading.currentHeapCount);
}

/** A worker that evaluated one script installing `handleCommand`; stopping it ends the process. */
export class XsEngine implements Engine {
  readonly name = 'xs';
  readonly meter: EngineMeter = { compute: 0, deliveries: 0, peakHeapSlots: 0, allocatedBytes: 0 };
  private worker: XsWorker;

  private constructor(calls: HostCalls) {
    this.worker = new XsWorker(calls, (reading) => accumulate(this.meter, reading));
  }

  /** Start a worker and evaluate `bundle` (a script that installs `handleCommand`). */
  static async start(bundle: string, calls: HostCalls): Promise<XsEngine> {
    const engine = new XsEngine(calls);
    await engine.worker.evaluate(bundle);
    return engine;
  }

  deliver(message: Uint8Array): Promise<Uint8Array> {
    return this.worker.deliver(message);
  }

  stop(): Promise<void> {
    return this.worker.stop();
  }
}

/** An exception escaped the firmware (a device would reset). */
export class FirmwareError extends Error {
  override name = 'FirmwareError';
}
