/**
 * A durable FIFO of records on a NOR flash region (the HAL's `Flash`): a
 * log-structured ring over erase blocks that survives reboots, deep sleep and a
 * power cut at any instant, including in the middle of a write.
 *
 * Layout (all integers little-endian; one erase block shown):
 *
 *   block header, 28 bytes, written once after the block's erase:
 *     0  u32 magic 0x31515446 ("FTQ1")    4  u32 block sequence
 *     8  u32 first record id              12  u32 floor: every id <= floor is consumed or dropped
 *    16  u32 dropped total (cumulative)   20  u32 dropped acknowledged (cumulative)
 *    24  u32 CRC-32 of bytes 0..23
 *   records, appended at 4-byte aligned offsets, never rewritten:
 *     0  u8 type: 0xD5 data, 0xC3 checkpoint,       1  u8 format (1)
 *        0xA9 time note
 *     2  u16 payload length                          4  u32 id (data: the record id;
 *                                                          checkpoint: the next id)
 *     8  u32 CRC-32 of bytes 0..7 and the payload   12  payload, then 0xFF padding
 *   a checkpoint's payload is the same three counters as the header: floor,
 *   dropped total, dropped acknowledged. A time note's payload is an f64, the
 *   last-known-good wall time (firmware/time); the latest is written again
 *   after each new block header, so erasing old blocks never loses it (the
 *   newest block is never erased). The rest of the block stays 0xFF.
 *
 * Why this layout:
 * - One flash write per append (header and payload together) and one per
 *   consume (a 24-byte checkpoint); a block header once per block. Nothing is
 *   ever rewritten, so NOR's "writes only clear bits" is never relied on for
 *   state changes and a torn write can only damage the last thing written.
 * - State is cumulative and monotonic (floor, dropped totals, ids), so recovery
 *   takes the maximum of every valid checkpoint it finds and needs no ordering
 *   between them; every block header is itself a checkpoint, so erasing old
 *   blocks never loses the latest state (the newest block is never erased).
 * - A spare block: at most `blocks - 1` blocks hold unconsumed records. On
 *   overflow the header of the next block records "the oldest block is dropped,
 *   n more records dropped" *before* that block is erased, so no power cut can
 *   make a drop uncounted.
 * - Blocks are reused round-robin from the newest one's physical successor, so
 *   erases spread evenly over the region.
 *
 * Recovery (`open`) reads every block header, then walks only the blocks that
 * can hold unconsumed records (plus the newest) and keeps every record whose
 * CRC holds. A torn write is always the last write into its block, and nothing
 * is appended to that block again (the next append starts a fresh block), so
 * torn bytes can never be mistaken for, or merged with, a later record. Flash
 * content never makes `open` throw; it reads each block at most twice and
 * holds one block buffer and a few numbers per block.
 *
 * Damaged flash (a flipped bit, worn cells) loses no more than the damaged
 * records, and never silently:
 * - A block whose header fails its CRC is still read: its records carry their
 *   own CRCs and ids ("salvaged" block, sequence 0, never appended to).
 * - After a bad record the walk resynchronises on the next valid record (at
 *   4-byte steps, type, format, length, CRC and rising id all checked).
 * - Ids are contiguous while the device runs, so every id between the floor
 *   and the next id that no valid record carries is lost: it is counted in
 *   `droppedTotal` (and so reported in the next batch's `dropped`) until the
 *   floor passes it, when it joins the persisted drop count. Counting is
 *   idempotent: recovery finds the same missing ids again, never twice.
 * - The highest id ever issued is on flash in every record, checkpoint and
 *   block header; a complete record at a block's end whose CRC fails still
 *   proves its id was issued, so that id is never given out again. Only a
 *   record that ends in erased bytes (a torn write) gives its id back.
 *
 * Deep sleep: `snapshot()` (788 bytes for 16 blocks) kept in RTC memory lets
 * `open({ resume })` skip the scan; it is used only if every block header and
 * the newest block's end still match, so a stale snapshot costs a scan, never
 * a wrong queue. Measured in XS (xsnap meter units per open, 64 KB region):
 * resume 40-51 k; scan of a steady-state region at the default rates 421 k,
 * of an erased region 462 k, of a region full of unsent samples 2.4 M (CRC).
 *
 * Contracts:
 * - Record ids start at 1 and strictly increase for the life of the region; a
 *   record that was torn (never complete, never readable) gives its id to the
 *   next append.
 * - `append` returns only after its record is on flash; `consume` likewise.
 * - Exceptions from the Flash (a power cut in the simulator) pass through
 *   untouched; after one, the queue object must not be used again.
 */
import type { Flash } from '../../hal/types';
import { crc32 } from './crc32';

export const BLOCK_HEADER_SIZE = 28;
export const RECORD_HEADER_SIZE = 12;
const CHECKPOINT_SIZE = RECORD_HEADER_SIZE + 12;
const TIME_NOTE_SIZE = RECORD_HEADER_SIZE + 8;
const BLOCK_MAGIC = 0x31515446;
const TYPE_DATA = 0xd5;
const TYPE_CHECKPOINT = 0xc3;
const TYPE_TIME = 0xa9;
const FORMAT = 1;
const MAX_ID = 0xffffffff;

const SNAPSHOT_MAGIC = 0x53515446; // "FTQS"
const SNAPSHOT_HEAD = 88;
const SNAPSHOT_BLOCK = 44;

const FREE = 0;  // erased, all 0xFF
const DIRTY = 1; // not a valid block: torn header, foreign or random content
const LIVE = 2;  // valid header

export type QueueErrorKind =
  | 'too-large'     // the payload cannot fit in one block
  | 'ids-exhausted'; // the u32 id space is used up (never at any realistic rate)

export class QueueError extends Error {
  // A field, not an assignment: Error.prototype is frozen on XS after preload.
  override readonly name = 'QueueError';
  readonly kind: QueueErrorKind;

  constructor(kind: QueueErrorKind, message: string) {
    super(message);
    this.kind = kind;
  }
}

export interface QueueOptions {
  /** First erase block of the region inside `flash`; default 0. */
  firstBlock?: number;
  /** Number of erase blocks, at least 2; default the rest of `flash`. */
  blockCount?: number;
  /**
   * A `snapshot()` kept in RTC memory across deep sleep. When it still matches
   * the flash (checked against every block header and the tail's end), open
   * uses it instead of scanning; when it does not, open scans as usual.
   */
  resume?: Uint8Array;
}

export interface QueuedRecord {
  id: number;
  payload: Uint8Array;
}

export interface PeekOptions {
  /** Only records with an id above this one (a cursor past batches in flight); default the floor. */
  after?: number;
  /** Default 64. */
  maxRecords?: number;
  /** Bound on the sum of payload bytes; the first record is returned even if larger. Default 4096. */
  maxBytes?: number;
}

export interface QueueStats {
  /** Unconsumed records. */
  records: number;
  /** Flash bytes those records occupy (headers, payloads, padding). */
  bytes: number;
  /** Highest `bytes` since open. */
  maxBytes: number;
  /** Flash bytes available to records: (blocks - 1) x (blockSize - block header). */
  capacityBytes: number;
  /** Dropped records not yet acknowledged as reported (`droppedTotal - droppedAcked`). */
  dropped: number;
  /** Every record ever dropped on overflow in this region. */
  droppedTotal: number;
  /** Flash writes and erases by this queue since open. */
  writes: number;
  erases: number;
}

interface Block {
  state: number;
  /** Block sequence: orders blocks that start at the same id. */
  seq: number;
  /** The header's first id. */
  firstId: number;
  /** Id of the first data record, or 0 when the block holds none. */
  firstData: number;
  /** Id of the last data record, or firstId - 1. */
  lastId: number;
  /** Data records and the flash bytes they take. */
  count: number;
  bytes: number;
  /** Next append offset; blockSize when the block is full or sealed. */
  end: number;
}

type Visit = (type: number, id: number, buf: Uint8Array, payload: number, length: number, size: number) => boolean | void;

/** What a walk over one block found. */
interface Walk {
  end: number;
  sealed: boolean;
  /** Bytes that are neither valid records nor erased flash were skipped. */
  damaged: boolean;
  /** Id of a complete record at the block's end that failed its CRC (issued, unreadable); 0 when none. */
  lostTailId: number;
}

function readU32(buf: Uint8Array, at: number): number {
  return (buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16) | (buf[at + 3] << 24)) >>> 0;
}

function align(n: number): number {
  return (n + 3) & ~3;
}

/** True when `buf[from..to)` is all 0xFF; four bytes a step where aligned (an empty block is the common case). */
function erased(buf: Uint8Array, from: number, to: number): boolean {
  let i = from;
  if (((buf.byteOffset + i) & 3) === 0 && to - i >= 16) {
    const words = new Uint32Array(buf.buffer, buf.byteOffset + i, (to - i) >> 2);
    for (let w = 0; w < words.length; w++) if (words[w] !== 0xffffffff) return false;
    i += words.length << 2;
  }
  for (; i < to; i++) if (buf[i] !== 0xff) return false;
  return true;
}

export class TelemetryQueue {
  readonly blockSize: number;
  readonly blockCount: number;
  /** Largest payload one record can carry. */
  readonly maxPayload: number;
  private readonly base: number;
  private readonly blocks: Block[] = [];
  /** LIVE blocks oldest first: by first id, then block sequence. */
  private order: number[] = [];
  private tail = -1;
  private nextSeq = 1;
  private next = 1;
  private floorId = 0;
  private dropTotal = 0;
  private dropAcked = 0;
  private recordCount = 0;
  private recordBytes = 0;
  private peakBytes = 0;
  private writes = 0;
  private erases = 0;
  private fromSnapshot = false;
  /**
   * Ids above the floor that no valid record carries (damaged flash), as
   * ascending inclusive pairs [from, to, from, to, ...]. Counted as dropped.
   */
  private lost: number[] = [];
  /** The latest time note (0: none). */
  private timeNote = 0;

  private constructor(private readonly flash: Flash, options: QueueOptions) {
    const blockSize = flash.blockSize;
    const total = Math.floor(flash.byteLength / blockSize);
    const first = options.firstBlock ?? 0;
    const count = options.blockCount ?? total - first;
    if (!Number.isInteger(first) || !Number.isInteger(count) || first < 0 || count < 2 || first + count > total) {
      throw new RangeError(`queue: blocks ${first}..${first + count - 1} do not fit a flash of ${total} blocks (need at least 2)`);
    }
    if (blockSize < BLOCK_HEADER_SIZE + TIME_NOTE_SIZE + CHECKPOINT_SIZE + RECORD_HEADER_SIZE || blockSize % 4 !== 0) {
      throw new RangeError(`queue: block size ${blockSize} is too small or not a multiple of 4`);
    }
    this.blockSize = blockSize;
    this.blockCount = count;
    this.base = first * blockSize;
    // A new block may begin with a time note; the largest record still fits after it.
    this.maxPayload = Math.min(0xffff, blockSize - BLOCK_HEADER_SIZE - TIME_NOTE_SIZE - RECORD_HEADER_SIZE);
  }

  /** Recover the queue from whatever the region holds. Throws only on bad options. */
  static open(flash: Flash, options: QueueOptions = {}): TelemetryQueue {
    const queue = new TelemetryQueue(flash, options);
    if (!(options.resume instanceof Uint8Array && queue.resume(options.resume))) queue.recover();
    return queue;
  }

  /** True when `open` took its state from a `resume` snapshot instead of scanning the flash. */
  get resumed(): boolean {
    return this.fromSnapshot;
  }

  /** Id the next append will get. */
  get nextId(): number {
    return this.next;
  }

  /** Every id up to this one is consumed (or dropped and counted). */
  get floor(): number {
    return this.floorId;
  }

  get stats(): QueueStats {
    return {
      records: this.recordCount,
      bytes: this.recordBytes,
      maxBytes: this.peakBytes,
      capacityBytes: (this.blockCount - 1) * (this.blockSize - BLOCK_HEADER_SIZE),
      dropped: this.dropTotal + this.lostCount() - this.dropAcked,
      droppedTotal: this.dropTotal + this.lostCount(),
      writes: this.writes,
      erases: this.erases,
    };
  }

  /** The last-known-good wall time kept with the queue, if one was saved. */
  get savedTime(): number | undefined {
    return this.timeNote > 0 ? this.timeNote : undefined;
  }

  /** Durably keep `wallMs` as the last-known-good time (one flash write). */
  saveTime(wallMs: number): void {
    if (!(Number.isFinite(wallMs) && wallMs > 0)) throw new RangeError(`queue: bad time ${wallMs}`);
    const size = align(RECORD_HEADER_SIZE + 8);
    if (this.tail < 0 || this.blocks[this.tail].end + size > this.blockSize) {
      this.timeNote = wallMs;
      this.startBlock(this.floorId, this.dropTotal, this.dropAcked); // writes the note after the header
      return;
    }
    this.writeTimeNote(wallMs);
  }

  private writeTimeNote(wallMs: number): void {
    const body = new Uint8Array(8);
    new DataView(body.buffer).setFloat64(0, wallMs, true);
    const tail = this.blocks[this.tail];
    this.writeRecord(this.tail, tail.end, TYPE_TIME, this.next, body);
    tail.end += align(RECORD_HEADER_SIZE + 8);
    this.timeNote = wallMs;
  }

  /** Durably append one record; on overflow the oldest block of records is dropped and counted. */
  append(payload: Uint8Array): { id: number } | QueueError {
    if (!(payload instanceof Uint8Array)) throw new TypeError('queue: payload must be a Uint8Array');
    if (payload.length > this.maxPayload) {
      return new QueueError('too-large', `payload of ${payload.length} bytes exceeds ${this.maxPayload}`);
    }
    if (this.next > MAX_ID) return new QueueError('ids-exhausted', 'record ids exhausted');
    const size = align(RECORD_HEADER_SIZE + payload.length);
    if (this.tail < 0 || this.blocks[this.tail].end + size > this.blockSize) {
      this.startBlock(this.floorId, this.dropTotal, this.dropAcked);
    }
    const block = this.blocks[this.tail];
    const id = this.next;
    this.writeRecord(this.tail, block.end, TYPE_DATA, id, payload);
    block.end += size;
    if (block.firstData === 0) block.firstData = id;
    block.lastId = id;
    block.count++;
    block.bytes += size;
    this.next = id + 1;
    this.recordCount++;
    this.recordBytes += size;
    if (this.recordBytes > this.peakBytes) this.peakBytes = this.recordBytes;
    return { id };
  }

  /** Unconsumed records in id order, oldest first. Reads flash; writes nothing. */
  peek(options: PeekOptions = {}): QueuedRecord[] {
    const maxRecords = options.maxRecords ?? 64;
    const maxBytes = options.maxBytes ?? 4096;
    let cursor = Math.max(this.floorId, options.after ?? 0);
    const out: QueuedRecord[] = [];
    let total = 0;
    let full = false;
    let found = -1; // a block where the walk found ids missing
    for (const index of this.order) {
      const block = this.blocks[index];
      if (out.length >= maxRecords) {
        full = true;
        break;
      }
      if (block.lastId <= cursor || block.count === 0) continue;
      const buf = this.flash.read(this.base + index * this.blockSize, block.end);
      this.walk(buf, block.end, (type, id, bytes, payload, length) => {
        if (type !== TYPE_DATA || id <= cursor) return;
        if (out.length >= maxRecords || (out.length > 0 && total + length > maxBytes)) {
          full = true;
          return true;
        }
        // Ids run on without a hole; one here is a record that went bad since it was written.
        if (id > cursor + 1 && this.markLost(cursor + 1, id - 1)) found = index;
        out.push({ id, payload: bytes.slice(payload, payload + length) });
        total += length;
        cursor = id;
      });
      if (full) break;
    }
    if (!full && cursor + 1 < this.next && this.markLost(cursor + 1, this.next - 1)) found = this.tail;
    if (found >= 0) {
      // Damage since open: the block's counts no longer hold, and nothing more goes into it.
      const block = this.blocks[found];
      if (block.seq !== 0 || block.state === LIVE) this.rescan(found);
      this.recount();
    }
    return out;
  }

  /** Recount one block's data records from flash and seal it. */
  private rescan(index: number): void {
    const block = this.blocks[index];
    const buf = this.flash.read(this.base + index * this.blockSize, this.blockSize);
    block.firstData = 0;
    block.count = 0;
    block.bytes = 0;
    this.walk(buf, this.blockSize, (type, id, _b, _p, _l, size) => {
      if (type !== TYPE_DATA) return;
      if (block.firstData === 0) block.firstData = id;
      block.lastId = Math.max(block.lastId, id);
      block.count++;
      block.bytes += size;
    }, block.seq !== 0 ? block.firstId - 1 : 0);
    block.end = this.blockSize;
  }

  /**
   * Durably mark every record up to `uptoId` consumed (call it after the PUBACK
   * of the batch that carried them, for the highest id with every batch before
   * it acknowledged too). `droppedTotal` is the `stats.droppedTotal` that was
   * reported in that batch: those drops are acknowledged. Writes nothing when
   * nothing changes.
   */
  consume(uptoId: number, droppedTotal?: number): void {
    if (!Number.isInteger(uptoId) || uptoId < 0) throw new RangeError(`queue: bad id ${uptoId}`);
    const floor = Math.max(this.floorId, Math.min(uptoId, this.next - 1));
    const effective = this.dropTotal + this.lostCount();
    const acked = droppedTotal === undefined ? this.dropAcked : Math.max(this.dropAcked, Math.min(droppedTotal, effective));
    if (floor === this.floorId && acked === this.dropAcked) return;
    // Lost ids the floor passes become part of the persisted drop count, in the same write.
    const dropTotal = Math.min(MAX_ID, this.dropTotal + this.lostUpTo(floor));
    const tail = this.tail >= 0 ? this.blocks[this.tail] : undefined;
    if (tail && tail.end + CHECKPOINT_SIZE <= this.blockSize) {
      const body = new Uint8Array(12);
      const view = new DataView(body.buffer);
      view.setUint32(0, floor, true);
      view.setUint32(4, dropTotal, true);
      view.setUint32(8, acked, true);
      this.writeRecord(this.tail, tail.end, TYPE_CHECKPOINT, this.next, body);
      tail.end += CHECKPOINT_SIZE;
      this.floorId = floor;
      this.dropTotal = dropTotal;
      this.dropAcked = acked;
      this.dropLostUpTo(floor);
    } else {
      this.startBlock(floor, dropTotal, acked);
    }
    this.recount();
  }

  // ---- writing ----

  private writeRecord(index: number, offset: number, type: number, id: number, payload: Uint8Array): void {
    const bytes = new Uint8Array(RECORD_HEADER_SIZE + payload.length);
    const view = new DataView(bytes.buffer);
    bytes[0] = type;
    bytes[1] = FORMAT;
    view.setUint16(2, payload.length, true);
    view.setUint32(4, id, true);
    bytes.set(payload, RECORD_HEADER_SIZE);
    view.setUint32(8, crc32(bytes, RECORD_HEADER_SIZE, bytes.length, crc32(bytes, 0, 8)), true);
    this.writes++;
    this.flash.write(this.base + index * this.blockSize + offset, bytes);
  }

  private reusable(index: number, floor: number): boolean {
    const block = this.blocks[index];
    return block.state !== LIVE || (index !== this.tail && block.lastId <= floor);
  }

  /**
   * Open the next block (round-robin after the tail) with a header that carries
   * the given counters. When that leaves no spare block, the header also drops
   * the oldest block's records and counts them.
   */
  private startBlock(floor: number, dropTotal: number, dropAcked: number): void {
    const n = this.blockCount;
    const from = this.tail < 0 ? 0 : this.tail + 1;
    let target = -1;
    for (let k = 0; k < n && target < 0; k++) {
      const i = (from + k) % n;
      if (i !== this.tail && this.reusable(i, floor)) target = i;
    }
    let victim = -1;
    if (target < 0) {
      // No spare: only after foreign content filled every block. The victim is
      // erased before the header that counts it; if power fails in between,
      // recovery counts the gap in ids instead.
      victim = this.oldestHolding(floor, -1);
      target = victim;
    } else {
      let spare = false;
      for (let i = 0; i < n && !spare; i++) {
        if (i === target) continue;
        const block = this.blocks[i];
        spare = block.state !== LIVE || block.lastId <= floor;
      }
      if (!spare) victim = this.oldestHolding(floor, target);
    }
    if (victim >= 0) {
      // The caller counted lost ids up to the floor it passed; those the victim's drop passes count now.
      const raised = Math.max(floor, this.blocks[victim].lastId);
      dropTotal = Math.min(MAX_ID, dropTotal + this.countAbove(victim, floor).count + this.lostUpTo(raised) - this.lostUpTo(floor));
      floor = raised;
    }
    const block = this.blocks[target];
    if (block.state !== FREE) {
      this.erases++;
      this.flash.erase(this.base / this.blockSize + target);
      block.state = FREE;
    }
    const header = new Uint8Array(BLOCK_HEADER_SIZE);
    const view = new DataView(header.buffer);
    const seq = this.nextSeq;
    view.setUint32(0, BLOCK_MAGIC, true);
    view.setUint32(4, seq, true);
    view.setUint32(8, this.next, true);
    view.setUint32(12, floor, true);
    view.setUint32(16, dropTotal, true);
    view.setUint32(20, dropAcked, true);
    view.setUint32(24, crc32(header, 0, 24), true);
    this.writes++;
    this.flash.write(this.base + target * this.blockSize, header);

    block.state = LIVE;
    block.seq = seq;
    block.firstId = this.next;
    block.firstData = 0;
    block.lastId = this.next - 1;
    block.count = 0;
    block.bytes = 0;
    block.end = BLOCK_HEADER_SIZE;
    this.nextSeq = (seq + 1) >>> 0;
    const at = this.order.indexOf(target);
    if (at >= 0) this.order.splice(at, 1);
    this.order.push(target);
    this.tail = target;
    this.floorId = floor;
    this.dropTotal = dropTotal;
    this.dropLostUpTo(floor);
    this.dropAcked = Math.min(dropAcked, dropTotal + this.lostCount());
    if (this.timeNote > 0) this.writeTimeNote(this.timeNote);
    if (victim >= 0) this.recount();
  }

  // ---- lost ids ----

  private lostCount(): number {
    let n = 0;
    for (let i = 0; i < this.lost.length; i += 2) n += this.lost[i + 1] - this.lost[i] + 1;
    return n;
  }

  /** Lost ids at or below `id`. */
  private lostUpTo(id: number): number {
    let n = 0;
    for (let i = 0; i < this.lost.length && this.lost[i] <= id; i += 2) n += Math.min(id, this.lost[i + 1]) - this.lost[i] + 1;
    return n;
  }

  private dropLostUpTo(id: number): void {
    const kept: number[] = [];
    for (let i = 0; i < this.lost.length; i += 2) {
      if (this.lost[i + 1] <= id) continue;
      kept.push(Math.max(this.lost[i], id + 1), this.lost[i + 1]);
    }
    this.lost = kept;
  }

  /** Record ids `from..to` (above the floor) as lost; true when any was not known lost yet. */
  private markLost(from: number, to: number): boolean {
    from = Math.max(from, this.floorId + 1);
    if (from > to) return false;
    const before = this.lostCount();
    const pairs: number[] = [];
    let placed = false;
    for (let i = 0; i < this.lost.length; i += 2) {
      const a = this.lost[i];
      const b = this.lost[i + 1];
      if (b + 1 < from || a > to + 1) {
        if (!placed && a > to + 1) {
          pairs.push(from, to);
          placed = true;
        }
        pairs.push(a, b);
      } else {
        from = Math.min(from, a);
        to = Math.max(to, b);
      }
    }
    if (!placed) pairs.push(from, to);
    this.lost = pairs;
    return this.lostCount() !== before;
  }

  /** The oldest LIVE block other than `except` that still holds records above `floor`. */
  private oldestHolding(floor: number, except: number): number {
    for (const index of this.order) {
      if (index !== except && this.blocks[index].state === LIVE && this.blocks[index].lastId > floor) return index;
    }
    // Unreachable with two or more blocks; fall back to the oldest block that is not `except`.
    for (const index of this.order) if (index !== except) return index;
    return except === 0 ? 1 : 0;
  }

  // ---- reading ----

  /**
   * Visit each valid record of `buf[BLOCK_HEADER_SIZE..limit)`, in order, until
   * erased flash (the end) or `visit` returns true. Bytes that are neither are
   * skipped 4 at a time until the next valid record (resynchronisation); the
   * block is then sealed. Data ids must rise within a block, above `before`
   * (the id before the block's first, or 0 when unknown).
   */
  private walk(buf: Uint8Array, limit: number, visit: Visit, before = 0): Walk {
    let p = BLOCK_HEADER_SIZE;
    let lastData = before;
    let bad = -1; // start of the damaged bytes being skipped
    let damaged = false;
    while (p + RECORD_HEADER_SIZE <= limit) {
      if (erased(buf, p, p + RECORD_HEADER_SIZE) && erased(buf, p, limit)) break;
      const length = this.validAt(buf, p, limit, lastData);
      if (length < 0) {
        if (bad < 0) bad = p;
        damaged = true;
        p += 4;
        continue;
      }
      bad = -1;
      const type = buf[p];
      const id = readU32(buf, p + 4);
      const size = align(RECORD_HEADER_SIZE + length);
      if (type === TYPE_DATA) lastData = id;
      if (visit(type, id, buf, p + RECORD_HEADER_SIZE, length, size)) return { end: p, sealed: false, damaged, lostTailId: 0 };
      p += size;
    }
    if (!damaged) {
      // Fewer bytes left than a record header: full (any stray bytes there are harmless).
      return { end: Math.min(p, this.blockSize), sealed: false, damaged, lostTailId: 0 };
    }
    return { end: this.blockSize, sealed: true, damaged, lostTailId: bad < 0 ? 0 : this.completeBadRecord(buf, bad, limit, lastData) };
  }

  /** Payload length of a valid record at `p` (type, format, bounds, CRC, rising data id), or -1. */
  private validAt(buf: Uint8Array, p: number, limit: number, lastData: number): number {
    const type = buf[p];
    const length = buf[p + 2] | (buf[p + 3] << 8);
    const body = p + RECORD_HEADER_SIZE;
    if (!(type === TYPE_DATA || (type === TYPE_CHECKPOINT && length === 12) || (type === TYPE_TIME && length === 8)) || buf[p + 1] !== FORMAT || body + length > limit) return -1;
    if (type === TYPE_DATA && readU32(buf, p + 4) <= lastData) return -1;
    return readU32(buf, p + 8) === crc32(buf, body, body + length, crc32(buf, p, p + 8)) ? length : -1;
  }

  /**
   * The id of the data record at `p`, the last written bytes of its block,
   * that failed its CRC when it is complete (not a torn write, which is a
   * prefix of the record followed by erased bytes); 0 when it is torn. A
   * record whose last byte was written is complete; one that ends in 0xFF is
   * complete when one flipped bit before that erased end explains its CRC
   * failure (tried for records up to 64 bytes: every sample). An id that a flip made implausible is taken
   * as the next after `lastData`.
   */
  private completeBadRecord(buf: Uint8Array, p: number, limit: number, lastData: number): number {
    let record = buf.slice(p, Math.min(limit, p + 64));
    const length = record[2] | (record[3] << 8);
    const end = p + RECORD_HEADER_SIZE + length;
    let complete = record[0] === TYPE_DATA && record[1] === FORMAT && end <= limit && buf[end - 1] !== 0xff;
    if (!complete && record.length >= RECORD_HEADER_SIZE) {
      // Bits in the trailing erased run may be where a write stopped: they do not count as flips.
      let written = record.length;
      while (written > 0 && record[written - 1] === 0xff) written--;
      for (let bit = 0; bit < written * 8 && !complete; bit++) {
        record[bit >> 3] ^= 1 << (bit & 7);
        complete = this.validAt(record, 0, record.length, 0) >= 0 && record[0] === TYPE_DATA;
        if (!complete) record[bit >> 3] ^= 1 << (bit & 7);
      }
    }
    if (!complete) return 0;
    const id = readU32(record, 4);
    const most = lastData + Math.floor(this.blockSize / (RECORD_HEADER_SIZE + 4));
    return id > lastData && id <= most ? id : lastData + 1;
  }

  /** Data records of one block with ids above `floor`. */
  private countAbove(index: number, floor: number): { count: number; bytes: number } {
    const block = this.blocks[index];
    if (block.state !== LIVE || block.lastId <= floor || block.count === 0) return { count: 0, bytes: 0 };
    if (block.firstData > floor) return { count: block.count, bytes: block.bytes };
    let count = 0;
    let bytes = 0;
    const buf = this.flash.read(this.base + index * this.blockSize, block.end);
    this.walk(buf, block.end, (type, id, _b, _p, _l, size) => {
      if (type === TYPE_DATA && id > floor) {
        count++;
        bytes += size;
      }
    });
    return { count, bytes };
  }

  /** Count what `peek` would return: ids above the floor, rising across blocks. */
  private recount(): void {
    let count = 0;
    let bytes = 0;
    let cursor = this.floorId;
    for (const index of this.order) {
      const above = this.countAbove(index, cursor);
      count += above.count;
      bytes += above.bytes;
      if (this.blocks[index].lastId > cursor) cursor = this.blocks[index].lastId;
    }
    this.recordCount = count;
    this.recordBytes = bytes;
    if (bytes > this.peakBytes) this.peakBytes = bytes;
  }

  /**
   * Scan the region. Pass 1 reads every block header, and salvages a block
   * whose header is bad but whose body holds valid records; pass 2 reads and
   * walks only the blocks that can hold unconsumed records (a block whose
   * successor starts at or below the floor recorded in the headers holds none,
   * and its checkpoints are superseded by that later header) and checks that
   * blocks with an erased header are erased throughout. Then every id between
   * the floor and the next id that no valid record carries is marked lost.
   */
  private recover(): void {
    const size = this.blockSize;
    let floor = 0;
    let dropTotal = 0;
    let dropAcked = 0;
    let next = 1;
    let maxSeq = 0;
    /** Data ids seen, per block: walked blocks only, in the order walked. */
    const seen: number[][] = [];
    const walkBlock = (block: Block, buf: Uint8Array, ids: number[]): Walk => {
      const walked = this.walk(buf, size, (type, id, bytes, payload, _length, recordSize) => {
        if (type === TYPE_TIME) {
          const t = new DataView(bytes.buffer, bytes.byteOffset + payload, 8).getFloat64(0, true);
          if (t > this.timeNote) this.timeNote = t;
          next = Math.max(next, id);
          if (block.firstId === 0) block.firstId = id;
          return;
        }
        if (type === TYPE_CHECKPOINT) {
          const v = new DataView(bytes.buffer, bytes.byteOffset + payload, 12);
          floor = Math.max(floor, v.getUint32(0, true));
          dropTotal = Math.max(dropTotal, v.getUint32(4, true));
          dropAcked = Math.max(dropAcked, v.getUint32(8, true));
          next = Math.max(next, id);
          if (block.firstId === 0) block.firstId = id;
          return;
        }
        if (block.firstId === 0) block.firstId = id;
        if (block.firstData === 0) block.firstData = id;
        block.lastId = id;
        block.count++;
        block.bytes += recordSize;
        ids.push(id);
      }, block.firstId > 0 ? block.firstId - 1 : 0);
      block.end = walked.end;
      // Bytes after the last record that are not erased flash: never append into them.
      if (block.end < size && block.end + RECORD_HEADER_SIZE <= size && !erased(buf, block.end, size)) block.end = size;
      next = Math.max(next, block.lastId + 1, walked.lostTailId + 1);
      return walked;
    };
    const salvaged = new Map<number, number[]>();
    for (let index = 0; index < this.blockCount; index++) {
      const block: Block = { state: DIRTY, seq: 0, firstId: 0, firstData: 0, lastId: 0, count: 0, bytes: 0, end: size };
      this.blocks.push(block);
      const head = this.flash.read(this.base + index * size, BLOCK_HEADER_SIZE);
      const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
      if (view.getUint32(0, true) !== BLOCK_MAGIC || view.getUint32(24, true) !== crc32(head, 0, 24)) {
        if (erased(head, 0, BLOCK_HEADER_SIZE)) {
          block.state = FREE; // checked throughout below
          continue;
        }
        // A damaged header: the records still carry their own ids and CRCs.
        const ids: number[] = [];
        walkBlock(block, this.flash.read(this.base + index * size, size), ids);
        if (block.firstId > 0) {
          block.state = LIVE; // sequence 0 marks it salvaged; it is never appended to
          block.end = size;
          if (block.lastId === 0) block.lastId = block.firstId - 1;
          salvaged.set(index, ids);
        } else {
          block.firstData = block.lastId = block.count = block.bytes = 0;
        }
        continue;
      }
      block.state = LIVE;
      block.seq = view.getUint32(4, true);
      block.firstId = view.getUint32(8, true);
      block.lastId = block.firstId - 1;
      floor = Math.max(floor, view.getUint32(12, true));
      dropTotal = Math.max(dropTotal, view.getUint32(16, true));
      dropAcked = Math.max(dropAcked, view.getUint32(20, true));
      next = Math.max(next, block.firstId);
      if (block.seq > maxSeq) maxSeq = block.seq;
    }
    this.order = [];
    for (let i = 0; i < this.blockCount; i++) if (this.blocks[i].state === LIVE) this.order.push(i);
    // Ring order is id order; the sequence orders blocks that start at the same
    // id (a block holding only checkpoints, then the next).
    this.order.sort((a, b) => this.blocks[a].firstId - this.blocks[b].firstId || this.blocks[a].seq - this.blocks[b].seq || a - b);
    const headerFloor = floor;
    for (let k = 0; k < this.order.length; k++) {
      const block = this.blocks[this.order[k]];
      const early = salvaged.get(this.order[k]);
      if (early) {
        seen.push(early);
        continue;
      }
      const successor = k + 1 < this.order.length ? this.blocks[this.order[k + 1]] : undefined;
      if (successor && successor.firstId > block.firstId && successor.firstId - 1 <= headerFloor) {
        block.lastId = successor.firstId - 1; // an upper bound, and at or below the floor
        continue;
      }
      const ids: number[] = [];
      walkBlock(block, this.flash.read(this.base + this.order[k] * size, size), ids);
      seen.push(ids);
    }
    for (let index = 0; index < this.blockCount; index++) {
      const block = this.blocks[index];
      if (block.state !== FREE) continue;
      if (erased(this.flash.read(this.base + index * size, size), BLOCK_HEADER_SIZE, size)) block.end = BLOCK_HEADER_SIZE;
      else block.state = DIRTY;
    }
    this.tail = this.order.length ? this.order[this.order.length - 1] : -1;
    this.nextSeq = (maxSeq + 1) >>> 0;
    this.next = Math.max(next, floor + 1);
    this.floorId = floor;
    this.dropTotal = dropTotal;
    // Ids run on without a hole while the device runs (a torn record's id goes
    // to the next append), so every id up to `next - 1` without a valid record
    // is lost: before the oldest record, between records, after the newest.
    let previous = floor;
    for (const ids of seen) {
      for (const id of ids) {
        if (id > previous + 1) this.markLost(previous + 1, id - 1);
        if (id > previous) previous = id;
      }
    }
    if (this.next - 1 > previous) this.markLost(previous + 1, this.next - 1);
    this.dropAcked = Math.min(dropAcked, dropTotal + this.lostCount());
    this.recount();
  }

  // ---- deep-sleep fast path ----

  /**
   * The queue's RAM state (88 + 44 bytes a block + 16 per range of lost ids +
   * 4: 796 bytes for 16 blocks and no damage) for RTC memory. Take it just
   * before deep sleep: any flash change after it makes `resume` fall back to a scan.
   */
  snapshot(): Uint8Array {
    const n = this.blockCount;
    const lostAt = SNAPSHOT_HEAD + n * SNAPSHOT_BLOCK;
    const bytes = new Uint8Array(lostAt + this.lost.length * 8 + 4);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, SNAPSHOT_MAGIC, true);
    view.setUint16(4, n, true);
    view.setUint16(6, this.lost.length >> 1, true);
    this.lost.forEach((id, i) => view.setFloat64(lostAt + 8 * i, id, true));
    view.setUint32(8, this.blockSize, true);
    view.setUint32(12, this.base, true);
    view.setInt32(16, this.tail, true);
    view.setUint32(20, this.nextSeq, true);
    const wide = [this.next, this.floorId, this.dropTotal, this.dropAcked, this.recordCount, this.recordBytes, this.peakBytes, this.timeNote];
    wide.forEach((value, i) => view.setFloat64(24 + 8 * i, value, true));
    for (let i = 0; i < n; i++) {
      const b = this.blocks[i];
      const at = SNAPSHOT_HEAD + i * SNAPSHOT_BLOCK;
      view.setUint8(at, b.state);
      view.setUint32(at + 4, b.seq, true);
      view.setFloat64(at + 8, b.firstId, true);
      view.setFloat64(at + 16, b.firstData, true);
      view.setFloat64(at + 24, b.lastId, true);
      view.setUint32(at + 32, b.count, true);
      view.setUint32(at + 36, b.bytes, true);
      view.setUint32(at + 40, b.end, true);
    }
    view.setUint32(bytes.length - 4, crc32(bytes, 0, bytes.length - 4), true);
    return bytes;
  }

  /** Take the state from a snapshot if it is intact and still describes the flash. */
  private resume(bytes: Uint8Array): boolean {
    const n = this.blockCount;
    if (bytes.length < SNAPSHOT_HEAD + n * SNAPSHOT_BLOCK + 4) return false;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const lostAt = SNAPSHOT_HEAD + n * SNAPSHOT_BLOCK;
    const lostPairs = view.getUint16(6, true);
    if (bytes.length !== lostAt + lostPairs * 16 + 4) return false;
    if (view.getUint32(0, true) !== SNAPSHOT_MAGIC || view.getUint16(4, true) !== n ||
      view.getUint32(8, true) !== this.blockSize || view.getUint32(12, true) !== this.base ||
      view.getUint32(bytes.length - 4, true) !== crc32(bytes, 0, bytes.length - 4)) return false;
    const blocks: Block[] = [];
    for (let i = 0; i < n; i++) {
      const at = SNAPSHOT_HEAD + i * SNAPSHOT_BLOCK;
      const block: Block = {
        state: view.getUint8(at), seq: view.getUint32(at + 4, true), firstId: view.getFloat64(at + 8, true),
        firstData: view.getFloat64(at + 16, true), lastId: view.getFloat64(at + 24, true),
        count: view.getUint32(at + 32, true), bytes: view.getUint32(at + 36, true), end: view.getUint32(at + 40, true),
      };
      if (block.state > LIVE || block.end > this.blockSize) return false;
      // The block header on flash must still say what the snapshot says.
      const head = this.flash.read(this.base + i * this.blockSize, BLOCK_HEADER_SIZE);
      const h = new DataView(head.buffer, head.byteOffset, head.byteLength);
      const valid = h.getUint32(0, true) === BLOCK_MAGIC && h.getUint32(24, true) === crc32(head, 0, 24);
      const salvaged = block.state === LIVE && block.seq === 0;
      if (block.state === FREE ? !erased(head, 0, BLOCK_HEADER_SIZE) : block.state === DIRTY || salvaged ? valid || erased(head, 0, BLOCK_HEADER_SIZE)
        : !valid || h.getUint32(4, true) !== block.seq || h.getUint32(8, true) !== block.firstId) return false;
      blocks.push(block);
    }
    const tail = view.getInt32(16, true);
    if (tail < -1 || tail >= n || (tail >= 0 && blocks[tail].state !== LIVE)) return false;
    // Nothing appended to the tail since the snapshot.
    if (tail >= 0 && blocks[tail].end + RECORD_HEADER_SIZE <= this.blockSize) {
      const next = this.flash.read(this.base + tail * this.blockSize + blocks[tail].end, RECORD_HEADER_SIZE);
      if (!erased(next, 0, RECORD_HEADER_SIZE)) return false;
    }
    const wide: number[] = [];
    for (let i = 0; i < 7; i++) wide.push(view.getFloat64(24 + 8 * i, true));
    if (wide.some((value) => !Number.isInteger(value) || value < 0 || value > MAX_ID + 1)) return false;
    const timeNote = view.getFloat64(80, true);
    if (!(timeNote >= 0)) return false;
    for (const block of blocks) this.blocks.push(block);
    this.order = [];
    for (let i = 0; i < n; i++) if (blocks[i].state === LIVE) this.order.push(i);
    this.order.sort((a, b) => blocks[a].firstId - blocks[b].firstId || blocks[a].seq - blocks[b].seq || a - b);
    this.tail = tail;
    this.nextSeq = view.getUint32(20, true);
    [this.next, this.floorId, this.dropTotal, this.dropAcked, this.recordCount, this.recordBytes, this.peakBytes] = wide;
    this.timeNote = timeNote;
    this.lost = [];
    for (let i = 0; i < lostPairs * 2; i++) this.lost.push(view.getFloat64(lostAt + 8 * i, true));
    this.fromSnapshot = true;
    return true;
  }
}
