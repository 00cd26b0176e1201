import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/protocol/random.js';
import { expectedHaadf, renderHaadf } from '../../src/twin/signals/index.js';
import { poissonImage, type Footprint } from '../../src/twin/signals/footprint.js';
import { ELEMENTS, FIELD, TUNED, makeParticles } from './fixtures.js';

/** P(X = k) for X ~ Poisson(lambda). */
function pmf(lambda: number, k: number): number {
  let lnFact = 0;
  for (let i = 2; i <= k; i++) lnFact += Math.log(i);
  return Math.exp(-lambda + k * Math.log(lambda) - lnFact);
}

describe('poissonImage: a background and sources drawn apart', () => {
  it('each pixel is Poisson of the background plus its sources (overlapping ones summed)', () => {
    // Four classes of pixels by the weights of two overlapping sources; 2^18 pixels.
    const size = 1 << 18;
    const background = 0.4679;
    const w = [0, 0.5, 1, 2];
    const index = Int32Array.from({ length: size }, (_, i) => i);
    const a: Footprint = { index, weight: Float64Array.from(index, (i) => w[i % 4]!) };
    const b: Footprint = { index: index.filter((i) => i % 2 === 1), weight: new Float64Array(size / 2).fill(0.25) };
    const sources = [
      { fp: a, amplitude: 1.5 },
      { fp: b, amplitude: 2 },
    ];
    const img = poissonImage(size, background, sources, new Rng('image'));
    expect(poissonImage(size, background, sources, new Rng('image'))).toEqual(img);
    let chi2 = 0;
    let df = 0;
    let cells = 0;
    for (let cls = 0; cls < 4; cls++) {
      const lambda = background + 1.5 * w[cls]! + (cls % 2 === 1 ? 0.5 : 0);
      const xs: number[] = [];
      for (let i = cls; i < size; i += 4) xs.push(img[i]!);
      const n = xs.length;
      const m = xs.reduce((s, x) => s + x, 0) / n;
      const v = xs.reduce((s, x) => s + (x - m) ** 2, 0) / (n - 1);
      expect(xs.every((x) => Number.isInteger(x) && x >= 0)).toBe(true);
      expect(Math.abs(m - lambda)).toBeLessThan(5 * Math.sqrt(lambda / n));
      expect(Math.abs(v - lambda)).toBeLessThan(5 * Math.sqrt((lambda + 2 * lambda * lambda) / n));
      // The pmf: chi-square over the values expected at least 10 times, summed over the classes.
      const counts = new Map<number, number>();
      for (const x of xs) counts.set(x, (counts.get(x) ?? 0) + 1);
      for (let k = 0; k < 30; k++) {
        const e = n * pmf(lambda, k);
        if (e < 10) continue;
        chi2 += ((counts.get(k) ?? 0) - e) ** 2 / e;
        cells++;
      }
      df += cells - 1;
      cells = 0;
    }
    // Below the chi-square(df) quantile a correct sampler exceeds with probability ~3e-7 (Wilson-Hilferty, 5 sd).
    const h = 2 / (9 * df);
    expect(chi2).toBeLessThan(df * (1 - h + 5 * Math.sqrt(h)) ** 3);
  });

  it('Rng.poissonFill gives the draws poissonInPlace gives an array of that mean, and zeros for 0', () => {
    for (const mean of [0.4679, 35.7]) {
      const filled = new Rng('fill').poissonFill(new Float64Array(70_000), mean);
      const inPlace = new Rng('fill').poissonInPlace(new Float64Array(70_000).fill(mean));
      expect(filled).toEqual(inPlace);
    }
    expect(new Rng(1).poissonFill(new Float64Array(1000), 0).every((x) => x === 0)).toBe(true);
    expect(() => new Rng(1).poissonFill(new Float64Array(10), -1)).toThrow(/poisson: mean/);
  });

  it('renderHaadf: counts whose per-pixel mean is expectedHaadf (summed over many renders)', () => {
    const particles = makeParticles(new Rng(3), { count: 10 });
    const field = { ...FIELD, imsize: 64 };
    const expected = expectedHaadf(particles, ELEMENTS, field, 2e-6, TUNED);
    const renders = 400;
    const total = new Float64Array(expected.length);
    const rng = new Rng(11);
    for (let r = 0; r < renders; r++) {
      const v = renderHaadf(particles, ELEMENTS, field, 2e-6, TUNED, rng).values;
      for (let i = 0; i < v.length; i++) total[i]! += v[i]!;
    }
    // Each pixel's mean over the renders within 5 standard errors of its expectation.
    let worst = 0;
    for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(total[i]! / renders - expected[i]!) / Math.sqrt(expected[i]! / renders));
    expect(worst).toBeLessThan(5.5);
  });
});
