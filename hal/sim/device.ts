/**
 * The simulator's HAL, firmware side: every member of `Hal` is a call through a
 * `HostPort` (the XS `issueCommand` bridge, or a direct call under Node), and
 * host events are routed back to the callbacks the firmware registered.
 *
 * Contract with the host: time is frozen for the length of one delivery, so the
 * tick is fetched at most once per delivery. After `power.deepSleep` the device
 * is halted: later calls do nothing and later events are ignored until the host
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

  function call(op: number, id = 0): Message {
    if (halted) return { op, id: 0, body: EMPTY };
    return parse(port.call(message(op, id, 0).bytes));
  }
  function callWith(bytes: Uint8Array): Message {
    if (halted) return { op: bytes[1], id: 0, body: EMPTY };
    return parse(port.call(bytes));
  }
  function readClock(): void {
    if (tick !== undefined) return;
    const reply = bodyView(call(Op.Now));
    tick = reply.getUint32(0, true);
    wall = reply.getFloat64(4, true);
  }
  function info(): { byteLength: number; blockSize: number } {
    if (!flashInfo) {
      const v = bodyView(call(Op.FlashInfo));
      flashInfo = { byteLength: v.getUint32(0, true), blockSize: v.getUint32(4, true) };
    }
    return flashInfo;
  }

  const hal: Hal = {
    capabilities: CAPABILITIES,
    clock: {
      now() { readClock(); return tick as number; },
      wallTime() { readClock(); return Number.isNaN(wall) ? undefined : wall; },
      query(server, onDone) { querying = onDone; callWith(withJson(Op.TimeQuery, 0, { server })); },
      setWallTime(wallMs) {
        if (!Number.isFinite(wallMs)) throw new RangeError(`setWallTime: ${wallMs} is not a time`);
        const m = message(Op.TimeSet, 0, 8);
        m.view.setFloat64(HEADER, wallMs, true);
        callWith(m.bytes);
        tick = undefined;
      },
    },
    timers: {
      set(callback, delayMs): TimerId {
        const id = nextTimer++;
        timers.set(id, callback);
        const m = message(Op.TimerSet, id, 4);
        m.view.setUint32(HEADER, Math.max(0, Math.ceil(delayMs)) >>> 0, true);
        callWith(m.bytes);
        return id;
      },
      clear(id) {
        if (timers.delete(id)) call(Op.TimerClear, id);
      },
    },
    entropy: {
      random32() { return bodyView(call(Op.Random)).getUint32(0, true); },
    },
    log: {
      event(event: string, fields?: Record<string, LogValue>) {
        callWith(withJson(Op.Log, 0, fields ? [event, fields] : [event]));
      },
    },
    wifi: {
      join(options) { wifi = options; callWith(withJson(Op.WifiJoin, 0, { hint: options.hint ?? null })); },
      leave() { wifi = undefined; call(Op.WifiLeave); },
      setPowerSave(mode: WifiPowerSave) { callWith(withJson(Op.WifiPowerSave, 0, mode)); },
    },
    network: {
      openSecure(options): SecureStream {
        const id = nextStream++;
        streams.set(id, options);
        const { host, port, serverName, alpn, credentials, timeoutMs } = options;
        const resume = options.resume ?? true;
        const maxVersion = options.maxVersion ?? '1.2';
        callWith(withJson(Op.TlsOpen, id, { host, port, serverName, alpn, credentials, timeoutMs, resume, maxVersion }));
        return {
          write(bytes, writeOptions) {
            if (!streams.has(id)) throw new Error('write after close');
            callWith(withBody(writeOptions?.reply ? Op.TlsWriteReply : Op.TlsWrite, id, bytes));
          },
          close() {
            ending.delete(id);
            if (streams.delete(id)) call(Op.TlsClose, id);
          },
          end(onDone) {
            ending.set(id, onDone);
            streams.delete(id);
            call(Op.TlsEnd, id);
          },
        };
      },
    },
    flash: {
      get byteLength() { return info().byteLength; },
      get blockSize() { return info().blockSize; },
      read(offset, byteLength) {
        const m = message(Op.FlashRead, 0, 8);
        m.view.setUint32(HEADER, offset, true);
        m.view.setUint32(HEADER + 4, byteLength, true);
        return callWith(m.bytes).body.slice();
      },
      write(offset, bytes) {
        const m = message(Op.FlashWrite, 0, 4 + bytes.length);
        m.view.setUint32(HEADER, offset, true);
        m.bytes.set(bytes, HEADER + 4);
        callWith(m.bytes);
      },
      erase(block) { call(Op.FlashErase, block); },
    },
    retained: {
      load() {
        const reply = call(Op.RetainedLoad);
        return reply.id === 1 ? reply.body.slice() : undefined;
      },
      store(bytes) { callWith(withBody(Op.RetainedStore, 0, bytes)); },
    },
    power: {
      get bootReason() { return bootReason; },
      deepSleep(ms) {
        if (!Number.isInteger(ms) || ms < 1 || ms > CAPABILITIES.maxDeepSleepMs) {
          throw new RangeError(`deepSleep: ${ms} ms is not an integer from 1 to ${CAPABILITIES.maxDeepSleepMs}`);
        }
        const m = message(Op.DeepSleep, 0, 4);
        m.view.setUint32(HEADER, ms >>> 0, true);
        callWith(m.bytes);
        halted = true;
      },
      restart() {
        call(Op.Restart);
        halted = true;
      },
      feedWatchdog() { call(Op.FeedWatchdog); },
    },
    sensor: {
      read() { return bodyView(call(Op.SensorRead)).getFloat64(0, true); },
    },
  };

  function deliver(bytes: Uint8Array): Uint8Array {
    const m = parse(bytes);
    tick = undefined;
    if (m.op === Op.Inspect) {
      const inspection: Inspection = { engine, halted, app: handle?.inspect?.() ?? null };
      return toUtf8(JSON.stringify(inspection));
    }
    if (halted) return EMPTY;
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
    return EMPTY;
  }

  return { deliver };
}
