/**
 * Array helpers that stay safe on input-sized arrays. `target.push(...items)` and
 * `Math.max(...values)` pass every element as a call argument: past ~100,000 elements V8
 * throws "Maximum call stack size exceeded" (a payload of 200,000 entities did exactly that).
 * These loop instead.
 */

/** Append every item to `target`; returns `target`. */
export function appendAll<T>(target: T[], items: Iterable<T>): T[] {
  for (const item of items) target.push(item);
  return target;
}

/** The largest of `values`, or `initial` when there are none (or all are smaller). */
export function maxOf(values: Iterable<number>, initial = -Infinity): number {
  let max = initial;
  for (const v of values) if (v > max) max = v;
  return max;
}

/** The smallest of `values`, or `initial` when there are none (or all are larger). */
export function minOf(values: Iterable<number>, initial = Infinity): number {
  let min = initial;
  for (const v of values) if (v < min) min = v;
  return min;
}
