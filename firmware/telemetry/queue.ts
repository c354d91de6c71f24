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

/**
 * Snapshot layout, u32 words in the chip's byte order (RTC memory never
 * leaves it): 0 magic "FTQS", 1 blocks, 2-3 the time note (f64), 4 words of
 * lost ids, 5 block size, 6 region base, 7 tail + 1, 8 next block sequence,
 * 9 next id - 1, 10 floor, 11 dropped total, 12 dropped acknowledged,
 * 13 records, 14 their bytes, 15 peak bytes; then per block: state, sequence,
 * first id, first data id, last id, count, bytes, end; then the lost id pairs;
 * then a hash of every word before it.
 */
const SNAPSHOT_MAGIC = 0x53515446;
const SNAPSHOT_HEAD = 16;
const SNAPSHOT_BLOCK = 8;

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
  /** Id of a complete record at the block's end that failed its CRC (issued, unreadable); 0 when none. */
  lostTailId: number;
}

function readU32(buf: Uint8Array, at: number): number {
  return (buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16) | (buf[at + 3] << 24)) >>> 0;
}

/** Write `values` as little-endian u32s into `buf` from `at`; returns `buf`. */
function putU32(buf: Uint8Array, at: number, ...values: number[]): Uint8Array {
  for (const v of values) {
    buf[at++] = v;
    buf[at++] = v >>> 8;
    buf[at++] = v >>> 16;
    buf[at++] = v >>> 24;
  }
  return buf;
}

function align(n: number): number {
  return (n + 3) & ~3;
}

/** True when a block's first bytes are a valid block header. */
function validHeader(head: Uint8Array): boolean {
  return readU32(head, 0) === BLOCK_MAGIC && readU32(head, 24) === crc32(head, 0, 24);
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

/**
 * The snapshot's check: FNV-1a's step over 32-bit words. Each step is a
 * bijection of the running value, so any change confined to one word (a
 * flipped bit) changes the result; a word a step, it costs XS a tenth of
 * CRC-32 over the same bytes.
 */
/** Counts a data record of `size` bytes found or written in `block` (ids only rise within a block). */
function tally(block: Block, id: number, size: number): void {
  if (block.firstData === 0) block.firstData = id;
  block.lastId = Math.max(block.lastId, id);
  block.count++;
  block.bytes += size;
}

function hashWords(words: Uint32Array, end: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < end; i++) h = Math.imul(h ^ words[i], 0x01000193);
  return h >>> 0;
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
    const droppedTotal = this.dropTotal + this.lostUpTo(Infinity);
    return {
      records: this.recordCount,
      bytes: this.recordBytes,
      maxBytes: this.peakBytes,
      capacityBytes: (this.blockCount - 1) * (this.blockSize - BLOCK_HEADER_SIZE),
      dropped: droppedTotal - this.dropAcked,
      droppedTotal,
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
    this.timeNote = wallMs;
    if (this.room(TIME_NOTE_SIZE)) this.writeTimeNote();
    else this.startBlock(this.floorId, this.dropTotal, this.dropAcked); // writes the note after the header
  }

  /** Durably append one record; on overflow the oldest block of records is dropped and counted. */
  append(payload: Uint8Array): { id: number } | QueueError {
    if (!(payload instanceof Uint8Array)) throw new TypeError('queue: payload must be a Uint8Array');
    if (payload.length > this.maxPayload) {
      return new QueueError('too-large', `payload of ${payload.length} bytes exceeds ${this.maxPayload}`);
    }
    if (this.next > MAX_ID) return new QueueError('ids-exhausted', 'record ids exhausted');
    if (!this.room(align(RECORD_HEADER_SIZE + payload.length))) this.startBlock(this.floorId, this.dropTotal, this.dropAcked);
    const block = this.blocks[this.tail];
    const id = this.next;
    const size = this.writeTail(TYPE_DATA, id, payload);
    tally(block, id, size);
    this.next = id + 1;
    this.setRecords(this.recordCount + 1, this.recordBytes + size);
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
      this.walk(this.read(index, block.end), block.end, (type, id, bytes, payload, length) => {
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
    block.firstData = 0;
    block.count = 0;
    block.bytes = 0;
    this.walk(this.read(index, this.blockSize), this.blockSize, (type, id, _b, _p, _l, size) => {
      if (type === TYPE_DATA) tally(block, id, size);
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
    const effective = this.dropTotal + this.lostUpTo(Infinity);
    const acked = droppedTotal === undefined ? this.dropAcked : Math.max(this.dropAcked, Math.min(droppedTotal, effective));
    if (floor === this.floorId && acked === this.dropAcked) return;
    // Lost ids the floor passes become part of the persisted drop count, in the same write.
    const dropTotal = Math.min(MAX_ID, this.dropTotal + this.lostUpTo(floor));
    if (this.room(CHECKPOINT_SIZE)) {
      this.writeTail(TYPE_CHECKPOINT, this.next, putU32(new Uint8Array(12), 0, floor, dropTotal, acked));
      this.floorId = floor;
      this.dropTotal = dropTotal;
      this.dropAcked = acked;
      this.dropLostUpTo(floor);
    } else {
      this.startBlock(floor, dropTotal, acked);
    }
    this.recount();
  }

  // ---- flash ----

  /** `length` bytes of block `index` from offset `at`. */
  private read(index: number, length: number, at = 0): Uint8Array {
    return this.flash.read(this.base + index * this.blockSize + at, length);
  }

  private write(index: number, at: number, bytes: Uint8Array): void {
    this.writes++;
    this.flash.write(this.base + index * this.blockSize + at, bytes);
  }

  /** True when the tail block has `size` bytes left. */
  private room(size: number): boolean {
    return this.tail >= 0 && this.blocks[this.tail].end + size <= this.blockSize;
  }

  /** Append one record to the tail block; returns the flash bytes it takes. */
  private writeTail(type: number, id: number, payload: Uint8Array): number {
    const tail = this.blocks[this.tail];
    const bytes = new Uint8Array(RECORD_HEADER_SIZE + payload.length);
    putU32(bytes, 0, type | (FORMAT << 8) | (payload.length << 16), id);
    bytes.set(payload, RECORD_HEADER_SIZE);
    putU32(bytes, 8, crc32(bytes, RECORD_HEADER_SIZE, bytes.length, crc32(bytes, 0, 8)));
    this.write(this.tail, tail.end, bytes);
    const size = align(bytes.length);
    tail.end += size;
    return size;
  }

  private writeTimeNote(): void {
    const body = new Uint8Array(8);
    new DataView(body.buffer).setFloat64(0, this.timeNote, true);
    this.writeTail(TYPE_TIME, this.next, body);
  }

  /**
   * Open the next block (round-robin after the tail) with a header that carries
   * the given counters. When that leaves no spare block, the header also drops
   * the oldest block's records and counts them.
   */
  private startBlock(floor: number, dropTotal: number, dropAcked: number): void {
    const n = this.blockCount;
    const free = (i: number) => this.blocks[i].state !== LIVE || this.blocks[i].lastId <= floor;
    let target = -1;
    for (let k = 1; k <= n && target < 0; k++) {
      const i = (this.tail + k) % n;
      if (i !== this.tail && free(i)) target = i;
    }
    let victim = -1;
    if (target < 0) {
      // No spare: only after foreign content filled every block. The victim is
      // erased before the header that counts it; if power fails in between,
      // recovery counts the gap in ids instead.
      victim = target = this.oldestHolding(floor, -1);
    } else {
      let spare = false;
      for (let i = 0; i < n && !spare; i++) spare = i !== target && free(i);
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
    const seq = this.nextSeq;
    const header = putU32(new Uint8Array(BLOCK_HEADER_SIZE), 0, BLOCK_MAGIC, seq, this.next, floor, dropTotal, dropAcked);
    this.write(target, 0, putU32(header, 24, crc32(header, 0, 24)));
    Object.assign(block, { state: LIVE, seq, firstId: this.next, firstData: 0, lastId: this.next - 1, count: 0, bytes: 0, end: BLOCK_HEADER_SIZE });
    this.nextSeq = (seq + 1) >>> 0;
    const at = this.order.indexOf(target);
    if (at >= 0) this.order.splice(at, 1);
    this.order.push(target);
    this.tail = target;
    this.floorId = floor;
    this.dropTotal = dropTotal;
    this.dropLostUpTo(floor);
    this.dropAcked = Math.min(dropAcked, dropTotal + this.lostUpTo(Infinity));
    if (this.timeNote > 0) this.writeTimeNote();
    if (victim >= 0) this.recount();
  }

  /** The oldest block other than `except` that still holds records above `floor`. */
  private oldestHolding(floor: number, except: number): number {
    for (const index of this.order) if (index !== except && this.blocks[index].lastId > floor) return index;
    // Unreachable with two or more blocks; fall back to the oldest block that is not `except`.
    for (const index of this.order) if (index !== except) return index;
    return except === 0 ? 1 : 0;
  }

  // ---- lost ids ----

  /** Lost ids at or below `id` (all of them for Infinity). */
  private lostUpTo(id: number): number {
    let n = 0;
    for (let i = 0; i < this.lost.length && this.lost[i] <= id; i += 2) n += Math.min(id, this.lost[i + 1]) - this.lost[i] + 1;
    return n;
  }

  private dropLostUpTo(id: number): void {
    const kept: number[] = [];
    for (let i = 0; i < this.lost.length; i += 2) {
      if (this.lost[i + 1] > id) kept.push(Math.max(this.lost[i], id + 1), this.lost[i + 1]);
    }
    this.lost = kept;
  }

  /** Record ids `from..to` (above the floor) as lost; true when any was not known lost yet. */
  private markLost(from: number, to: number): boolean {
    from = Math.max(from, this.floorId + 1);
    if (from > to) return false;
    const before = this.lostUpTo(Infinity);
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
    return this.lostUpTo(Infinity) !== before;
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
      if (visit(type, id, buf, p + RECORD_HEADER_SIZE, length, size)) return { end: p, lostTailId: 0 };
      p += size;
    }
    // Undamaged, fewer bytes left than a record header means full (any stray bytes there are harmless).
    if (!damaged) return { end: Math.min(p, this.blockSize), lostTailId: 0 };
    return { end: this.blockSize, lostTailId: bad < 0 ? 0 : this.completeBadRecord(buf, bad, limit, lastData) };
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
    const record = buf.slice(p, Math.min(limit, p + 64));
    const end = p + RECORD_HEADER_SIZE + (record[2] | (record[3] << 8));
    let complete = record[0] === TYPE_DATA && record[1] === FORMAT && end <= limit && buf[end - 1] !== 0xff;
    if (!complete && record.length >= RECORD_HEADER_SIZE) {
      // Bits in the trailing erased run may be where a write stopped: they do not count as flips.
      let written = record.length;
      while (written > 0 && record[written - 1] === 0xff) written--;
      for (let bit = 0; bit < written * 8 && !complete; bit++) {
        record[bit >> 3] ^= 1 << (bit & 7);
        complete = record[0] === TYPE_DATA && this.validAt(record, 0, record.length, 0) >= 0;
        if (!complete) record[bit >> 3] ^= 1 << (bit & 7);
      }
    }
    if (!complete) return 0;
    const id = readU32(record, 4);
    return id > lastData && id <= lastData + Math.floor(this.blockSize / (RECORD_HEADER_SIZE + 4)) ? id : lastData + 1;
  }

  /** Data records of one block with ids above `floor`. */
  private countAbove(index: number, floor: number): { count: number; bytes: number } {
    const block = this.blocks[index];
    if (block.state !== LIVE || block.lastId <= floor || block.count === 0) return { count: 0, bytes: 0 };
    if (block.firstData > floor) return { count: block.count, bytes: block.bytes };
    const above = { count: 0, bytes: 0 };
    this.walk(this.read(index, block.end), block.end, (type, id, _b, _p, _l, size) => {
      if (type === TYPE_DATA && id > floor) {
        above.count++;
        above.bytes += size;
      }
    });
    return above;
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
      cursor = Math.max(cursor, this.blocks[index].lastId);
    }
    this.setRecords(count, bytes);
  }

  private setRecords(count: number, bytes: number): void {
    this.recordCount = count;
    this.recordBytes = bytes;
    if (bytes > this.peakBytes) this.peakBytes = bytes;
  }

  /** LIVE blocks oldest first: ring order is id order; the sequence orders blocks that start at the same id (one holding only checkpoints, then the next). */
  private sortOrder(): void {
    const b = this.blocks;
    this.order = [];
    for (let i = 0; i < this.blockCount; i++) if (b[i].state === LIVE) this.order.push(i);
    this.order.sort((x, y) => b[x].firstId - b[y].firstId || b[x].seq - b[y].seq || x - y);
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
    /** Raise the counters to a header's or a checkpoint's: floor, dropped total, dropped acknowledged from `at`. */
    const raise = (buf: Uint8Array, at: number) => {
      floor = Math.max(floor, readU32(buf, at));
      dropTotal = Math.max(dropTotal, readU32(buf, at + 4));
      dropAcked = Math.max(dropAcked, readU32(buf, at + 8));
    };
    /**
     * Walk a whole block; returns the data ids seen as runs of consecutive ids,
     * [first, last, first, last, ...]: a few numbers a block instead of one per
     * record (a full region holds thousands).
     */
    const walkBlock = (block: Block, index: number): number[] => {
      const ids: number[] = [];
      const buf = this.read(index, size);
      const walked = this.walk(buf, size, (type, id, bytes, payload, _length, recordSize) => {
        if (block.firstId === 0) block.firstId = id;
        if (type === TYPE_DATA) {
          tally(block, id, recordSize);
          if (ids.length && ids[ids.length - 1] + 1 === id) ids[ids.length - 1] = id;
          else ids.push(id, id);
          return;
        }
        next = Math.max(next, id);
        if (type === TYPE_CHECKPOINT) return raise(bytes, payload);
        const t = new DataView(bytes.buffer, bytes.byteOffset + payload, 8).getFloat64(0, true);
        if (t > this.timeNote) this.timeNote = t;
      }, block.firstId > 0 ? block.firstId - 1 : 0);
      block.end = walked.end;
      // Bytes after the last record that are not erased flash: never append into them.
      if (block.end + RECORD_HEADER_SIZE <= size && !erased(buf, block.end, size)) block.end = size;
      next = Math.max(next, block.lastId + 1, walked.lostTailId + 1);
      return ids;
    };
    const salvaged = new Map<number, number[]>();
    for (let index = 0; index < this.blockCount; index++) {
      const block: Block = { state: DIRTY, seq: 0, firstId: 0, firstData: 0, lastId: 0, count: 0, bytes: 0, end: size };
      this.blocks.push(block);
      const head = this.read(index, BLOCK_HEADER_SIZE);
      if (validHeader(head)) {
        block.state = LIVE;
        block.seq = readU32(head, 4);
        block.firstId = readU32(head, 8);
        block.lastId = block.firstId - 1;
        raise(head, 12);
        next = Math.max(next, block.firstId);
        maxSeq = Math.max(maxSeq, block.seq);
      } else if (erased(head, 0, BLOCK_HEADER_SIZE)) {
        block.state = FREE; // checked throughout below
      } else {
        // A damaged header: the records still carry their own ids and CRCs.
        const ids = walkBlock(block, index);
        if (block.firstId > 0) {
          block.state = LIVE; // sequence 0 marks it salvaged; it is never appended to
          block.end = size;
          if (block.count === 0) block.lastId = block.firstId - 1;
          salvaged.set(index, ids);
        }
      }
    }
    this.sortOrder();
    const headerFloor = floor;
    /** Data ids seen, per block, as runs (walkBlock): walked blocks only, in the order walked. */
    const seen: number[][] = [];
    this.order.forEach((index, k) => {
      const block = this.blocks[index];
      const early = salvaged.get(index);
      const successor = k + 1 < this.order.length ? this.blocks[this.order[k + 1]] : undefined;
      if (early) seen.push(early);
      else if (successor && successor.firstId > block.firstId && successor.firstId - 1 <= headerFloor) block.lastId = successor.firstId - 1; // an upper bound, and at or below the floor
      else seen.push(walkBlock(block, index));
    });
    this.blocks.forEach((block, index) => {
      if (block.state !== FREE) return;
      if (erased(this.read(index, size), BLOCK_HEADER_SIZE, size)) block.end = BLOCK_HEADER_SIZE;
      else block.state = DIRTY;
    });
    this.tail = this.order.length ? this.order[this.order.length - 1] : -1;
    this.nextSeq = (maxSeq + 1) >>> 0;
    this.next = Math.max(next, floor + 1);
    this.floorId = floor;
    this.dropTotal = dropTotal;
    // Ids run on without a hole while the device runs (a torn record's id goes
    // to the next append), so every id up to `next - 1` without a valid record
    // is lost: before the oldest record, between records, after the newest.
    let previous = floor;
    for (const runs of seen) {
      for (let i = 0; i < runs.length; i += 2) {
        // The ids of a run after its first follow one another: only the first can open a gap.
        if (runs[i] > previous + 1) this.markLost(previous + 1, runs[i] - 1);
        previous = Math.max(previous, runs[i + 1]);
      }
    }
    if (this.next - 1 > previous) this.markLost(previous + 1, this.next - 1);
    this.dropAcked = Math.min(dropAcked, dropTotal + this.lostUpTo(Infinity));
    this.recount();
  }

  // ---- deep-sleep fast path ----

  /**
   * The queue's RAM state for RTC memory (580 bytes for 16 blocks and no
   * damage, 8 more per range of lost ids; layout at SNAPSHOT_MAGIC). Take it
   * just before deep sleep: any flash change after it makes `resume` fall
   * back to a scan.
   */
  snapshot(): Uint8Array {
    const n = this.blockCount;
    const words = new Uint32Array(SNAPSHOT_HEAD + n * SNAPSHOT_BLOCK + this.lost.length + 1);
    words.set([SNAPSHOT_MAGIC, n, 0, 0, this.lost.length, this.blockSize, this.base, this.tail + 1, this.nextSeq, this.next - 1,
      this.floorId, this.dropTotal, this.dropAcked, this.recordCount, this.recordBytes, this.peakBytes]);
    new Float64Array(words.buffer, 8, 1)[0] = this.timeNote;
    this.blocks.forEach((b, i) => words.set([b.state, b.seq, b.firstId, b.firstData, b.lastId, b.count, b.bytes, b.end], SNAPSHOT_HEAD + i * SNAPSHOT_BLOCK));
    words.set(this.lost, SNAPSHOT_HEAD + n * SNAPSHOT_BLOCK);
    words[words.length - 1] = hashWords(words, words.length - 1);
    return new Uint8Array(words.buffer);
  }

  /** Take the state from a snapshot if it is intact and still describes the flash. */
  private resume(bytes: Uint8Array): boolean {
    const n = this.blockCount;
    const lostAt = SNAPSHOT_HEAD + n * SNAPSHOT_BLOCK;
    if (bytes.length % 4 !== 0 || bytes.length <= lostAt * 4) return false;
    const words = new Uint32Array(bytes.slice().buffer);
    const last = words.length - 1;
    if (last !== lostAt + words[4] || words[0] !== SNAPSHOT_MAGIC || words[1] !== n || words[5] !== this.blockSize ||
      words[6] !== this.base || words[last] !== hashWords(words, last)) return false;
    const blocks: Block[] = [];
    for (let at = SNAPSHOT_HEAD; at < lostAt; at += SNAPSHOT_BLOCK) {
      const block: Block = {
        state: words[at], seq: words[at + 1], firstId: words[at + 2], firstData: words[at + 3],
        lastId: words[at + 4], count: words[at + 5], bytes: words[at + 6], end: words[at + 7],
      };
      if (block.state > LIVE || block.end > this.blockSize) return false;
      // The block header on flash must still say what the snapshot says.
      const head = this.read(blocks.length, BLOCK_HEADER_SIZE);
      const valid = validHeader(head);
      const blank = erased(head, 0, BLOCK_HEADER_SIZE);
      if (block.state === FREE ? !blank : block.state === DIRTY || block.seq === 0 ? valid || blank
        : !valid || readU32(head, 4) !== block.seq || readU32(head, 8) !== block.firstId) return false;
      blocks.push(block);
    }
    const tail = words[7] - 1;
    const timeNote = new Float64Array(words.buffer, 8, 1)[0];
    if (tail >= n || (tail >= 0 && blocks[tail].state !== LIVE) || !(timeNote >= 0)) return false;
    // Nothing appended to the tail since the snapshot.
    const end = tail >= 0 ? blocks[tail].end : this.blockSize;
    if (end + RECORD_HEADER_SIZE <= this.blockSize && !erased(this.read(tail, RECORD_HEADER_SIZE, end), 0, RECORD_HEADER_SIZE)) return false;
    this.blocks.push(...blocks);
    this.sortOrder();
    this.tail = tail;
    this.nextSeq = words[8];
    [this.next, this.floorId, this.dropTotal, this.dropAcked, this.recordCount, this.recordBytes, this.peakBytes] = words.subarray(9, 16);
    this.next++;
    this.timeNote = timeNote;
    this.lost = Array.from(words.subarray(lostAt, last));
    this.fromSnapshot = true;
    return true;
  }
}
