/**
 * Simulated NOR flash: erase sets a block to 0xFF, a write can only clear bits
 * (new = old AND data, as on real NOR). Optionally backed by a file that is
 * written through on every change, so a `kill -9` of the simulator loses nothing
 * the device had written. A power cut can be armed to tear the Nth write: only a
 * prefix of that write reaches the flash.
 */
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';

/** Thrown out of a bridge call to cut the device's power at that instant. */
export class PowerCut extends Error {
  override name = 'PowerCut';
}

export interface FlashOptions {
  byteLength: number;
  blockSize: number;
  /** Backing file (created when missing). */
  path?: string;
}

export class SimFlash {
  readonly byteLength: number;
  readonly blockSize: number;
  readonly bytes: Uint8Array;
  writes = 0;
  erases = 0;
  bytesWritten = 0;
  /** When set, write number `tearAtWrite` (1-based, counted from arming) is torn after `tearKeep` bytes. */
  private tear: { atWrite: number; keep: number } | undefined;
  private fd: number | undefined;

  constructor(options: FlashOptions) {
    this.byteLength = options.byteLength;
    this.blockSize = options.blockSize;
    this.bytes = new Uint8Array(options.byteLength).fill(0xff);
    if (options.path) {
      if (existsSync(options.path)) {
        const saved = readFileSync(options.path);
        if (saved.length === options.byteLength) this.bytes.set(saved);
      }
      this.fd = openSync(options.path, existsSync(options.path) ? 'r+' : 'w+');
      writeSync(this.fd, this.bytes, 0, this.bytes.length, 0);
    }
  }

  /** Changes not made by the device's own writes and erases (faults): a device that copied flash must read it again. */
  outsideChanges = 0;

  /** Invert one bit in place (a fault, not a write: NOR writes only clear bits), written through to the backing file. */
  flipBit(offset: number, bit: number): void {
    this.outsideChanges++;
    this.bytes[offset] ^= 1 << bit;
    if (this.fd !== undefined) writeSync(this.fd, this.bytes, offset, 1, offset);
  }

  /** Arm a power cut: the `nth` write from now keeps only its first `keep` bytes. */
  armTear(nth: number, keep: number): void {
    this.tear = { atWrite: this.writes + nth, keep };
  }

  read(offset: number, length: number): Uint8Array {
    this.check(offset, length);
    return this.bytes.slice(offset, offset + length);
  }

  write(offset: number, data: Uint8Array): void {
    this.check(offset, data.length);
    this.writes++;
    let length = data.length;
    const torn = this.tear !== undefined && this.writes === this.tear.atWrite;
    if (torn) {
      length = Math.min(length, this.tear!.keep);
      this.tear = undefined;
    }
    for (let i = 0; i < length; i++) this.bytes[offset + i] &= data[i];
    this.bytesWritten += length;
    this.persist(offset, length);
    if (torn) throw new PowerCut(`power cut during flash write ${this.writes} (${length} of ${data.length} bytes written)`);
  }

  erase(block: number): void {
    if (!Number.isInteger(block) || block < 0 || (block + 1) * this.blockSize > this.byteLength) {
      throw new RangeError(`flash: erase of block ${block} outside 0..${this.byteLength / this.blockSize - 1}`);
    }
    this.erases++;
    this.bytes.fill(0xff, block * this.blockSize, (block + 1) * this.blockSize);
    this.persist(block * this.blockSize, this.blockSize);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private persist(offset: number, length: number): void {
    if (this.fd !== undefined && length > 0) writeSync(this.fd, this.bytes, offset, length, offset);
  }

  private check(offset: number, length: number): void {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > this.byteLength) {
      throw new RangeError(`flash: access ${offset}+${length} outside 0..${this.byteLength}`);
    }
  }
}
