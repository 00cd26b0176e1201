import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { findParticles, quantifyFromFrame, quantifyPointSpectrum, simplexReestimate, type Composition, type FoundParticle } from '../../src/policy/analysis/index.js';
import { Rng } from '../../src/protocol/random.js';
import { renderEdxFrame, renderEdxPointSpectrum } from '../../src/twin/signals/index.js';
import type { Particle } from '../../src/twin/types.js';
import { ELEMENTS, FIELD, makeParticles, matchFound, record, TUNED } from '../signals/fixtures.js';

const sum = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0);

describe('simplexReestimate (eqs. 2-3)', () => {
  const fractionsAndSigmas = fc.integer({ min: 2, max: 8 }).chain((d) =>
    fc.tuple(fc.array(fc.double({ min: -0.2, max: 1.2, noNaN: true }), { minLength: d, maxLength: d }), fc.array(fc.double({ min: 0, max: 0.5, noNaN: true }), { minLength: d, maxLength: d })),
  );

  test.prop([fractionsAndSigmas])('no sigma ever increases; total_sigma is the replaced component and never above the largest input sigma', ([c, s]) => {
    const r = simplexReestimate(c, s);
    for (let i = 0; i < c.length; i++) expect(r.sigma[i]!).toBeLessThanOrEqual(s[i]!);
    expect(r.total_sigma).toBeLessThanOrEqual(Math.max(...s));
    expect(r.sigma).toContain(r.total_sigma);
  });

  test.prop([fractionsAndSigmas])('when applied the fractions sum to 1; only the largest-sigma component changes', ([c, s]) => {
    const r = simplexReestimate(c, s);
    const k = s.indexOf(Math.max(...s));
    const changed = r.sigma[k]! < s[k]!;
    if (changed) expect(sum(r.fractions)).toBeCloseTo(1, 9);
    for (let i = 0; i < c.length; i++) if (i !== k) expect(r.fractions[i]).toBe(c[i]);
    if (!changed) expect(Array.from(r.fractions)).toEqual(c);
  });

  test.prop([fc.integer({ min: 2, max: 6 }).chain((d) => fc.tuple(fc.constant(d), fc.array(fc.double({ min: 0, max: 0.3, noNaN: true }), { minLength: d, maxLength: d }))), fc.integer()])(
    'fractions that sum to 1 still do',
    ([d, s], seed) => {
      const c = new Rng(seed).simplexUniform(d);
      expect(sum(simplexReestimate(c, s).fractions)).toBeCloseTo(1, 9);
    },
  );

  it('worked example: the uncertain component is replaced by 1 - the others', () => {
    const r = simplexReestimate([0.5, 0.3, 0.35], [0.01, 0.01, 0.1]);
    expect(r.fractions[2]).toBeCloseTo(0.2, 12);
    expect(r.sigma[2]).toBeCloseTo(Math.SQRT2 * 0.01, 12);
    expect(r.total_sigma).toBeCloseTo(Math.SQRT2 * 0.01, 12);
    // Not applied when the others together are less certain.
    const n = simplexReestimate([0.4, 0.3, 0.3], [0.05, 0.05, 0.06]);
    expect(Array.from(n.sigma)).toEqual([0.05, 0.05, 0.06]);
    expect(n.total_sigma).toBe(0.06);
  });

  it('rejects bad input', () => {
    expect(() => simplexReestimate([1], [0.1])).toThrow(/at least 2/);
    expect(() => simplexReestimate([0.5, 0.5], [0.1])).toThrow(/sigma has 1/);
    expect(() => simplexReestimate([0.5, NaN], [0.1, 0.1])).toThrow(/fractions\[1\]/);
    expect(() => simplexReestimate([0.5, 0.5], [0.1, -1])).toThrow(/sigma\[1\]/);
  });
});

/** Frames over several specimens: z-scores of every element of every quantified particle, and absolute errors per true particle. */
function frameStudy(frame_s: number, seeds: number) {
  const z: number[] = [];
  const errors = new Map<string, number>();
  let quantified = 0;
  let total = 0;
  for (let s = 0; s < seeds; s++) {
    const rng = new Rng(`quant-${s}`);
    const ps = makeParticles(rng, { count: 20 });
    const frame = record(renderEdxFrame(ps, ELEMENTS, FIELD, frame_s, TUNED, rng.fork('noise')));
    const found = findParticles(frame);
    const comps = quantifyFromFrame(frame, found, ELEMENTS);
    const m = matchFound(found, ps, 200e-9);
    total += found.length;
    for (const [f, p] of m.pairs) {
      const c = comps[found.indexOf(f)];
      if (!c) continue;
      quantified++;
      let e = 0;
      for (let i = 0; i < ELEMENTS.length; i++) {
        z.push((c.fractions[i]! - p.composition[i]!) / c.sigma[i]!);
        e += Math.abs(c.fractions[i]! - p.composition[i]!);
      }
      errors.set(`${s}/${p.id}`, e / ELEMENTS.length);
    }
  }
  const within = (k: number) => z.filter((v) => Math.abs(v) <= k).length / z.length;
  return { within1: within(1), within2: within(2), errors, quantified, total };
}

describe('quantifyFromFrame', () => {
  it('uncertainties are honest (z-scores ~68 % within 1, ~95 % within 2) and errors shrink with frame time', () => {
    const short = frameStudy(10, 8);
    // Measured: within1 ~0.70, within2 ~0.95 (eq. 3 overstates the replaced sigma a little).
    expect(short.within1).toBeGreaterThan(0.58);
    expect(short.within1).toBeLessThan(0.85);
    expect(short.within2).toBeGreaterThan(0.9);
    expect(short.quantified).toBeGreaterThan(0.9 * short.total);
    const long = frameStudy(40, 8);
    expect(long.within2).toBeGreaterThan(0.9);
    // 4x the counts: errors ~halve, compared on the particles quantified at both frame times
    // (longer frames also quantify smaller particles, whose errors are larger).
    let a = 0;
    let b = 0;
    for (const [id, e] of short.errors) {
      const l = long.errors.get(id);
      if (l === undefined) continue;
      a += e;
      b += l;
    }
    expect(b / a).toBeGreaterThan(0.35);
    expect(b / a).toBeLessThan(0.7);
  });

  it('gives null when the counts are too few, and for particles outside the frame', () => {
    const p: Particle = { id: 0, x_m: FIELD.center_m[0], y_m: FIELD.center_m[1], radius_m: 6e-9, composition: Float64Array.from([0.3, 0.3, 0.4]) };
    const frame = record(renderEdxFrame([p], ELEMENTS, FIELD, 1, TUNED, new Rng(1)));
    const at = (x: number, y: number, r = 6e-9): FoundParticle => ({ x_m: x, y_m: y, radius_m: r, fx: 0.5, fy: 0.5, intensity: 1, width_m: 0 });
    const [small, outside] = quantifyFromFrame(frame, [at(p.x_m, p.y_m), at(p.x_m + 1e-3, p.y_m)], ELEMENTS);
    expect(small).toBeNull();
    expect(outside).toBeNull();
    const big = quantifyFromFrame(record(renderEdxFrame([{ ...p, radius_m: 30e-9 }], ELEMENTS, FIELD, 10, TUNED, new Rng(1))), [at(p.x_m, p.y_m, 30e-9)], ELEMENTS)[0];
    expect(big).not.toBeNull();
    expect(sum(big!.fractions)).toBeCloseTo(1, 9);
  });

  it('without background_scale attrs falls back to Kramers and stays within the error bars', () => {
    const p: Particle = { id: 0, x_m: FIELD.center_m[0], y_m: FIELD.center_m[1], radius_m: 30e-9, composition: Float64Array.from([0.6, 0.1, 0.3]) };
    const ds = renderEdxFrame([p], ELEMENTS, FIELD, 40, TUNED, new Rng(2)).map((d) => ({ ...d, attrs: { ...d.attrs, background_scale: undefined } }));
    const c = quantifyFromFrame(record(ds), [{ x_m: p.x_m, y_m: p.y_m, radius_m: p.radius_m, fx: 0.5, fy: 0.5, intensity: 1, width_m: 0 }], ELEMENTS)[0]!;
    for (let i = 0; i < 3; i++) expect(Math.abs(c.fractions[i]! - p.composition[i]!)).toBeLessThan(3 * c.sigma[i]!);
  });

  it('is deterministic and rejects bad input', () => {
    const ps = makeParticles(new Rng(3), { count: 10 });
    const frame = record(renderEdxFrame(ps, ELEMENTS, FIELD, 10, TUNED, new Rng(4)));
    const found = findParticles(frame);
    expect(quantifyFromFrame(frame, found, ELEMENTS)).toEqual(quantifyFromFrame(frame, found, ELEMENTS));
    expect(() => quantifyFromFrame(frame, found, ['Au', 'Co', 'Pt'])).toThrow(/no dataset "image\/EDS_Pt"/);
    expect(() => quantifyFromFrame(record(frame.datasets.filter((d) => d.name !== 'image/EDS_background')), found, ELEMENTS)).toThrow(/image\/EDS_background/);
    expect(() => quantifyFromFrame(frame, found, ['Au'])).toThrow(/at least 2/);
    expect(() => quantifyFromFrame(frame, found, ELEMENTS, { footprint_px: 0 })).toThrow(/footprint_px/);
  });
});

describe('quantifyPointSpectrum', () => {
  it('z-scores are honest over many particles', () => {
    const z: number[] = [];
    for (let s = 0; s < 60; s++) {
      const rng = new Rng(`point-${s}`);
      const p = makeParticles(rng, { count: 1 })[0]!;
      const c: Composition = quantifyPointSpectrum(record([renderEdxPointSpectrum([p], ELEMENTS, [p.x_m, p.y_m], 1, TUNED, rng.fork('noise'))]), ELEMENTS);
      for (let i = 0; i < 3; i++) z.push((c.fractions[i]! - p.composition[i]!) / c.sigma[i]!);
    }
    const within = (k: number) => z.filter((v) => Math.abs(v) <= k).length / z.length;
    expect(within(1)).toBeGreaterThan(0.55);
    expect(within(1)).toBeLessThan(0.85);
    expect(within(2)).toBeGreaterThan(0.88);
  });

  it('uncertainty shrinks with live time', () => {
    const p = makeParticles(new Rng(5), { count: 1 })[0]!;
    const sigmaAt = (live: number) => quantifyPointSpectrum(record([renderEdxPointSpectrum([p], ELEMENTS, [p.x_m, p.y_m], live, TUNED, new Rng(6))]), ELEMENTS).total_sigma;
    expect(sigmaAt(0.04) / sigmaAt(1)).toBeGreaterThan(4);
    expect(sigmaAt(0.04) / sigmaAt(1)).toBeLessThan(6);
  });

  it('no particle under the beam: infinite sigma', () => {
    const p = makeParticles(new Rng(7), { count: 1 })[0]!;
    const c = quantifyPointSpectrum(record([renderEdxPointSpectrum([p], ELEMENTS, [p.x_m + 500e-9, p.y_m], 1, TUNED, new Rng(8))]), ELEMENTS);
    expect(c.total_sigma).toBe(Infinity);
    expect(Array.from(c.fractions)).toEqual([1 / 3, 1 / 3, 1 / 3]);
  });

  it('rejects a spectrum from the wrong detector or without the spectrum dataset', () => {
    const d = renderEdxPointSpectrum([], ELEMENTS, [0, 0], 1, TUNED, new Rng(9));
    expect(() => quantifyPointSpectrum(record([{ ...d, attrs: { ...d.attrs, detector: 'eels' } }]), ELEMENTS)).toThrow(/detector "eds"/);
    expect(() => quantifyPointSpectrum(record([{ ...d, name: 'image/HAADF' }]), ELEMENTS)).toThrow(/no dataset "spectrum"/);
    expect(() => quantifyPointSpectrum(record([{ ...d, attrs: { ...d.attrs, dispersion_eV: 0 } }]), ELEMENTS)).toThrow(/dispersion_eV/);
  });
});
