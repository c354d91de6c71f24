/**
 * The one lookup of the firmware's state tables (firmware/link/states.ts,
 * firmware/device/states.ts): each state's legal moves, by event.
 */

/**
 * The state `event` moves `state` to in `table`, or undefined when the table
 * has no such move (illegal). Pure. The table is typed loosely: the Moddable
 * SDK's TypeScript widens the frozen rows' values to `string`.
 */
export function nextState<S extends string, E extends string>(table: Readonly<Record<S, object>>, state: S, event: E): S | undefined {
  return (table[state] as Partial<Record<E, S>>)[event];
}
