/**
 * `hal/moddable/storage` on ESP32: Moddable's `flash` module over a data
 * partition (modules/files/flash/esp32/flash.c: `esp_partition_find_first(DATA,
 * ANY, name)`). Offsets are partition-relative; `erase(n)` erases the n-th
 * 4 KB sector; `write` programs without erasing, as NOR does.
 */
import Flash from 'flash';
import type * as Storage from './storage';
import { createRamFlash } from './flash-ram';

export const openVolatileFlash: typeof Storage.openVolatileFlash = (byteLength, blockSize) => createRamFlash(byteLength, blockSize);

export const openFlash: typeof Storage.openFlash = (partition) => {
  const flash = new Flash(partition); // throws "can't find partition" when the table has none
  const byteLength = flash.byteLength;
  const blockSize = flash.blockSize;
  return {
    byteLength,
    blockSize,
    read(offset, length) {
      return new Uint8Array(flash.read(offset, length) as ArrayBuffer);
    },
    write(offset, bytes) {
      flash.write(offset, bytes.byteLength, bytes);
    },
    erase(block) {
      flash.erase(block);
    },
  };
};

export const flashKind: typeof Storage.flashKind = () => 'partition';
