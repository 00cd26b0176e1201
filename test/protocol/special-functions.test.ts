import { describe, expect, it } from 'vitest';
import { erfc as accurateErfc } from '../../src/policy/acquisition.js';
import { erfc } from '../../src/protocol/special-functions.js';

describe('erfc (Numerical Recipes erfcc)', () => {
  it('has a fractional error below 1.2e-7 against the series / continued-fraction erfc, tails included', () => {
    for (let x = -6; x <= 25; x += 0.01) {
      const ref = accurateErfc(x);
      expect(Math.abs(erfc(x) - ref) / ref).toBeLessThan(1.2e-7);
    }
    expect(erfc(0)).toBeCloseTo(1, 7);
  });
});
