import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import {
  binomial,
  capacityRows,
  expectedParticles,
  largestDimension,
  PAPER_COVERAGE,
  PAPER_USABLE_AREA_M2,
  paperGridPoints,
  simplexGridPoints,
} from '../../src/protocol/capacity.js';

describe('eq. (1): expected particles on the grid', () => {
  it("reproduces the paper's worked numbers for 500, 150 and 50 nm (sigma = 0.3 mu)", () => {
    const en = (r_nm: number) => expectedParticles(r_nm * 1e-9, 0.3 * r_nm * 1e-9, PAPER_COVERAGE, PAPER_USABLE_AREA_M2);
    expect(en(500) / 1.56e6).toBeCloseTo(1, 2);
    expect(en(150) / 1.73e7).toBeCloseTo(1, 2);
    expect(en(50) / 1.56e8).toBeCloseTo(1, 2);
    expect(PAPER_USABLE_AREA_M2).toBeCloseTo(2.6667e-6, 9);
  });

  test.prop([fc.double({ min: 1e-9, max: 1e-5, noNaN: true }), fc.double({ min: 1.0001, max: 10, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })])(
    'decreases as the mean radius grows (property)',
    (mu, factor, sdFraction) => {
      const small = expectedParticles(mu, sdFraction * mu, 0.5, 1e-6);
      const large = expectedParticles(mu * factor, sdFraction * mu * factor, 0.5, 1e-6);
      expect(large).toBeLessThan(small);
      // E[N] scales as 1 / mu^2 at a fixed sd fraction.
      expect(small / large).toBeCloseTo(factor * factor, 6);
    },
  );

  it('is the covered area over the mean disc area', () => {
    expect(expectedParticles(1, 0, 1, Math.PI)).toBeCloseTo(1, 12);
    expect(expectedParticles(3, 4, 0.5, 50 * Math.PI)).toBeCloseTo(1, 12);
  });

  it('rejects bad input, naming it', () => {
    expect(() => expectedParticles(0, 0, 0.5, 1)).toThrow(/mu_m/);
    expect(() => expectedParticles(1, -1, 0.5, 1)).toThrow(/sigma_m/);
    expect(() => expectedParticles(1, 0, 1.5, 1)).toThrow(/coverage/);
    expect(() => expectedParticles(1, 0, 0.5, 0)).toThrow(/usableArea_m2/);
  });
});

describe('grid sizes', () => {
  it('simplex grid of step 0.1: 66, 286, 1001, 3003, 8008, 19448 for D = 3..8', () => {
    expect([3, 4, 5, 6, 7, 8].map((D) => simplexGridPoints(D))).toEqual([66, 286, 1001, 3003, 8008, 19448]);
    expect(simplexGridPoints(3, 0.5)).toBe(6);
    expect(simplexGridPoints(3, 0.05)).toBe(231);
  });

  it("the paper's count is 10^D", () => {
    expect([3, 4, 5, 6, 7, 8].map((D) => paperGridPoints(D))).toEqual([1e3, 1e4, 1e5, 1e6, 1e7, 1e8]);
  });

  test.prop([fc.integer({ min: 1, max: 6 }), fc.constantFrom(0.5, 0.25, 0.2, 0.1)])('the simplex grid count equals an enumeration of the grid (property)', (D, step) => {
    const n = Math.round(1 / step);
    // Count vectors of D non-negative integers summing to n.
    const count = (parts: number, total: number): number => (parts === 1 ? 1 : Array.from({ length: total + 1 }, (_, k) => count(parts - 1, total - k)).reduce((a, b) => a + b, 0));
    expect(simplexGridPoints(D, step)).toBe(count(D, n));
  });

  it('binomials are exact', () => {
    expect(binomial(17, 8)).toBe(24310);
    expect(binomial(50, 25)).toBe(126410606437752);
    expect(binomial(5, 7)).toBe(0);
  });

  it('rejects a step that is not 1/n and a bad D', () => {
    expect(() => simplexGridPoints(3, 0.3)).toThrow(/step/);
    expect(() => simplexGridPoints(0)).toThrow(/D/);
  });
});

describe('largest dimension a count supports', () => {
  it("matches the paper's claim with 10^D: 500, 150, 50 nm give D = 6, 7, 8", () => {
    const rows = capacityRows([500, 150, 50], 0.3, PAPER_COVERAGE, PAPER_USABLE_AREA_M2);
    expect(rows.map((r) => r.largest_D_paper)).toEqual([6, 7, 8]);
    // The true simplex grid asks for far fewer points: much larger D.
    expect(rows.map((r) => r.largest_D_simplex)).toEqual([14, 19, 25]);
    expect(simplexGridPoints(14)).toBeLessThanOrEqual(rows[0]!.expected_particles);
    expect(simplexGridPoints(15)).toBeGreaterThan(rows[0]!.expected_particles);
  });

  test.prop([fc.double({ min: 1, max: 1e12, noNaN: true })])('is the last D whose count fits (property)', (count) => {
    const D = largestDimension(count, (d) => simplexGridPoints(d));
    expect(simplexGridPoints(D + 1)).toBeGreaterThan(count);
    if (D >= 1) expect(simplexGridPoints(D)).toBeLessThanOrEqual(count);
  });

  it('is 0 when not even one dimension fits', () => {
    expect(largestDimension(5, (D) => paperGridPoints(D))).toBe(0);
  });
});
