import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/protocol/random.js';
import type { CompositionSpec, SpecimenSpec } from '../../src/protocol/scenario.js';
import { buildSpecimen, type TwinSpecimen } from '../../src/twin/specimen.js';
import type { Particle } from '../../src/twin/types.js';

/** A small specimen; the truth is kept tiny (its own tests are in ground-truth.test.ts). */
function spec(overrides: Partial<SpecimenSpec> = {}): SpecimenSpec {
  return {
    area_um: [100, 100],
    density_per_um2: 0.02,
    radius_nm: { mean: 20, sd: 10, min: 3 },
    elements: ['Au', 'Co', 'Ni'],
    composition: { kind: 'uniform' },
    response: { gaussians: 20, sd: 0.1, base_eV: 15, scale_eV: 2 },
    ...overrides,
  };
}

const build = (s: SpecimenSpec, seed: number | string): TwinSpecimen => buildSpecimen(s, new Rng(seed), { truth: { standardisationSamples: 64 } });

function overlaps(particles: Particle[]): number {
  let n = 0;
  for (let i = 0; i < particles.length; i++)
    for (let j = i + 1; j < particles.length; j++) {
      const a = particles[i]!;
      const b = particles[j]!;
      if (Math.hypot(a.x_m - b.x_m, a.y_m - b.y_m) < a.radius_m + b.radius_m) n++;
    }
  return n;
}

describe('specimen: particles', () => {
  it('counts follow Poisson(density x area): mean and variance over 60 seeds', () => {
    const lambda = 0.02 * 100 * 100; // 200
    const counts = Array.from({ length: 60 }, (_, i) => build(spec(), i).particles.length);
    const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
    const variance = counts.reduce((a, b) => a + (b - mean) ** 2, 0) / (counts.length - 1);
    // Standard error of the mean: sqrt(200/60) ~ 1.8; allow 4 of them. Variance: loose (chi-square, 59 dof).
    expect(Math.abs(mean - lambda)).toBeLessThan(4 * Math.sqrt(lambda / counts.length));
    expect(variance).toBeGreaterThan(0.5 * lambda);
    expect(variance).toBeLessThan(1.6 * lambda);
  });

  test.prop([fc.integer({ min: 0, max: 1e6 }), fc.double({ min: 0.2, max: 1.5, noNaN: true })], { numRuns: 15 })(
    'never overlap, even at 20 % coverage (property)',
    (seed, density) => {
      const s = build(spec({ area_um: [20, 20], density_per_um2: density, radius_nm: { mean: 200, sd: 60, min: 50 } }), seed);
      expect(s.particles.length).toBeGreaterThan(0);
      expect(overlaps(s.particles)).toBe(0);
    },
  );

  test.prop([fc.integer({ min: 0, max: 1e6 }), fc.double({ min: 1, max: 50, noNaN: true }), fc.double({ min: 0, max: 30, noNaN: true })], { numRuns: 20 })(
    'radii are >= min, in m, and centres lie in the area (property)',
    (seed, mean, sd) => {
      const min = mean / 2;
      const s = build(spec({ area_um: [40, 30], density_per_um2: 0.1, radius_nm: { mean, sd, min } }), seed);
      for (const p of s.particles) {
        expect(p.radius_m).toBeGreaterThanOrEqual(min * 1e-9);
        expect(Math.abs(p.x_m)).toBeLessThanOrEqual(20e-6);
        expect(Math.abs(p.y_m)).toBeLessThanOrEqual(15e-6);
      }
      expect(s.area_m).toEqual([40e-6, 30e-6]);
    },
  );

  it('radii follow Normal(mean, sd) when the truncation is far below', () => {
    const s = build(spec({ area_um: [200, 200], radius_nm: { mean: 20, sd: 4, min: 1 } }), 9);
    const r = s.particles.map((p) => p.radius_m * 1e9);
    const mean = r.reduce((a, b) => a + b, 0) / r.length;
    const sd = Math.sqrt(r.reduce((a, b) => a + (b - mean) ** 2, 0) / (r.length - 1));
    expect(Math.abs(mean - 20)).toBeLessThan(0.5);
    expect(Math.abs(sd - 4)).toBeLessThan(0.5);
  });

  it('ids are 0..N-1 in order', () => {
    const s = build(spec(), 3);
    expect(s.particles.map((p) => p.id)).toEqual(s.particles.map((_, i) => i));
  });
});

describe('specimen: compositions', () => {
  const kinds: CompositionSpec[] = [
    { kind: 'uniform' },
    { kind: 'dirichlet', alpha: [0.3, 2, 5, 0.05] },
    { kind: 'gradient', from: [1, 0, 0, 0], to: [0, 0.2, 0.3, 0.5], axis: 'y', concentration: 5 },
  ];
  test.prop([fc.constantFrom(...kinds), fc.integer({ min: 0, max: 1e6 })], { numRuns: 15 })('are non-negative, one per element, summing to 1 (property)', (composition, seed) => {
    const s = build(spec({ elements: ['Au', 'Co', 'Ni', 'Pt'], composition }), seed);
    for (const p of s.particles) {
      expect(p.composition.length).toBe(4);
      expect(Math.min(...p.composition)).toBeGreaterThanOrEqual(0);
      expect(p.composition.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    }
  });

  it("'dirichlet' has mean alpha / sum(alpha)", () => {
    const alpha = [1, 2, 5];
    const s = build(spec({ area_um: [300, 300], composition: { kind: 'dirichlet', alpha } }), 4);
    for (let i = 0; i < 3; i++) {
      const m = s.particles.reduce((a, p) => a + p.composition[i]!, 0) / s.particles.length;
      expect(m).toBeCloseTo(alpha[i]! / 8, 1);
    }
  });

  it("'gradient' mean composition follows the gradient along its axis, and not across it", () => {
    const from = [0.8, 0.1, 0.1];
    const to = [0.1, 0.2, 0.7];
    const s = build(spec({ area_um: [400, 200], density_per_um2: 0.05, composition: { kind: 'gradient', from, to, axis: 'x', concentration: 20 } }), 5);
    const bins = 8;
    for (let b = 0; b < bins; b++) {
      const inBin = s.particles.filter((p) => Math.floor((p.x_m / 400e-6 + 0.5) * bins) === b);
      const t = (b + 0.5) / bins;
      for (let i = 0; i < 3; i++) {
        const m = inBin.reduce((a, p) => a + p.composition[i]!, 0) / inBin.length;
        // ~500 particles a bin, Dirichlet sd <= 0.11: standard error <= 0.005.
        expect(Math.abs(m - ((1 - t) * from[i]! + t * to[i]!))).toBeLessThan(0.03);
      }
    }
    const top = s.particles.filter((p) => p.y_m > 0);
    const bottom = s.particles.filter((p) => p.y_m <= 0);
    const meanFirst = (ps: Particle[]) => ps.reduce((a, p) => a + p.composition[0]!, 0) / ps.length;
    expect(Math.abs(meanFirst(top) - meanFirst(bottom))).toBeLessThan(0.03);
  });

  it("'gradient' concentration defaults to 20 when absent", () => {
    const composition = { kind: 'gradient', from: [0.5, 0.5, 0], to: [0.5, 0.5, 0], axis: 'y' } as unknown as CompositionSpec;
    const s = build(spec({ area_um: [300, 300], composition }), 6);
    const x = s.particles.map((p) => p.composition[0]!);
    const mean = x.reduce((a, b) => a + b, 0) / x.length;
    const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / (x.length - 1);
    // Dirichlet: var = m (1 - m) / (concentration + 1) = 0.25 / 21; the absent element stays 0.
    expect(variance).toBeGreaterThan(0.25 / 21 / 1.25);
    expect(variance).toBeLessThan(0.25 / 21 * 1.25);
    expect(s.particles.every((p) => p.composition[2] === 0)).toBe(true);
  });
});

describe('specimen: particlesIn', () => {
  const s = build(spec({ area_um: [300, 200], density_per_um2: 0.05 }), 77);
  const coordinate = fc.oneof(fc.double({ min: -200e-6, max: 200e-6, noNaN: true }), fc.constantFrom(-Infinity, Infinity, 0, 10e-6, -150e-6, 150e-6));

  test.prop([coordinate, coordinate, coordinate, coordinate], { numRuns: 200 })('equals a brute-force filter, in id order (property)', (x0, y0, x1, y1) => {
    const brute = s.particles.filter((p) => p.x_m >= x0 && p.x_m < x1 && p.y_m >= y0 && p.y_m < y1);
    expect(s.particlesIn(x0, y0, x1, y1)).toEqual(brute);
  });

  it('returns everything for the whole plane and nothing for an empty rectangle', () => {
    expect(s.particlesIn(-Infinity, -Infinity, Infinity, Infinity)).toHaveLength(s.particles.length);
    expect(s.particlesIn(0, 0, 0, 1)).toEqual([]);
    expect(() => s.particlesIn(Number.NaN, 0, 1, 1)).toThrow(/x0/);
  });
});

describe('specimen: determinism and errors', () => {
  it('is the same for the same seed and differs across seeds', () => {
    const a = build(spec(), 'same');
    const b = build(spec(), 'same');
    const c = build(spec(), 'other');
    expect(a.particles).toEqual(b.particles);
    expect(a.truth.value_eV([0.2, 0.3, 0.5])).toBe(b.truth.value_eV([0.2, 0.3, 0.5]));
    expect(c.particles.length === a.particles.length && c.particles.every((p, i) => p.x_m === a.particles[i]!.x_m)).toBe(false);
    expect(c.truth.value_eV([0.2, 0.3, 0.5])).not.toBe(a.truth.value_eV([0.2, 0.3, 0.5]));
  });

  it('keeps positions when only the composition law changes (independent streams)', () => {
    const a = build(spec(), 12);
    const b = build(spec({ composition: { kind: 'dirichlet', alpha: [1, 1, 9] } }), 12);
    expect(b.particles.map((p) => [p.x_m, p.y_m, p.radius_m])).toEqual(a.particles.map((p) => [p.x_m, p.y_m, p.radius_m]));
  });

  it('gives the truth the elements and the response of the spec', () => {
    const s = build(spec({ elements: ['Au', 'Co', 'Ni', 'Pt'], response: { gaussians: 33, sd: 0.2, base_eV: 10, scale_eV: 1 } }), 1);
    expect(s.elements).toEqual(['Au', 'Co', 'Ni', 'Pt']);
    expect(s.truth.dims).toBe(4);
    expect(s.truth.gaussians).toBe(33);
    expect(s.truth.sd).toBe(0.2);
  });

  it('refuses a density the area cannot hold, naming density_per_um2', () => {
    expect(() => build(spec({ density_per_um2: 50, radius_nm: { mean: 100, sd: 10, min: 50 } }), 1)).toThrow(/density_per_um2.*cover/);
    const tight = spec({ area_um: [10, 10], density_per_um2: 3, radius_nm: { mean: 200, sd: 0, min: 200 } });
    expect(() => buildSpecimen(tight, new Rng(1), { placementTries: 1, truth: { standardisationSamples: 8 } })).toThrow(/density_per_um2: the area is full/);
  });

  it('rejects malformed specs with the field named', () => {
    expect(() => build(spec({ area_um: [0, 10] }), 1)).toThrow(/area_um\[0\]/);
    expect(() => build(spec({ radius_nm: { mean: 10, sd: 1, min: 20 } }), 1)).toThrow(/radius_nm.min/);
    expect(() => build(spec({ elements: ['Au'] }), 1)).toThrow(/elements/);
    expect(() => build(spec({ composition: { kind: 'dirichlet', alpha: [1, 1] } }), 1)).toThrow(/composition.alpha/);
    expect(() => build(spec({ composition: { kind: 'gradient', from: [0.5, 0.5, 0.5], to: [1, 0, 0], axis: 'x', concentration: 20 } }), 1)).toThrow(
      /composition.from: fractions must sum to 1/,
    );
  });
});
