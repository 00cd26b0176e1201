import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import {
  argmax,
  createAcquisition,
  erfc,
  erfcx,
  logExpectedImprovement,
  logH,
  normalCdf,
  normalPdf,
  toUtility,
  upperConfidenceBound,
} from '../../src/policy/acquisition.js';
import type { AcquisitionName } from '../../src/protocol/scenario.js';

function rel(a: number, b: number): number {
  return Math.abs(a - b) / Math.abs(b);
}

/** Reference values from mpmath at 30 digits. */
const ERFC: [number, number][] = [
  [0.1, 0.8875370839817151],
  [0.5, 0.47950012218695346],
  [1, 0.15729920705028513],
  [1.9, 0.0072095707647425328],
  [2, 0.0046777349810472658],
  [2.5, 0.00040695201744495894],
  [3, 2.2090496998585441e-5],
  [5, 1.5374597944280349e-12],
  [10, 2.0884875837625448e-45],
  [26, 5.6631924088561428e-296],
];
const ERFCX: [number, number][] = [
  [0.5, 0.61569034419292587],
  [1, 0.427583576155807],
  [2, 0.25539567631050574],
  [5, 0.11070463773306863],
  [20, 0.028174348741051319],
  [100, 0.0056416137829894329],
  [1e4, 5.6418958072680841e-5],
];
const LOGH: [number, number][] = [
  [-1e4, -50000019.339619307],
  [-200, -20011.515648259739],
  [-40, -808.29856835661996],
  [-25, -319.86146358149595],
  [-19.9, -204.91288769492166],
  [-10, -55.553122036122356],
  [-5, -16.74430116266099],
  [-1.5, -3.5299359208057099],
  [-1, -2.4851210257126413],
  [-0.999, -2.4832171154475854],
  [0, -0.91893853320467274],
  [1, 0.08002621884930694],
  [5, 1.6094379231264314],
  [40, 3.6888794541139363],
];

describe('special functions', () => {
  it.each(ERFC)('erfc(%d)', (x, want) => {
    expect(rel(erfc(x), want)).toBeLessThan(1e-13);
    expect(erfc(-x)).toBeCloseTo(2 - want, 14);
  });
  it.each(ERFCX)('erfcx(%d)', (x, want) => expect(rel(erfcx(x), want)).toBeLessThan(1e-13));
  it.each(LOGH)('log h(%d) = log(phi + z Phi)', (z, want) => expect(rel(logH(z), want)).toBeLessThan(1e-12));

  it('normal pdf and cdf', () => {
    expect(normalPdf(0)).toBeCloseTo(1 / Math.sqrt(2 * Math.PI), 15);
    expect(normalCdf(0)).toBe(0.5);
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 14);
    expect(rel(normalCdf(-10), 7.6198530241604696e-24)).toBeLessThan(1e-12);
  });

  test.prop([fc.double({ min: -60, max: 30, noNaN: true })])('log h is increasing and continuous across its branches', (z) => {
    expect(logH(z + 1e-3)).toBeGreaterThan(logH(z));
  });

  it('log h has no jump at the branch points -1 and -20', () => {
    for (const z of [-1, -20]) expect(Math.abs(logH(z - 1e-9) - logH(z + 1e-9))).toBeLessThan(1e-7);
  });
});

describe('log expected improvement', () => {
  it('equals log of the closed-form EI where EI is representable', () => {
    for (const [mean, sd, best] of [
      [1, 0.5, 0.8],
      [0, 1, 2],
      [15, 0.2, 16],
      [3, 2, -1],
    ] as const) {
      const z = (mean - best) / sd;
      const ei = sd * (normalPdf(z) + z * normalCdf(z));
      expect(logExpectedImprovement(mean, sd, best)).toBeCloseTo(Math.log(ei), 11);
    }
  });

  it('stays finite far below the best value, where EI underflows', () => {
    const v = logExpectedImprovement(0, 0.01, 100);
    expect(Number.isFinite(v)).toBe(true);
    // log phi(z) - 2 log|z| + log sd, z = -1e4.
    expect(v).toBeCloseTo(-0.5 * 1e8 - 0.5 * Math.log(2 * Math.PI) - 2 * Math.log(1e4) + Math.log(0.01), 3);
  });

  it('with zero sd is log(max(mean - best, 0))', () => {
    expect(logExpectedImprovement(3, 0, 1)).toBeCloseTo(Math.log(2), 15);
    expect(logExpectedImprovement(1, 0, 3)).toBe(-Infinity);
  });
});

describe('acquisitions', () => {
  const mean = Float64Array.of(1, 2, 3, 0.5);
  const variance = Float64Array.of(0.25, 4, 1, 0);

  it('max-variance is the variance, max-sd its square root', () => {
    expect(Array.from(createAcquisition('max-variance').evaluate(mean, variance))).toEqual([0.25, 4, 1, 0]);
    expect(Array.from(createAcquisition('max-sd').evaluate(mean, variance))).toEqual([0.5, 2, 1, 0]);
  });

  it('ucb is mean + sqrt(beta) sd', () => {
    expect(Array.from(upperConfidenceBound(4).evaluate(mean, variance))).toEqual([2, 6, 5, 0.5]);
    expect(Array.from(createAcquisition('ucb', { ucbBeta: 0 }).evaluate(mean, variance))).toEqual([1, 2, 3, 0.5]);
  });

  it('log-ei evaluates logExpectedImprovement against the best value and is on a log scale', () => {
    const acq = createAcquisition('log-ei', { best_eV: 2.5 });
    expect(acq.logScale).toBe(true);
    const out = acq.evaluate(mean, variance);
    for (let i = 0; i < 4; i++) expect(out[i]).toBe(logExpectedImprovement(mean[i]!, Math.sqrt(variance[i]!), 2.5));
    const u = toUtility(acq, out);
    expect(u[2]).toBeCloseTo(Math.exp(out[2]!), 15);
    expect(Array.from(toUtility(createAcquisition('max-sd'), [1, 2]))).toEqual([1, 2]);
  });

  test.prop([fc.constantFrom<AcquisitionName>('max-variance', 'max-sd', 'ucb', 'log-ei'), fc.double({ min: 0.01, max: 10, noNaN: true }), fc.double({ min: 0, max: 5, noNaN: true })])(
    'every acquisition is non-decreasing in the variance at fixed mean',
    (name, v, dv) => {
      const acq = createAcquisition(name, { best_eV: 1, ucbBeta: 2 });
      const [a, b] = acq.evaluate([0.5, 0.5], [v, v + dv]);
      expect(b!).toBeGreaterThanOrEqual(a!);
    },
  );

  it('writes into a given buffer and names bad input', () => {
    const buf = new Float64Array(4);
    expect(createAcquisition('max-variance').evaluate(mean, variance, buf)).toBe(buf);
    expect(() => createAcquisition('max-sd').evaluate([1, 2], [1])).toThrow(/max-sd: mean and variance differ/);
    expect(() => createAcquisition('log-ei')).toThrow(/best_eV/);
    expect(() => createAcquisition('ucb', { ucbBeta: -1 })).toThrow(/ucbBeta/);
    expect(() => createAcquisition('thompson' as AcquisitionName)).toThrow(/acquisition: must be one of/);
    expect(() => createAcquisition('max-variance').evaluate(mean, variance, new Float64Array(2))).toThrow(/out has 2 entries/);
  });

  it('argmax returns the first maximum, skips NaN, and -1 for nothing', () => {
    expect(argmax([1, 3, 3, 2])).toBe(1);
    expect(argmax([NaN, -1, NaN])).toBe(1);
    expect(argmax([-Infinity, -Infinity])).toBe(0);
    expect(argmax([])).toBe(-1);
    expect(argmax([5, 1, 9], 2)).toBe(0);
  });
});
