/**
 * The one lookup of the firmware's state tables (firmware/link/states.ts,
 * firmware/device/states.ts): each state's legal moves, by event.
 */
export type Transitions<S extends string, E extends string> = Readonly<Record<S, Readonly<Partial<Record<E, S>>>>>;

/** The state `event` moves `state` to, or undefined when the table has no such move (illegal). Pure. */
export function nextState<S extends string, E extends string>(table: Transitions<S, E>, state: S, event: E): S | undefined {
  return table[state][event];
}
