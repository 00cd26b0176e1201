import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/protocol/random.js';
import { EELS_DEFAULT_DISPERSION_eV, renderEelsSpectrum } from '../../src/twin/signals/index.js';
import type { Particle } from '../../src/twin/types.js';
import { LINEAR_TRUTH, TUNED } from './fixtures.js';

const p: Particle = { id: 0, x_m: 0, y_m: 0, radius_m: 20e-9, composition: Float64Array.from([0.2, 0.5, 0.3]) };
/** An Rng whose Poisson draw is its mean: the expected spectrum. */
const expectation = { poisson: (mean: number) => mean } as unknown as Rng;
const sum = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0);
const energy = (i: number, offset = 0, d = EELS_DEFAULT_DISPERSION_eV) => offset + i * d;

describe('EELS signal model', () => {
  it('2048 channels over 0-51 eV by default, with spectrum attrs', () => {
    const d = renderEelsSpectrum([p], [0, 0], 1, 1, 0, TUNED, LINEAR_TRUTH, new Rng(1));
    expect(d.name).toBe('spectrum');
    expect(d.shape).toEqual([2048]);
    expect(d.attrs).toMatchObject({ detector: 'eels', dispersion_eV: 0.025, offset_eV: 0, exposure_time_s: 1, number_of_frames: 1, beam_position_m: [0, 0], beam_current_pA: 50 });
    expect(d.values.every((v) => Number.isInteger(v) && v >= 0)).toBe(true);
    expect(renderEelsSpectrum([p], [0, 0], 1, 1, -5, TUNED, LINEAR_TRUTH, new Rng(1), 0.1).attrs).toMatchObject({ dispersion_eV: 0.1, offset_eV: -5 });
  });

  it('the zero loss sits at 0 eV and the target feature at the ground-truth value', () => {
    const on = renderEelsSpectrum([p], [0, 0], 1, 1, -2, TUNED, LINEAR_TRUTH, expectation);
    let zlp = 0;
    for (let i = 0; i < 2048; i++) if (on.values[i]! > on.values[zlp]!) zlp = i;
    expect(Math.abs(energy(zlp, -2))).toBeLessThan(0.03);
    // The feature alone: the same spectrum with the target moved far out of range subtracted.
    const far = { value_eV: () => 1000 };
    const noFeature = renderEelsSpectrum([p], [0, 0], 1, 1, -2, TUNED, far, expectation).values;
    let peak = 0;
    for (let i = 0; i < 2048; i++) if (on.values[i]! - noFeature[i]! > on.values[peak]! - noFeature[peak]!) peak = i;
    expect(Math.abs(energy(peak, -2) - LINEAR_TRUTH.value_eV(p.composition))).toBeLessThan(0.03);
  });

  it('no particle under the beam: no target feature', () => {
    const far = { value_eV: () => 1000 };
    const offParticle = renderEelsSpectrum([p], [300e-9, 0], 1, 1, 0, TUNED, LINEAR_TRUTH, expectation).values;
    const reference = renderEelsSpectrum([p], [300e-9, 0], 1, 1, 0, TUNED, far, expectation).values;
    for (let i = 0; i < 2048; i++) expect(offParticle[i]).toBe(reference[i]);
    const empty = renderEelsSpectrum([], [0, 0], 1, 1, 0, TUNED, LINEAR_TRUTH, expectation).values;
    for (let i = 0; i < 2048; i++) expect(offParticle[i]).toBeCloseTo(empty[i]!, 6);
  });

  it('counts scale with exposure x frames x current, and the feature with the particle under the probe', () => {
    const base = sum(renderEelsSpectrum([p], [0, 0], 1, 1, 0, TUNED, LINEAR_TRUTH, expectation).values);
    expect(sum(renderEelsSpectrum([p], [0, 0], 0.5, 4, 0, TUNED, LINEAR_TRUTH, expectation).values) / base).toBeCloseTo(2, 8);
    expect(sum(renderEelsSpectrum([p], [0, 0], 1, 1, 0, { ...TUNED, beam_current_pA: 25 }, LINEAR_TRUTH, expectation).values) / base).toBeCloseTo(0.5, 8);
    const feature = (beam: [number, number], particle: Particle) => {
      const a = renderEelsSpectrum([particle], beam, 1, 1, 0, TUNED, LINEAR_TRUTH, expectation).values;
      const b = renderEelsSpectrum([particle], beam, 1, 1, 0, TUNED, { value_eV: () => 1000 }, expectation).values;
      return sum(a) - sum(b);
    };
    const centre = feature([0, 0], p);
    expect(centre).toBeGreaterThan(1000);
    expect(feature([15e-9, 0], p)).toBeLessThan(0.8 * centre);
    // Thickness under the probe halves with the radius (2R at the centre).
    expect(Math.abs(feature([0, 0], { ...p, radius_m: 10e-9 }) / (centre / 2) - 1)).toBeLessThan(0.03);
  });

  it('is deterministic by seed and rejects bad inputs', () => {
    const a = renderEelsSpectrum([p], [0, 0], 1, 1, 0, TUNED, LINEAR_TRUTH, new Rng(5));
    const b = renderEelsSpectrum([p], [0, 0], 1, 1, 0, TUNED, LINEAR_TRUTH, new Rng(5));
    expect(Buffer.from(a.values.buffer).equals(Buffer.from(b.values.buffer))).toBe(true);
    const rng = new Rng(1);
    expect(() => renderEelsSpectrum([p], [0, 0], 0, 1, 0, TUNED, LINEAR_TRUTH, rng)).toThrow(/exposure_s/);
    expect(() => renderEelsSpectrum([p], [0, 0], 1, 0, 0, TUNED, LINEAR_TRUTH, rng)).toThrow(/frames/);
    expect(() => renderEelsSpectrum([p], [0, 0], 1, 1, NaN, TUNED, LINEAR_TRUTH, rng)).toThrow(/offset_eV/);
    expect(() => renderEelsSpectrum([p], [0, 0], 1, 1, 0, TUNED, LINEAR_TRUTH, rng, -1)).toThrow(/dispersion_eV/);
    expect(() => renderEelsSpectrum([p], [0, 0], 1, 1, 0, TUNED, undefined as never, rng)).toThrow(/truth/);
  });
});
