/**
 * Module `hal/moddable/native/memory` (memory.c, every platform): the XS
 * machine's peak memory since the last reset.
 */

export interface MemoryPeaks {
  /** Largest chunk heap in use, bytes (garbage not yet collected included). */
  chunkBytes: number;
  /** Most slots in use. */
  slots: number;
  /** The same in bytes: slots x sizeof(txSlot), 16 on a 32-bit chip, 32 on a 64-bit host. */
  slotBytes: number;
  /** Deepest stack, slots; only in instrumented (debug) builds. */
  stackSlots?: number;
}

/** The peaks since the last reset; with `reset`, the next period starts from what is in use now. */
export function peaks(reset: boolean): MemoryPeaks;
