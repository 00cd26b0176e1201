import { describe, expect, it } from 'vitest';
import { readableRatio } from '../../src/server/cli/compare.js';

describe('compare: ratios as people read them', () => {
  it('says a ratio below 1 as its inverse in the other direction', () => {
    expect(readableRatio(0.95, 'sooner', 'later')).toBe('1.05x later');
    expect(readableRatio(1.95, 'sooner', 'later')).toBe('1.95x sooner');
    expect(readableRatio(1, 'lower', 'higher')).toBe('1.00x lower');
  });
  it('has no ratio for a missing or degenerate value', () => {
    expect(readableRatio(Number.NaN, 'sooner', 'later')).toBe('n/a');
    expect(readableRatio(0, 'sooner', 'later')).toBe('n/a');
  });
});
