/**
 * One full duty-cycled wake of the Moddable build in mcsim
 * (tools/moddable/memory.ts measureWake): the flash holds a full backlog, the
 * device joins, opens TLS to the local endpoint, uploads every queued sample
 * and sleeps. Held to: every sample delivered; a clean DISCONNECT at the
 * broker, never a keepalive timeout or a Last Will; the credentials read from
 * the device's credential store. Then each ESP32 target's `creation` (as
 * mcconfig generates it for manifests/esp32.json) is held to its margin: the
 * same wake must complete with fixed heaps (no growth: XS aborts instead) the
 * size of the smallest target's, shrunk by MEMORY_MARGIN. And each chip's free
 * RAM with Wi-Fi (Espressif's figure for the rank the sdkconfig layer is held
 * to) must hold the target's XS machine, Mbed TLS's peak over this wake's
 * connection and Moddable's main task stack (README, "Memory", per chip).
 *
 * Needs $MODDABLE (mcsim) and, without a display, xvfb-run; skips with a line
 * otherwise. Two builds and two wakes: 20-30 minutes on a loaded machine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUDGET_TARGETS, budgets, fitCreation, MEMORY_MARGIN, measureWake, targetCreations, tlsPeakBytes } from '../../../tools/moddable/memory';

const MODDABLE = process.env.MODDABLE;
const hasXvfb = spawnSync('sh', ['-c', 'command -v xvfb-run && command -v stdbuf'], { stdio: 'ignore' }).status === 0;

function skipReason(): string | false {
  if (!MODDABLE || !existsSync(join(MODDABLE, 'build/bin/lin/release/mcsim'))) {
    return 'MODDABLE is not set (or mcsim is not built): build the Moddable SDK tools (documentation/Moddable SDK - Getting Started.md) and export MODDABLE to run this test';
  }
  if (process.platform !== 'linux') return 'runs the Linux simulator (mcsim, -p lin) only';
  if (!process.env.DISPLAY && !hasXvfb) return 'no display and no xvfb-run/stdbuf: apt-get install xvfb xauth';
  return false;
}

test('a full wake in mcsim uploads a full backlog, ends with a clean DISCONNECT, reads the credential store, and fits every target\'s creation with a margin', { skip: skipReason(), timeout: 2_700_000 }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'fieldlink-mcsim-wake-'));
  try {
    const m = await measureWake({ moddable: MODDABLE as string, work, keep: true });
    const trace = m.events.map((e) => JSON.stringify(e)).join('\n').slice(-6000);

    assert.ok(m.samplesQueued > 2000, `a full backlog (${m.samplesQueued})`);
    assert.ok(m.samplesDelivered >= m.samplesQueued, `${m.samplesDelivered} of ${m.samplesQueued} delivered\n${trace}`);

    assert.ok(m.closes.clean >= 1, `a clean DISCONNECT at the broker: ${JSON.stringify(m.closes)}\n${trace}`);
    assert.equal(m.closes.unclean, 0, `no connection vanished: ${JSON.stringify(m.closes)}`);
    assert.equal(m.closes.wills, 0, 'no Last Will went out');
    assert.equal(m.keepaliveTimeouts, 0, 'no keepalive timeout');

    const store = m.events.find((e) => e.event === 'hal.credential-store');
    assert.equal(store?.fields?.store, `host ${join(work, 'device', 'nvs')}`, trace);
    assert.match(String(store?.fields?.entries), /^ca\.der,device\.der,device\.key\.der,endpoint,port\b/);

    for (const phase of ['boot', 'join', 'handshake', 'session'] as const) assert.ok(m.phases[phase], `memory.peaks for ${phase}\n${trace}`);
    assert.ok(m.tls && m.tls.heapHandshakePeak > 0, `tls.measured with Mbed TLS's heap\n${trace}`);

    const creations = targetCreations(MODDABLE as string, BUDGET_TARGETS, work);
    const fit = fitCreation(creations);
    const f = await measureWake({ moddable: MODDABLE as string, work: join(work, 'fit'), keep: true, creation: fit });
    assert.ok(f.completed, `the wake with fixed heaps ${JSON.stringify(fit)} ran out: ${f.failure}`);
    assert.ok(f.samplesDelivered >= f.samplesQueued, `fit run: ${f.samplesDelivered} of ${f.samplesQueued} delivered`);
    const need = { chunkBytes: fit.chunk.initial, slots: fit.heap.initial, stackSlots: fit.stack };
    assert.ok(m.tls.heapConnectionPeak !== undefined && m.tls.heapConnectionPeak >= m.tls.heapHandshakePeak, `memory.peaks (session) with Mbed TLS's peak over the connection, at least the handshake's\n${JSON.stringify(m.tls)}`);
    const targets = budgets(creations, need, tlsPeakBytes(m.tls));
    // The figures of README "Memory" (npm run memory:moddable prints them as tables).
    t.diagnostic(JSON.stringify({ phases: m.phases, wake: m.wake, tls: m.tls, closes: m.closes, delivered: m.samplesDelivered, queued: m.samplesQueued, fit: { creation: fit, phases: f.phases }, targets: targets.map(({ target, xsBytes, headroomBytes, chunkMargin, slotMargin, stackMargin, staticMargin }) => ({ target, xsBytes, headroomBytes, chunkMargin, slotMargin, stackMargin, staticMargin })) }));
    for (const budget of targets) {
      const margins = [budget.chunkMargin, budget.slotMargin, budget.stackMargin, budget.staticMargin].filter((x): x is number => x !== undefined);
      for (const margin of margins) {
        assert.ok(margin >= MEMORY_MARGIN - 0.001, `${budget.target}: creation ${JSON.stringify(budget.creation)} leaves ${Math.round(margin * 100)} % over a wake that fits ${JSON.stringify(need)} (want ${MEMORY_MARGIN * 100} %)`);
      }
      assert.ok(budget.headroomBytes >= 0, `${budget.target}: ${budget.chip}'s ${budget.availableBytes} B with Wi-Fi cannot hold the XS machine (${budget.xsBytes} B), Mbed TLS's peak (${tlsPeakBytes(m.tls)} B) and Moddable's main task: ${budget.headroomBytes} B`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
