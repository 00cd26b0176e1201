import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/protocol/random.js';

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}
function variance(xs: number[]): number {
  const m = mean(xs);
  return xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1);
}

describe('Rng', () => {
  test.prop([fc.integer(), fc.integer({ min: 1, max: 50 })])('same seed, same stream; forks are reproducible', (seed, n) => {
    const a = new Rng(seed);
    const b = new Rng(seed);
    const xs = Array.from({ length: n }, () => a.uniform());
    expect(Array.from({ length: n }, () => b.uniform())).toEqual(xs);
    expect(new Rng(seed).fork('x').uniform()).toBe(new Rng(seed).fork('x').uniform());
    expect(new Rng(seed).fork('x').uniform()).not.toBe(new Rng(seed).fork('y').uniform());
  });

  it('different seeds differ', () => {
    expect(new Rng(1).uniform()).not.toBe(new Rng(2).uniform());
  });

  it.each([0.5, 4, 29, 31, 120, 5000])('poisson(%d) has the right mean and variance', (lambda) => {
    const rng = new Rng(`poisson-${lambda}`);
    const xs = Array.from({ length: 20000 }, () => rng.poisson(lambda));
    expect(xs.every((x) => Number.isInteger(x) && x >= 0)).toBe(true);
    const se = Math.sqrt(lambda / xs.length);
    expect(Math.abs(mean(xs) - lambda)).toBeLessThan(5 * se);
    expect(variance(xs) / lambda).toBeGreaterThan(0.9);
    expect(variance(xs) / lambda).toBeLessThan(1.1);
  });

  it('normal has mean 0 and sd 1', () => {
    const rng = new Rng(7);
    const xs = Array.from({ length: 20000 }, () => rng.normal());
    expect(Math.abs(mean(xs))).toBeLessThan(0.05);
    expect(Math.abs(Math.sqrt(variance(xs)) - 1)).toBeLessThan(0.03);
  });

  test.prop([fc.integer(), fc.integer({ min: 2, max: 10 })])('simplex and Dirichlet draws sum to one', (seed, d) => {
    const rng = new Rng(seed);
    const u = rng.simplexUniform(d);
    const dir = rng.dirichlet(Array.from({ length: d }, (_, i) => 0.3 + i));
    for (const p of [u, dir]) {
      expect(p.every((x) => x >= 0)).toBe(true);
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    }
  });

  it('gamma(k) has mean k', () => {
    const rng = new Rng(3);
    for (const k of [0.4, 2.5]) {
      const xs = Array.from({ length: 20000 }, () => rng.gamma(k));
      expect(Math.abs(mean(xs) - k)).toBeLessThan(5 * Math.sqrt(k / xs.length));
    }
  });

  it('truncatedNormal never goes below its minimum', () => {
    const rng = new Rng(4);
    expect(Array.from({ length: 5000 }, () => rng.truncatedNormal(20, 10, 3)).every((x) => x >= 3)).toBe(true);
  });

  it('refuses impossible parameters by name', () => {
    const rng = new Rng(5);
    expect(() => rng.poisson(-1)).toThrow(/poisson: mean/);
    expect(() => rng.gamma(0)).toThrow(/gamma: shape/);
  });
});
