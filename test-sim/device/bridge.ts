/**
 * The host's side of the bridge as a dispatch table: each part of a simulated
 * device (clock, radio, network, flash, memory, lifecycle, sensor) answers the
 * bridge operations (hal/sim/wire.ts `Op`) it owns, and the device joins the
 * parts' tables into one. An operation claimed twice, or a call no part owns,
 * is a bug in the simulator and throws.
 */
import { message, Op, type Message } from '../../hal/sim/wire';

/** Answers one synchronous call from the firmware. */
export type BridgeHandler = (m: Message) => Uint8Array;

/** Calls by op (a `Op` value below 0x80). */
export type BridgeTable = Readonly<Partial<Record<number, BridgeHandler>>>;

const NAMES = new Map<number, string>(Object.entries(Op).map(([name, op]) => [op, name]));

/** The empty reply most calls get. */
export function ok(m: Message): Uint8Array {
  return message(m.op, 0, 0).bytes;
}

/** Joins the parts' tables; each op must belong to exactly one part. */
export function joinTables(...tables: BridgeTable[]): BridgeTable {
  const joined: Record<number, BridgeHandler> = {};
  for (const table of tables) {
    for (const [op, handler] of Object.entries(table)) {
      if (joined[Number(op)]) throw new Error(`bridge: ${opName(Number(op))} is claimed by two parts of the device`);
      joined[Number(op)] = handler!;
    }
  }
  return Object.freeze(joined);
}

export function dispatch(table: BridgeTable, m: Message): Uint8Array {
  const handler = table[m.op];
  if (!handler) throw new Error(`bridge: unknown call 0x${m.op.toString(16)}`);
  return handler(m);
}

export function opName(op: number): string {
  return NAMES.get(op) ?? `0x${op.toString(16)}`;
}
