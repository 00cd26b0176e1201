import { fc, test } from '@fast-check/vitest';
import seedrandom from 'seedrandom';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/protocol/random.js';

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}
function variance(xs: number[]): number {
  const m = mean(xs);
  return xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1);
}
/**
 * Pearson chi-square of draws against Poisson(lambda) over the values expected at least 10 times,
 * divided by its degrees of freedom (~1 +- sqrt(2 / df) when the draws are Poisson).
 */
function chi2PerDf(draws: ArrayLike<number>, lambda: number): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < draws.length; i++) counts.set(draws[i]!, (counts.get(draws[i]!) ?? 0) + 1);
  let chi2 = 0;
  let df = 0;
  let lnFact = 0;
  for (let k = 0; k <= lambda + 10 * Math.sqrt(lambda) + 10; k++) {
    if (k > 1) lnFact += Math.log(k);
    const expected = draws.length * Math.exp(-lambda + k * Math.log(lambda) - lnFact);
    if (expected < 10) continue;
    chi2 += ((counts.get(k) ?? 0) - expected) ** 2 / expected;
    df++;
  }
  return chi2 / Math.max(1, df - 1);
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

  it.each([1, 'scenario/eels', -7])('uniform() is seedrandom\'s Alea stream for seed %s, draw for draw', (seed) => {
    const alea = seedrandom.alea(String(seed));
    const rng = new Rng(seed);
    // 50k draws: the carry branch of the step (probability ~2^-11 a draw) is taken many times.
    let mismatches = 0;
    for (let i = 0; i < 50_000; i++) if (rng.uniform() !== alea()) mismatches++;
    expect(mismatches).toBe(0);
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

  it.each([0.47, 3.3, 9.9, 10, 36])('poisson(%d) follows the Poisson pmf', (lambda) => {
    const rng = new Rng(`pmf-${lambda}`);
    const xs = Float64Array.from({ length: 40000 }, () => rng.poisson(lambda));
    expect(chi2PerDf(xs, lambda)).toBeLessThan(2);
  });

  it.each([0.47, 3.3, 15, 36, 12000])('poissonInPlace on an image of background %d: Poisson pmf, mean and variance', (lambda) => {
    const means = new Float64Array(100_000).fill(lambda);
    const xs = new Rng(`bulk-${lambda}`).poissonInPlace(means);
    expect(xs).toBe(means);
    expect(xs.every((x) => Number.isInteger(x) && x >= 0)).toBe(true);
    const arr = Array.from(xs);
    expect(Math.abs(mean(arr) - lambda)).toBeLessThan(5 * Math.sqrt(lambda / arr.length));
    expect(variance(arr) / lambda).toBeGreaterThan(0.97);
    expect(variance(arr) / lambda).toBeLessThan(1.03);
    expect(chi2PerDf(xs, lambda)).toBeLessThan(2);
  });

  it.each([0.47, 5.9, 15, 36])('poissonInPlace gives the very draws of a poisson() loop: background %d, objects, zeros', (lambda) => {
    // A background shared by most pixels, objects of other means (both sides of 10), a few zeros.
    const means = Float64Array.from({ length: 50_000 }, (_, i) => (i % 97 === 0 ? 3 * lambda + (i % 13) : i % 101 === 0 ? 0.2 * (i % 7) : lambda));
    const bulk = new Rng(`same-${lambda}`);
    const xs = bulk.poissonInPlace(Float64Array.from(means));
    const single = new Rng(`same-${lambda}`);
    expect(Array.from(xs)).toEqual(Array.from(means, (m) => single.poisson(m)));
    // The stream goes on from the same point.
    expect(bulk.uniform()).toBe(single.uniform());
    expect(chi2PerDf(xs.filter((_, i) => means[i] === lambda), lambda)).toBeLessThan(2);
  });

  it('poissonInPlace without a common value (a spectrum) or of all zeros', () => {
    const ramp = Float64Array.from({ length: 1000 }, (_, i) => 1 + i);
    const single = new Rng(2);
    expect(Array.from(new Rng(2).poissonInPlace(Float64Array.from(ramp)))).toEqual(Array.from(ramp, (m) => single.poisson(m)));
    expect(Array.from(new Rng(1).poissonInPlace(new Float64Array(1000)))).toEqual(new Array(1000).fill(0));
  });

  it('poissonInPlace refuses a bad mean by name', () => {
    const means = new Float64Array(1000).fill(2);
    means[500] = -1;
    expect(() => new Rng(1).poissonInPlace(means)).toThrow(/poisson: mean must be a finite number >= 0, got -1/);
    means[500] = NaN;
    expect(() => new Rng(1).poissonInPlace(means)).toThrow(/poisson: mean.*NaN/);
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
