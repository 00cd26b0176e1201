/** Order statistics for summaries over seeds. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export const median = (values: readonly number[]): number => quantile(values, 0.5);

/**
 * First time a run's error curve reaches `target` (linear in time between measurements is not
 * assumed: the time of the first measurement at or below it), or null if it never does.
 */
export function timeToError(curve: readonly [number, number | null][], target: number): number | null {
  for (const [t, e] of curve) if (e !== null && e <= target) return t;
  return null;
}

/** The error a run had at time t: that of the last measurement at or before t (null before the first). */
export function errorAtTime(curve: readonly [number, number | null][], t: number): number | null {
  let e: number | null = null;
  for (const [ti, ei] of curve) {
    if (ti > t) break;
    e = ei;
  }
  return e;
}
