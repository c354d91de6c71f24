/**
 * Freezes `value` and every object and array reachable from it, so a table of
 * constants (state tables, broker and energy profiles, defaults) cannot be
 * changed at run time anywhere below its top.
 */
export function deepFreeze<T>(value: T): T {
  for (const key in value) {
    const v = value[key];
    if (typeof v === 'object' && v !== null) deepFreeze(v);
  }
  return Object.freeze(value);
}
