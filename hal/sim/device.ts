/**
 * The simulator's HAL, firmware side: every member of `Hal` is a call through a
 * `HostPort` (the XS `issueCommand` bridge, or a direct call under Node), and
 * host events are routed back to the callbacks the firmware registered.
 *
 * Contract with the host: time is frozen for the length of one delivery, so the
 * tick is fetched at most once per delivery. Calls that need no answer (log,
 * timers, writes, joins) are queued and reach the host in order, in one Batch
 * with the next call that needs an answer or with the delivery's reply: one
 * round trip instead of many, the same effects at the same virtual time. Flash
 * reads come from a copy of the region taken at the first read of a boot, kept
 * in step with the firmware's own writes and erases and dropped when the host
 * says the flash changed otherwise (FlashChanged). After `power.deepSleep` the device is
 * halted: later calls do nothing and later events are ignored until the host
 * boots a fresh machine.
 */
import type {
  App, AppHandle, BootReason, Hal, LinkError, SecureStream, SecureStreamOptions, TimeReading, TimerId, WifiJoinOptions, WifiPowerSave, LogValue,
} from '../types';
import { CAPABILITIES } from './capabilities';
import { Op, HEADER, message, withBody, withJson, parse, bodyJson, bodyView, type HostPort, type Message } from './wire';
import { toUtf8 } from '../../firmware/util/text';

/** What the Inspect event answers: the engine, whether the firmware halted, and the app's own `inspect()` (null without one). */
export interface Inspection {
  engine: string;
  halted: boolean;
  app: unknown;
}

export interface BootMessage {
  reason: BootReason;
  config: unknown;
}

const EMPTY = new Uint8Array(0);

export interface SimDevice {
  /** Deliver one host event; returns the reply body. */
  deliver(bytes: Uint8Array): Uint8Array;
}

export function createSimDevice(port: HostPort, app: App, engine: string): SimDevice {
  let halted = false;
  let tick: number | undefined;
  let wall = NaN;
  let nextTimer = 1;
  let nextStream = 1;
  const timers = new Map<number, () => void>();
  const streams = new Map<number, SecureStreamOptions>();
  let wifi: WifiJoinOptions | undefined;
  let querying: ((result: TimeReading | LinkError) => void) | undefined;
  const ending = new Map<number, () => void>();
  let handle: AppHandle | void = undefined;
  let bootReason: BootReason = 'power-on';
  let flashInfo: { byteLength: number; blockSize: number } | undefined;

  /** Calls that need no answer, in order: sent with the next call that does, or with the delivery's reply. */
  let outbox: Uint8Array[] = [];
  /**
   * The whole flash region, read once per machine (reads are local, as memory-mapped flash is);
   * the firmware's own writes and erases are applied to it as NOR applies them, and the host
   * says when something else changed the flash (FlashChanged).
   */
  let flashImage: Uint8Array | undefined;

  function post(bytes: Uint8Array): void {
    if (!halted) outbox.push(bytes);
  }
  function postOp(op: number, id = 0): void {
    post(message(op, id, 0).bytes);
  }
  /** A call whose answer the firmware needs: what is queued goes first, in one Batch with it. */
  function request(bytes: Uint8Array): Message {
    if (halted) return { op: bytes[1], id: 0, body: EMPTY };
    if (outbox.length === 0) return parse(port.call(bytes));
    outbox.push(bytes);
    return parse(port.call(takeBatch()));
  }
  function requestOp(op: number, id = 0): Message {
    return request(message(op, id, 0).bytes);
  }
  /** The queued calls as one Batch message (empty when none), and the queue emptied. */
  function takeBatch(): Uint8Array {
    if (outbox.length === 0) return EMPTY;
    const batch = batchOf(outbox);
    outbox = [];
    return batch;
  }
  function readClock(): void {
    if (tick !== undefined) return;
    const reply = bodyView(requestOp(Op.Now));
    tick = reply.getUint32(0, true);
    wall = reply.getFloat64(4, true);
  }
  function checkFlash(offset: number, byteLength: number): void {
    const size = info().byteLength;
    if (!Number.isInteger(offset) || !Number.isInteger(byteLength) || offset < 0 || byteLength < 0 || offset + byteLength > size) {
      throw new RangeError(`flash: access ${offset}+${byteLength} outside 0..${size}`);
    }
  }
  function image(): Uint8Array {
    if (!flashImage) {
      const m = message(Op.FlashRead, 0, 8);
      m.view.setUint32(HEADER, 0, true);
      m.view.setUint32(HEADER + 4, info().byteLength, true);
      // The reply is a fresh message (the bridge's withBody), so its body is ours to keep and change:
      // no copy (XS meters a 64 KB copy at about 131,000 units, work the chip's mapped flash never does).
      flashImage = request(m.bytes).body;
    }
    return flashImage;
  }
  function info(): { byteLength: number; blockSize: number } {
    if (!flashInfo) {
      const v = bodyView(requestOp(Op.FlashInfo));
      flashInfo = { byteLength: v.getUint32(0, true), blockSize: v.getUint32(4, true) };
    }
    return flashInfo;
  }

  const hal: Hal = {
    capabilities: CAPABILITIES,
    clock: {
      now() { readClock(); return tick as number; },
      wallTime() { readClock(); return Number.isNaN(wall) ? undefined : wall; },
      query(server, onDone) { querying = onDone; post(withJson(Op.TimeQuery, 0, { server })); },
      setWallTime(wallMs) {
        if (!Number.isFinite(wallMs)) throw new RangeError(`setWallTime: ${wallMs} is not a time`);
        const m = message(Op.TimeSet, 0, 8);
        m.view.setFloat64(HEADER, wallMs, true);
        post(m.bytes);
        tick = undefined;
      },
    },
    timers: {
      set(callback, delayMs): TimerId {
        const id = nextTimer++;
        timers.set(id, callback);
        const m = message(Op.TimerSet, id, 4);
        m.view.setUint32(HEADER, Math.max(0, Math.ceil(delayMs)) >>> 0, true);
        post(m.bytes);
        return id;
      },
      clear(id) {
        if (timers.delete(id)) postOp(Op.TimerClear, id);
      },
    },
    entropy: {
      random32() { return bodyView(requestOp(Op.Random)).getUint32(0, true); },
    },
    log: {
      event(event: string, fields?: Record<string, LogValue>) {
        post(withJson(Op.Log, 0, fields ? [event, fields] : [event]));
      },
    },
    wifi: {
      join(options) { wifi = options; post(withJson(Op.WifiJoin, 0, { hint: options.hint ?? null })); },
      leave() { wifi = undefined; postOp(Op.WifiLeave); },
      setPowerSave(mode: WifiPowerSave) { post(withJson(Op.WifiPowerSave, 0, mode)); },
    },
    network: {
      openSecure(options): SecureStream {
        const id = nextStream++;
        streams.set(id, options);
        const { host, port, serverName, alpn, credentials, timeoutMs } = options;
        const resume = options.resume ?? true;
        const maxVersion = options.maxVersion ?? '1.2';
        post(withJson(Op.TlsOpen, id, { host, port, serverName, alpn, credentials, timeoutMs, resume, maxVersion }));
        return {
          write(bytes, writeOptions) {
            if (!streams.has(id)) throw new Error('write after close');
            post(withBody(writeOptions?.reply ? Op.TlsWriteReply : Op.TlsWrite, id, bytes));
          },
          close() {
            ending.delete(id);
            if (streams.delete(id)) postOp(Op.TlsClose, id);
          },
          end(onDone) {
            ending.set(id, onDone);
            streams.delete(id);
            postOp(Op.TlsEnd, id);
          },
        };
      },
    },
    flash: {
      get byteLength() { return info().byteLength; },
      get blockSize() { return info().blockSize; },
      read(offset, byteLength) {
        checkFlash(offset, byteLength);
        return image().slice(offset, offset + byteLength);
      },
      write(offset, bytes) {
        checkFlash(offset, bytes.length);
        // NOR programming clears bits only: new = old AND data.
        if (flashImage) for (let i = 0; i < bytes.length; i++) flashImage[offset + i] &= bytes[i];
        const m = message(Op.FlashWrite, 0, 4 + bytes.length);
        m.view.setUint32(HEADER, offset, true);
        m.bytes.set(bytes, HEADER + 4);
        post(m.bytes);
      },
      erase(block) {
        const { byteLength, blockSize } = info();
        if (!Number.isInteger(block) || block < 0 || (block + 1) * blockSize > byteLength) throw new RangeError(`flash: no block ${block}`);
        if (flashImage) flashImage.fill(0xff, block * blockSize, (block + 1) * blockSize);
        postOp(Op.FlashErase, block);
      },
    },
    retained: {
      load() {
        const reply = requestOp(Op.RetainedLoad);
        return reply.id === 1 ? reply.body.slice() : undefined;
      },
      store(bytes) { post(withBody(Op.RetainedStore, 0, bytes)); },
    },
    power: {
      get bootReason() { return bootReason; },
      deepSleep(ms) {
        if (!Number.isInteger(ms) || ms < 1 || ms > CAPABILITIES.maxDeepSleepMs) {
          throw new RangeError(`deepSleep: ${ms} ms is not an integer from 1 to ${CAPABILITIES.maxDeepSleepMs}`);
        }
        const m = message(Op.DeepSleep, 0, 4);
        m.view.setUint32(HEADER, ms >>> 0, true);
        post(m.bytes);
        halted = true;
      },
      restart() {
        postOp(Op.Restart);
        halted = true;
      },
      feedWatchdog() { postOp(Op.FeedWatchdog); },
    },
    sensor: {
      read() { return bodyView(requestOp(Op.SensorRead)).getFloat64(0, true); },
    },
  };

  /**
   * Deliver one event. The reply is the calls the firmware queued (a Batch),
   * which the host runs before anything else; if the firmware throws, they are
   * sent first, so what it did before the exception happened, as on a device.
   */
  function deliver(bytes: Uint8Array): Uint8Array {
    const m = parse(bytes);
    tick = undefined;
    if (m.op === Op.Inspect) {
      const inspection: Inspection = { engine, halted, app: handle?.inspect?.() ?? null };
      return toUtf8(JSON.stringify(inspection));
    }
    if (halted) return EMPTY;
    try {
      run(m);
    } catch (error) {
      const queued = takeBatch();
      if (queued.length) port.call(queued);
      throw error;
    }
    return takeBatch();
  }

  function run(m: Message): void {
    switch (m.op) {
      case Op.Boot: {
        const boot = bodyJson<BootMessage>(m);
        bootReason = boot.reason;
        handle = app(hal, boot.config);
        break;
      }
      case Op.Timer: {
        const callback = timers.get(m.id);
        if (callback) {
          timers.delete(m.id);
          callback();
        }
        break;
      }
      case Op.FlashChanged: flashImage = undefined; break;
      case Op.WifiJoined: wifi?.onJoined(bodyJson(m)); break;
      case Op.WifiError: { const w = wifi; wifi = undefined; w?.onError(bodyJson(m)); break; }
      case Op.WifiLost: { const w = wifi; wifi = undefined; w?.onLost(bodyJson(m)); break; }
      case Op.TimeReply: {
        const done = querying;
        querying = undefined;
        const reply = bodyJson<TimeReading | { error: LinkError }>(m);
        done?.('error' in reply ? reply.error : reply);
        break;
      }
      case Op.TlsConnected: streams.get(m.id)?.onConnect(bodyJson(m)); break;
      case Op.TlsData: streams.get(m.id)?.onData(m.body); break;
      case Op.TlsError: {
        const options = streams.get(m.id);
        streams.delete(m.id);
        options?.onError(bodyJson(m));
        break;
      }
      case Op.TlsEnded: {
        const done = ending.get(m.id);
        ending.delete(m.id);
        done?.();
        break;
      }
      default:
        throw new Error(`bridge: unknown event 0x${m.op.toString(16)}`);
    }
  }

  return { deliver };
}

/** One Batch message holding `messages` (each a u32 length, then the message). */
function batchOf(messages: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of messages) length += 4 + part.length;
  const { bytes, view } = message(Op.Batch, 0, length);
  let at = HEADER;
  for (const part of messages) {
    view.setUint32(at, part.length, true);
    bytes.set(part, at + 4);
    at += 4 + part.length;
  }
  return bytes;
}
