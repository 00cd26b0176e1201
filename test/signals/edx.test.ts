import { describe, expect, it } from 'vitest';
import { EDX_WINDOW_HALF_eV, elementData } from '../../src/protocol/elements.js';
import { Rng } from '../../src/protocol/random.js';
import { backgroundWindow_eV, detectorFwhm_eV, renderEdxFrame, renderEdxPointSpectrum } from '../../src/twin/signals/index.js';
import type { Particle } from '../../src/twin/types.js';
import { ELEMENTS, FIELD, makeParticles, TUNED } from './fixtures.js';

const at = (x: number, y: number, r_nm: number, c: number[]): Particle => ({ id: 0, x_m: x, y_m: y, radius_m: r_nm * 1e-9, composition: Float64Array.from(c) });
const sum = (a: ArrayLike<number>, from = 0, to = a.length) => {
  let s = 0;
  for (let i = from; i < to; i++) s += a[i]!;
  return s;
};

describe('EDX frame', () => {
  it('returns HAADF, one map per element and the background map, with their attrs', () => {
    const ds = renderEdxFrame(makeParticles(new Rng(1), { count: 5 }), ELEMENTS, FIELD, 10, TUNED, new Rng(2), 12.5);
    expect(ds.map((d) => d.name)).toEqual(['image/HAADF', 'image/EDS_Au', 'image/EDS_Co', 'image/EDS_Ni', 'image/EDS_background']);
    for (const d of ds) {
      expect(d.shape).toEqual([256, 256]);
      expect(d.attrs).toMatchObject({ fov_m: 30e-6, imsize: 256, center_m: FIELD.center_m, frame_time_s: 12.5 });
      expect(d.attrs.dwell_time_s).toBeCloseTo(10 / 256 ** 2, 15);
      expect(d.values.every((v) => Number.isInteger(v) && v >= 0)).toBe(true);
    }
    const au = ds[1]!.attrs;
    expect(au).toMatchObject({ detector: 'eds', element: 'Au', line: 'La', line_energy_keV: 9.713, window_eV: [9613, 9813], k_factor: 0.7 });
    expect(au.background_scale as number).toBeGreaterThan(0.2);
    expect(au.background_scale as number).toBeLessThan(1);
    expect(ds[4]!.attrs.window_eV).toEqual(backgroundWindow_eV(ELEMENTS));
  });

  it('the background window is clear of every line of the elements', () => {
    for (const els of [ELEMENTS, ['Pt', 'Pd', 'Ru'], ['Fe', 'Cr', 'Mn', 'Ti', 'Cu']]) {
      const [lo, hi] = backgroundWindow_eV(els);
      expect(hi - lo).toBe(2 * EDX_WINDOW_HALF_eV);
      for (const s of els) {
        const el = elementData(s);
        for (const l of [el.quantLine, ...el.otherLines]) {
          const e = l.energy_keV * 1000;
          expect(Math.min(Math.abs(e - lo), Math.abs(e - hi)) > 2 * detectorFwhm_eV(e) || e < lo - 1 || e > hi + 1).toBe(true);
        }
      }
    }
  });

  it('calibration: a 20 nm particle in a 10 s frame at 50 pA gives a few thousand net counts', () => {
    const p = at(FIELD.center_m[0] + 1e-8, FIELD.center_m[1], 20, [1 / 3, 1 / 3, 1 / 3]);
    const ds = renderEdxFrame([p], ELEMENTS, FIELD, 10, TUNED, new Rng(3));
    const bare = renderEdxFrame([], ELEMENTS, FIELD, 10, TUNED, new Rng(3));
    let net = 0;
    for (let e = 1; e <= 3; e++) net += sum(ds[e]!.values) - sum(bare[e]!.values);
    expect(net).toBeGreaterThan(1500);
    expect(net).toBeLessThan(5000);
  });

  it('net = gross - background_scale x background is unbiased on bare support', () => {
    const ds = renderEdxFrame([], ELEMENTS, { ...FIELD, imsize: 128 }, 200, TUNED, new Rng(4));
    const bg = sum(ds[4]!.values);
    for (let e = 1; e <= 3; e++) {
      const gross = sum(ds[e]!.values);
      const scale = ds[e]!.attrs.background_scale as number;
      const net = gross - scale * bg;
      expect(Math.abs(net)).toBeLessThan(4 * Math.sqrt(gross + scale * scale * bg));
    }
  });

  it('element counts follow fraction x kFactor and scale with frame time', () => {
    const p = at(FIELD.center_m[0], FIELD.center_m[1], 40, [0.6, 0.3, 0.1]);
    // Net of the continuum (the particle's own, seen in the background map, and the support's).
    const counts = (frame_s: number, seed: number) => {
      const ds = renderEdxFrame([p], ELEMENTS, FIELD, frame_s, TUNED, new Rng(seed));
      const bg = sum(ds[4]!.values);
      return [1, 2, 3].map((e) => sum(ds[e]!.values) - (ds[e]!.attrs.background_scale as number) * bg);
    };
    const c = counts(40, 5);
    const expected = [0.6 * 0.7, 0.3 * 1.0, 0.1 * 1.05];
    const ratio = c.map((v, i) => v / expected[i]!);
    expect(ratio[1]! / ratio[0]!).toBeGreaterThan(0.9);
    expect(ratio[1]! / ratio[0]!).toBeLessThan(1.1);
    const c4 = counts(160, 6);
    expect(sum(c4) / sum(c)).toBeGreaterThan(3.6);
    expect(sum(c4) / sum(c)).toBeLessThan(4.4);
  });

  it('is deterministic by seed', () => {
    const ps = makeParticles(new Rng(7), { count: 8 });
    const a = renderEdxFrame(ps, ELEMENTS, FIELD, 10, TUNED, new Rng(9));
    const b = renderEdxFrame(ps, ELEMENTS, FIELD, 10, TUNED, new Rng(9));
    a.forEach((d, i) => expect(Buffer.from(d.values.buffer).equals(Buffer.from(b[i]!.values.buffer))).toBe(true));
  });

  it('rejects bad inputs', () => {
    expect(() => renderEdxFrame([], ELEMENTS, FIELD, -1, TUNED, new Rng(1))).toThrow(/frame_s/);
    expect(() => renderEdxFrame([], [], FIELD, 10, TUNED, new Rng(1))).toThrow(/elements/);
  });
});

describe('EDX point spectrum', () => {
  const p = at(0, 0, 20, [0.5, 0.3, 0.2]);
  const channelOf = (keV: number) => Math.round((keV * 1000) / 5);

  it('has 4096 channels of 5 eV with spectrum attrs', () => {
    const d = renderEdxPointSpectrum([p], ELEMENTS, [0, 0], 1, TUNED, new Rng(1));
    expect(d.name).toBe('spectrum');
    expect(d.shape).toEqual([4096]);
    expect(d.attrs).toMatchObject({ detector: 'eds', dispersion_eV: 5, offset_eV: 0, exposure_time_s: 1, number_of_frames: 1, beam_position_m: [0, 0], beam_current_pA: 50 });
  });

  it('shows every line of the particle at its energy, with the detector resolution', () => {
    const d = renderEdxPointSpectrum([p], ELEMENTS, [0, 0], 1, TUNED, new Rng(2));
    for (const s of ELEMENTS) {
      const el = elementData(s);
      for (const l of [el.quantLine, ...el.otherLines]) {
        const c = channelOf(l.energy_keV);
        const peak = Math.max(...Array.from(d.values.subarray(c - 3, c + 4)));
        const side = Math.min(sum(d.values, c - 80, c - 70), sum(d.values, c + 70, c + 80)) / 10;
        // Quant lines stand well clear; the weak low-energy lines sit on the steep low-energy continuum.
        expect(peak).toBeGreaterThan((l === el.quantLine ? 3 : 1.5) * side);
      }
    }
    expect(detectorFwhm_eV(5899)).toBeCloseTo(130, 6);
    expect(detectorFwhm_eV(9713)).toBeGreaterThan(detectorFwhm_eV(2123));
  });

  it('with no particle under the beam there are no lines, only the continuum of the support', () => {
    const off = renderEdxPointSpectrum([p], ELEMENTS, [200e-9, 0], 1, TUNED, new Rng(3));
    const c = channelOf(9.713);
    const inWindow = sum(off.values, c - 20, c + 21) / 41;
    const sides = (sum(off.values, c - 100, c - 60) + sum(off.values, c + 60, c + 100)) / 80;
    expect(Math.abs(inWindow - sides)).toBeLessThan(5 * Math.sqrt(sides / 41) + 0.05);
    const onTotal = sum(renderEdxPointSpectrum([p], ELEMENTS, [0, 0], 1, TUNED, new Rng(3)).values);
    expect(sum(off.values)).toBeLessThan(0.05 * onTotal);
  });

  it('counts scale with live time, and with the probe overlap at the particle edge', () => {
    const t1 = sum(renderEdxPointSpectrum([p], ELEMENTS, [0, 0], 1, TUNED, new Rng(4)).values);
    const t2 = sum(renderEdxPointSpectrum([p], ELEMENTS, [0, 0], 2, TUNED, new Rng(5)).values);
    expect(t2 / t1).toBeCloseTo(2, 1);
    const edge = sum(renderEdxPointSpectrum([p], ELEMENTS, [19e-9, 0], 1, TUNED, new Rng(6)).values);
    expect(edge).toBeLessThan(0.6 * t1);
    expect(edge).toBeGreaterThan(0.05 * t1);
  });

  it('is deterministic by seed and rejects bad inputs', () => {
    const a = renderEdxPointSpectrum([p], ELEMENTS, [0, 0], 1, TUNED, new Rng(8));
    const b = renderEdxPointSpectrum([p], ELEMENTS, [0, 0], 1, TUNED, new Rng(8));
    expect(Buffer.from(a.values.buffer).equals(Buffer.from(b.values.buffer))).toBe(true);
    expect(() => renderEdxPointSpectrum([p], ELEMENTS, [0, NaN] as [number, number], 1, TUNED, new Rng(1))).toThrow(/beam_m/);
    expect(() => renderEdxPointSpectrum([p], ELEMENTS, [0, 0], 0, TUNED, new Rng(1))).toThrow(/live_s/);
  });
});
