import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { backgroundSample, clippedStats, clippedStatsOfSample, isCounts } from '../../src/policy/analysis/stats.js';
import { Rng } from '../../src/protocol/random.js';

describe('backgroundSample and clippedStats', () => {
  test.prop([fc.integer(), fc.integer({ min: 1, max: 300_000 }), fc.constantFrom('counts', 'scaled', 'negative')])(
    'clippedStats is clippedStatsOfSample of backgroundSample; isCounts spots any non-count value',
    (seed, n, kind) => {
      const rng = new Rng(seed);
      const values = Float64Array.from({ length: n }, () => rng.poisson(3));
      if (kind === 'scaled') values[rng.int(n)]! *= 1.5;
      if (kind === 'negative') values[rng.int(n)] = -1;
      expect(clippedStatsOfSample(backgroundSample(values))).toEqual(clippedStats(values));
      expect(isCounts(values)).toBe(values.every((v) => v >= 0 && Number.isInteger(v)));
    },
  );

  it('samples every stride-th pixel of a large image (~65k of them)', () => {
    const values = Float64Array.from({ length: 1 << 20 }, (_, i) => i);
    const sample = backgroundSample(values);
    expect(sample.length).toBe(65536);
    expect(Array.from(sample.subarray(0, 3))).toEqual([0, 16, 32]);
    // A small image is used whole.
    const small = Float64Array.from({ length: 1000 }, (_, i) => i % 7);
    expect(backgroundSample(small)).toBe(small);
  });

  it('clipping finds the background under bright objects', () => {
    const rng = new Rng('clip');
    const values = Float64Array.from({ length: 200_000 }, (_, i) => (i % 500 === 0 ? 5000 : rng.poisson(20)));
    const { mean, variance } = clippedStatsOfSample(backgroundSample(values));
    expect(mean).toBeCloseTo(20, 0);
    expect(variance / 20).toBeGreaterThan(0.9);
    expect(variance / 20).toBeLessThan(1.1);
  });
});
