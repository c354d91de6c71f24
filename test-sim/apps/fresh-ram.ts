/**
 * Device-side probe of what survives a boot, run by
 * test-sim/test/engine/fresh-ram.test.ts. At every boot it tries to find what
 * an earlier boot left in module state, on the global object and on a
 * built-in prototype, and counts its boots in RTC memory (retained bytes) and
 * on flash (one programmed byte per boot). A device keeps only the last two
 * across a deep sleep or a reset.
 *
 * Config: `{ boots }`: deep-sleep 1 s between boots until `boots` boots were counted.
 */
import { EVENTS } from '../../hal/events';
import type { AppHandle, Hal } from '../../hal/types';

let moduleBoots = 0;

export interface FreshRamReport {
  moduleBoots: number;
  globalBoots: number;
  /** Adding a property to Object.prototype: `frozen` (TypeError, as after Moddable's preload) or `writable`. */
  builtins: 'frozen' | 'writable';
  /** Whether an earlier boot's property on Object.prototype is visible. */
  builtinLeak: boolean;
  retainedBoots: number;
  flashBoots: number;
}

export function freshRam(hal: Hal, config: unknown): AppHandle {
  const target = (config as { boots?: number }).boots ?? 3;
  moduleBoots++;
  const g = globalThis as unknown as { fieldlinkProbe?: number };
  g.fieldlinkProbe = (g.fieldlinkProbe ?? 0) + 1;
  const proto = Object.prototype as unknown as { fieldlinkProbe?: number };
  const builtinLeak = proto.fieldlinkProbe !== undefined;
  let builtins: FreshRamReport['builtins'] = 'writable';
  try {
    proto.fieldlinkProbe = moduleBoots;
  } catch {
    builtins = 'frozen';
  }
  const retained = hal.retained.load();
  const retainedBoots = (retained?.[0] ?? 0) + 1;
  hal.retained.store(Uint8Array.of(retainedBoots));
  // Flash (erased, 0xFF, when the run starts): byte i is programmed to 0x00 at boot i + 1.
  const bytes = hal.flash.read(0, 64);
  let flashBoots = 0;
  while (flashBoots < bytes.length && bytes[flashBoots] === 0) flashBoots++;
  hal.flash.write(flashBoots, Uint8Array.of(0));
  flashBoots++;
  const report: FreshRamReport = { moduleBoots, globalBoots: g.fieldlinkProbe, builtins, builtinLeak, retainedBoots, flashBoots };
  hal.log.event(EVENTS.freshRamProbe, { ...report });
  if (retainedBoots < target) hal.power.deepSleep(1000);
  return { inspect: () => report };
}
