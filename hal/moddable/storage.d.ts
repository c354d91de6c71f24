/**
 * Module `hal/moddable/storage`: the HAL's `Flash` on each platform, selected by
 * manifests/hal-moddable.json.
 * - `storage-esp32.ts`: Moddable's `flash` module on a data partition.
 * - `storage-sim.ts`: the Moddable simulator has no `flash` module
 *   (modules/files/flash/manifest.json lists esp, esp32 and nrf52 only), so a
 *   file on the host stands in (mc/config `deviceDir`), else RAM; NOR
 *   semantics either way.
 */
import type { Flash } from '../types';

/** The NOR region named `partition`. Throws when the platform has no such region. */
export function openFlash(partition: string): Flash;

/** What `openFlash` gives where nothing durable exists: RAM, lost at every start. */
export function openVolatileFlash(byteLength: number, blockSize: number): Flash;

/** What backs `openFlash` here: a flash `partition` (ESP32), a `host-file` or `ram` (the simulator). */
export function flashKind(): 'partition' | 'host-file' | 'ram';
