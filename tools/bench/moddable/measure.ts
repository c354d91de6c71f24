/**
 * Measures the figures of test-sim/energy/costs.ts `MEASURED` in the Moddable
 * simulator (mcsim, release builds), as host CPU time of the mcsim process
 * (/proc/<pid>/schedstat, so a busy machine does not inflate them), scaled to one
 * ESP32 core at 160 MHz by CoreMark (`--host-coremark`, iterations per CPU
 * second of eembc/coremark on this machine; ESP32: 331.7, ochrin/coremark).
 *
 *   node --import tsx tools/bench/moddable/measure.ts --calibrate DIR/mc.so --firmware DIR/mc.so --host-coremark N [--seconds 90]
 *
 * - `--calibrate`: tools/bench/moddable/manifest.json built for mcsim: the codec
 *   bench's encode loop; with the XS meter units xsnap counts for one encode
 *   (npm run bench -- --only mqtt), host ns per meter unit.
 * - `--firmware`: manifests/simulator.json built with `--release --local
 *   port=18443 powerMode=duty` (short intervals): CPU of each TLS handshake
 *   (from the `TlsConnect` transition to `tls.connected`, full or resumed) and of
 *   the firmware's start (process start to `app.boot`, less the calibration
 *   app's process start to its first instruction: the machine and modules of
 *   firmware/ and hal/moddable beyond an empty app's).
 * Needs $MODDABLE and Xvfb. Prints one JSON object.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLocalEndpoint } from '../../../test-sim/endpoint/endpoint';
import { ensureDevPki } from '../../provision/pki';
import { ROOT } from '../../../test-sim/engine/bundle';

const ESP32_COREMARK_160MHZ = 331.7;

interface Line { cpuMs: number; event: string; fields: Record<string, unknown> }

/** CPU time the process has run, ms, from the scheduler's nanosecond account (/proc/<pid>/schedstat). */
function cpuMs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
}

async function runMcsim(artifact: string, seconds: number, stopAt?: (lines: Line[]) => boolean): Promise<Line[]> {
  const moddable = process.env.MODDABLE;
  if (!moddable) throw new Error('$MODDABLE is not set');
  let n = 140;
  while (existsSync(`/tmp/.X11-unix/X${n}`) || existsSync(`/tmp/.X${n}-lock`)) n++;
  const display = `:${n}`;
  const xvfb: ChildProcess = spawn('Xvfb', [display, '-nolisten', 'tcp'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1500));
  const sim = spawn('stdbuf', ['-oL', join(moddable, 'build/bin/lin/release/mcsim'), artifact], { env: { ...process.env, DISPLAY: display }, stdio: ['ignore', 'pipe', 'ignore'] });
  const lines: Line[] = [];
  let buffered = '';
  // stdbuf execs mcsim in place, so the child's pid is mcsim's.
  sim.stdout!.on('data', (chunk: Buffer) => {
    const cpu = cpuMs(sim.pid!);
    buffered += chunk.toString('utf8');
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const text of parts) {
      const start = text.indexOf('{');
      if (start < 0) continue;
      try {
        const json = JSON.parse(text.slice(start)) as { event: string; fields?: Record<string, unknown> } & Record<string, unknown>;
        lines.push({ cpuMs: cpu, event: json.event, fields: json.fields ?? json });
      } catch { /* not a log line */ }
    }
  });
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline && !(stopAt?.(lines))) await new Promise((r) => setTimeout(r, 200));
  sim.kill();
  xvfb.kill();
  return lines;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { calibrate: { type: 'string' }, firmware: { type: 'string' }, 'host-coremark': { type: 'string' }, seconds: { type: 'string', default: '90' }, 'encode-units': { type: 'string', default: '7166' } } });
  const ratio = Number(values['host-coremark']) / ESP32_COREMARK_160MHZ;
  if ((!values.calibrate && !values.firmware) || !(ratio > 0)) throw new Error('usage: [--calibrate mc.so] [--firmware mc.so] --host-coremark N');
  const cal = values.calibrate ? await runMcsim(values.calibrate, 180, (l) => l.some((x) => x.event === 'calibrate.done')) : [];
  const first = cal.find((l) => l.event === 'calibrate.first-instruction');
  const start = cal.find((l) => l.event === 'calibrate.start');
  const done = cal.find((l) => l.event === 'calibrate.done');
  const hostNsPerUnit = start && done ? ((done.cpuMs - start.cpuMs) * 1e6) / (Number(done.fields.iterations) * Number(values['encode-units'])) : null;

  let fw: Line[] = [];
  if (values.firmware) {
    const pki = await ensureDevPki(join(ROOT, '.state/dev-pki'));
    const endpoint = await createLocalEndpoint({ pki, port: 18443 });
    try {
      fw = await runMcsim(values.firmware, Number(values.seconds));
    } finally {
      await endpoint.close();
    }
  }
  const handshakes: { full: number[]; resumed: number[] } = { full: [], resumed: [] };
  let opened: number | undefined;
  for (const l of fw) {
    if (l.event === 'link.transition' && l.fields.to === 'TlsConnect') opened = l.cpuMs;
    if (l.event === 'tls.connected' && opened !== undefined) {
      (l.fields.resumed ? handshakes.resumed : handshakes.full).push(l.cpuMs - opened);
      opened = undefined;
    }
  }
  const boot = fw.find((l) => l.event === 'app.boot');
  const median = (v: number[]) => (v.length ? [...v].sort((a, b) => a - b)[v.length >> 1] : null);
  const esp32 = (hostMs: number | null) => (hostMs === null ? null : Math.round(hostMs * ratio));
  const startExtraHostMs = boot && first ? Math.max(0, boot.cpuMs - first.cpuMs) : null;
  process.stdout.write(`${JSON.stringify({
    coremark_ratio: Math.round(ratio * 10) / 10,
    host: {
      events: fw.map((l) => `${l.cpuMs} ${l.event} ${l.event === 'link.transition' ? l.fields.to : l.event === 'tls.connected' ? l.fields.resumed : ''}`),
      ns_per_xs_unit: hostNsPerUnit === null ? null : Math.round(hostNsPerUnit * 100) / 100,
      calibrate_first_instruction_cpu_ms: first?.cpuMs ?? null,
      firmware_app_boot_cpu_ms: boot?.cpuMs ?? null,
      handshake_full_cpu_ms: handshakes.full,
      handshake_resumed_cpu_ms: handshakes.resumed,
    },
    esp32: {
      xsNsPerUnit: hostNsPerUnit === null ? null : Math.round(hostNsPerUnit * ratio),
      xsStartMs: esp32(startExtraHostMs),
      moddableRsaFullMs: esp32(median(handshakes.full)),
      moddableResumedMs: esp32(median(handshakes.resumed)),
    },
  })}\n`);
}

main().catch((error) => {
  process.stderr.write(`measure: ${error instanceof Error ? error.message : error}\n`);
  process.exit(1);
});
