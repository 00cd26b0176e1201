import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { errorAtTime, median, quantile, timeToError } from '../../src/server/stats.js';

describe('stats over seeds', () => {
  it('quantiles interpolate between order statistics', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(quantile([0, 10], 0.1)).toBeCloseTo(1, 12);
    expect(Number.isNaN(median([]))).toBe(true);
  });

  test.prop([fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 50 })])('p10 <= median <= p90, within the range', (xs) => {
    const [lo, mid, hi] = [quantile(xs, 0.1), median(xs), quantile(xs, 0.9)];
    expect(lo).toBeLessThanOrEqual(mid);
    expect(mid).toBeLessThanOrEqual(hi);
    expect(lo).toBeGreaterThanOrEqual(Math.min(...xs));
    expect(hi).toBeLessThanOrEqual(Math.max(...xs));
  });

  it('time to an error and error at a time read the curve as a step function', () => {
    const curve: [number, number | null][] = [
      [10, null],
      [20, 0.5],
      [30, 0.2],
      [40, 0.1],
    ];
    expect(timeToError(curve, 0.2)).toBe(30);
    expect(timeToError(curve, 0.05)).toBeNull();
    expect(errorAtTime(curve, 35)).toBe(0.2);
    expect(errorAtTime(curve, 5)).toBeNull();
  });
});
