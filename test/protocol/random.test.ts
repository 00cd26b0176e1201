import { fc, test } from '@fast-check/vitest';
import seedrandom from 'seedrandom';
import { describe, expect, it } from 'vitest';
import { poissonTable, Rng } from '../../src/protocol/random.js';

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
  const { chi2, df } = chi2Poisson(draws, lambda);
  return chi2 / Math.max(1, df);
}

/** Pearson chi-square of draws against Poisson(lambda) over the values expected at least 10 times, and its degrees of freedom. */
function chi2Poisson(draws: ArrayLike<number>, lambda: number): { chi2: number; df: number } {
  const counts = new Map<number, number>();
  for (let i = 0; i < draws.length; i++) counts.set(draws[i]!, (counts.get(draws[i]!) ?? 0) + 1);
  let chi2 = 0;
  let cells = 0;
  let lnFact = 0;
  for (let k = 0; k <= lambda + 10 * Math.sqrt(lambda) + 10; k++) {
    if (k > 1) lnFact += Math.log(k);
    const expected = draws.length * Math.exp(-lambda + k * Math.log(lambda) - lnFact);
    if (expected < 10) continue;
    chi2 += ((counts.get(k) ?? 0) - expected) ** 2 / expected;
    cells++;
  }
  return { chi2, df: Math.max(1, cells - 1) };
}

/**
 * The chi-square(df) quantile a correct sampler exceeds with probability ~3e-7 (Wilson-Hilferty,
 * 5 standard deviations): a test against it does not flip when the stream changes, yet a wrong
 * distribution over these many draws lands far beyond it.
 */
function chi2Limit(df: number): number {
  const a = 2 / (9 * df);
  return df * (1 - a + 5 * Math.sqrt(a)) ** 3;
}

function expectPoissonPmf(draws: ArrayLike<number>, lambda: number): void {
  const { chi2, df } = chi2Poisson(draws, lambda);
  expect(chi2, `chi-square ${chi2.toFixed(1)} on ${df} degrees of freedom`).toBeLessThan(chi2Limit(df));
}

/** P(X <= k) for X ~ Poisson(lambda), summed term by term in log space (k < 0: 0). */
function poissonCdf(lambda: number, k: number): number {
  if (k < 0) return 0;
  let lnFact = 0;
  let s = 0;
  for (let i = 0; i <= k; i++) {
    if (i > 1) lnFact += Math.log(i);
    s += Math.exp(-lambda + i * Math.log(lambda) - lnFact);
  }
  return Math.min(1, s);
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

  it('fillUniform gives the very values of as many uniform() calls, and the stream goes on from there', () => {
    const a = new Rng('fill-uniform');
    const b = new Rng('fill-uniform');
    const bulk = a.fillUniform(new Float64Array(50_000));
    expect(Array.from(bulk)).toEqual(Array.from({ length: 50_000 }, () => b.uniform()));
    expect(a.uniform()).toBe(b.uniform());
  });

  it.each([0, 1])('fillNormal gives the very values of as many normal() calls (spare pending: %d)', (pending) => {
    const a = new Rng('fill-normal');
    const b = new Rng('fill-normal');
    if (pending) expect(a.normal()).toBe(b.normal());
    for (const length of [1, 2, 7, 10_000]) expect(Array.from(a.fillNormal(new Float64Array(length)))).toEqual(Array.from({ length }, () => b.normal()));
    expect(a.normal()).toBe(b.normal());
    expect(a.uniform()).toBe(b.uniform());
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
    expectPoissonPmf(xs, lambda);
  });

  // The background sampler (an inverse-CDF table, one uniform per pixel) over 2^21 draws: mean
  // and variance within 5 standard errors of Poisson's, the pmf by chi-square, and the tails, which
  // lie in the table's first and last cells (refined to 64-bit uniforms), at their Poisson rates.
  // 0.4679 is the tuned overview's background, 35.7 the EDX frame's HAADF one.
  it.each([
    { lambda: 0.4679, tail: { atLeast: 5 }, lower: null },
    { lambda: 0.2807, tail: { atLeast: 4 }, lower: null },
    { lambda: 4.134, tail: { atLeast: 14 }, lower: null },
    { lambda: 35.7, tail: { atLeast: 58 }, lower: { atMost: 17 } },
    { lambda: 12000, tail: { atLeast: 12000 + 3.4 * Math.sqrt(12000) }, lower: { atMost: 12000 - 3.4 * Math.sqrt(12000) } },
  ])('poissonInPlace on 2^21 pixels of background $lambda: Poisson mean, variance, pmf and tails', ({ lambda, tail, lower }) => {
    const n = 1 << 21;
    const xs = new Rng(`table-${lambda}`).poissonInPlace(new Float64Array(n).fill(lambda));
    let sum = 0;
    for (let i = 0; i < n; i++) sum += xs[i]!;
    const m = sum / n;
    let ss = 0;
    let above = 0;
    let below = 0;
    for (let i = 0; i < n; i++) {
      const x = xs[i]!;
      ss += (x - m) ** 2;
      if (x >= tail.atLeast) above++;
      if (lower && x <= lower.atMost) below++;
    }
    const v = ss / (n - 1);
    expect(Math.abs(m - lambda)).toBeLessThan(5 * Math.sqrt(lambda / n));
    // Var of the sample variance of Poisson draws: (mu4 - sigma^4) / n = (lambda + 2 lambda^2) / n.
    expect(Math.abs(v - lambda)).toBeLessThan(5 * Math.sqrt((lambda + 2 * lambda * lambda) / n));
    expectPoissonPmf(xs, lambda);
    const pAbove = 1 - poissonCdf(lambda, Math.ceil(tail.atLeast) - 1);
    expect(pAbove).toBeLessThan(1 / 1024); // the event is all inside the table's last cell
    expect(Math.abs(above - n * pAbove)).toBeLessThan(5 * Math.sqrt(n * pAbove) + 1);
    if (lower) {
      const pBelow = poissonCdf(lambda, Math.floor(lower.atMost));
      expect(pBelow).toBeLessThan(1 / 1024);
      expect(Math.abs(below - n * pBelow)).toBeLessThan(5 * Math.sqrt(n * pBelow) + 1);
    }
  });

  it.each([0.47, 5.9, 15, 36])('poissonInPlace on a background %d with objects and zeros: each mean Poisson, reproducible', (lambda) => {
    // A background shared by most pixels, objects of other means (both sides of 10), a few zeros.
    const means = Float64Array.from({ length: 200_000 }, (_, i) => (i % 97 === 0 ? 3 * lambda + (i % 13) : i % 101 === 0 ? 0 : lambda));
    const a = new Rng(`mixed-${lambda}`);
    const xs = a.poissonInPlace(Float64Array.from(means));
    const b = new Rng(`mixed-${lambda}`);
    expect(Array.from(b.poissonInPlace(Float64Array.from(means)))).toEqual(Array.from(xs));
    // The stream goes on from the same point.
    expect(a.uniform()).toBe(b.uniform());
    expect(xs.every((x, i) => Number.isInteger(x) && x >= 0 && (means[i] !== 0 || x === 0))).toBe(true);
    expectPoissonPmf(xs.filter((_, i) => means[i] === lambda), lambda);
    // The objects' draws: each mean's sample mean within 5 standard errors.
    for (let r = 0; r < 13; r++) {
      const mu = 3 * lambda + r;
      const objects = Array.from(xs.filter((_, i) => means[i] === mu));
      expect(Math.abs(mean(objects) - mu)).toBeLessThan(5 * Math.sqrt(mu / objects.length));
    }
  });

  it.each([1e-6, 0.4679, 7.5, 35.7, 12000])('poissonTable(%d): the CDF, the guide cells and the tail match Poisson', (lambda) => {
    const t = poissonTable(lambda, 1e9)!;
    const size = t.cdf.length;
    expect(t.cdf[size - 1]).toBe(1);
    // The reference sums terms whose exponents are ~lambda ln lambda: good to ~1e-16 of that.
    const tolerance = 1e-13 * Math.max(1, lambda * Math.log(lambda));
    for (let i = 0; i < size; i += Math.max(1, Math.floor(size / 200))) {
      const k = t.kmin + i;
      expect(Math.abs(t.cdf[i]! - poissonCdf(lambda, k))).toBeLessThan(tolerance);
    }
    // Below kmin and above the table: less mass than any uniform resolves.
    expect(t.kmin === 0 ? 0 : poissonCdf(lambda, t.kmin - 1)).toBeLessThan(1e-20);
    for (let j = 0; j < t.cells; j++) {
      const g = t.guide[j]!;
      expect(t.cdf[g]).toBeGreaterThan(j / t.cells);
      if (g > 0) expect(t.cdf[g - 1]).toBeLessThanOrEqual(j / t.cells);
      // A cell resolved at once lies wholly below F(its value); the edge cells never are.
      const code = t.cell[j]!;
      if (code >= 0) {
        expect(code).toBe(t.kmin + g);
        expect(t.cdf[g]).toBeGreaterThanOrEqual((j + 1) / t.cells);
        expect(j > 0 && j < t.cells - 1).toBe(true);
      } else expect(~code).toBe(g);
    }
    // Survival P(X > k) from the top: consistent with the CDF, and below 1/cells from tailFrom.
    expect(t.survival[0]).toBeLessThan(1 / t.cells);
    if (t.tailFrom > 0) expect(1 - t.cdf[t.tailFrom - 1]!).toBeGreaterThanOrEqual(1 / t.cells - 1e-12);
    for (let i = 0; i < t.survival.length; i++) expect(Math.abs(t.survival[i]! - (1 - t.cdf[t.tailFrom + i]!))).toBeLessThan(1e-12);
    expect(t.survival[t.survival.length - 1]).toBe(0);
  });

  it('poissonTable declines arrays too short to pay for it', () => {
    expect(poissonTable(0.5, 100)).toBeNull();
    expect(poissonTable(1e6, 65536)).toBeNull();
    expect(poissonTable(36, 65536)).not.toBeNull();
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
