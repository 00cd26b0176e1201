import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/protocol/random.js';
import { expectedHaadf, haadfMu_per_m, renderHaadf, type FieldGeometry } from '../../src/twin/signals/index.js';
import { integratedResponse, particleFootprint } from '../../src/twin/signals/footprint.js';
import { supportHaadfFraction } from '../../src/twin/signals/haadf.js';
import type { Particle } from '../../src/twin/types.js';
import { DETUNED, ELEMENTS, FIELD, makeParticles, TUNED } from './fixtures.js';

const E = 1.602176634e-19;
const at = (x: number, y: number, r_nm: number, c: number[], id = 0): Particle => ({ id, x_m: x, y_m: y, radius_m: r_nm * 1e-9, composition: Float64Array.from(c) });
const sum = (a: Float64Array) => a.reduce((s, v) => s + v, 0);
const max = (a: Float64Array) => a.reduce((m, v) => Math.max(m, v), -Infinity);

/** Net expected signal of one particle: image minus the bare support. */
function netSignal(p: Particle, field: FieldGeometry, dwell_s: number, optics = TUNED): Float64Array {
  const withP = expectedHaadf([p], ELEMENTS, field, dwell_s, optics);
  const bare = expectedHaadf([], ELEMENTS, field, dwell_s, optics);
  return withP.map((v, i) => v - bare[i]!);
}

describe('HAADF signal model', () => {
  it('support background is dose x the support scattering fraction', () => {
    const img = expectedHaadf([], ELEMENTS, FIELD, 2e-6, TUNED);
    const dose = (50e-12 * 2e-6) / E;
    expect(img[0]).toBeCloseTo(dose * supportHaadfFraction(), 10);
    expect(img.every((v) => v === img[0])).toBe(true);
  });

  it('a sub-pixel particle deposits exactly its integrated scattering (dose per area x integral of 1 - exp(-mu t))', () => {
    const p = at(FIELD.center_m[0] + 3.3e-8, FIELD.center_m[1] - 5.1e-8, 20, [0.3, 0.3, 0.4]);
    const px = FIELD.fov_m / FIELD.imsize;
    const expected = ((50e-12 * 2e-6) / E / (px * px)) * integratedResponse(p.radius_m, haadfMu_per_m(p.composition, ELEMENTS));
    expect(sum(netSignal(p, FIELD, 2e-6))).toBeCloseTo(expected, 6);
  });

  it('a resolved particle keeps its integrated signal (within 2 %) and has the width of a sphere (R^2/5 per axis)', () => {
    const field: FieldGeometry = { center_m: [0, 0], fov_m: 400e-9, imsize: 200 }; // 2 nm pixels
    const p = at(0.7e-9, -0.3e-9, 20, [0, 1, 0]);
    const net = netSignal(p, field, 1e-6);
    const px = field.fov_m / field.imsize;
    const expected = ((50e-12 * 1e-6) / E / (px * px)) * integratedResponse(p.radius_m, haadfMu_per_m(p.composition, ELEMENTS));
    expect(Math.abs(sum(net) / expected - 1)).toBeLessThan(0.02);
    // Second moment along x, in m^2: R^2/5 for a thin (linear-response) sphere plus the probe.
    let s = 0;
    let sx2 = 0;
    net.forEach((v, k) => {
      const x = -field.fov_m / 2 + ((k % field.imsize) + 0.5) * px - p.x_m;
      s += v;
      sx2 += v * x * x;
    });
    const width2 = sx2 / s;
    expect(width2 / ((p.radius_m ** 2) / 5 + 1e-18)).toBeGreaterThan(0.9);
    expect(width2 / ((p.radius_m ** 2) / 5 + 1e-18)).toBeLessThan(1.15);
  });

  it('Z-contrast: gold is (79/27)^1.7 brighter than cobalt for thin particles', () => {
    const au = sum(netSignal(at(FIELD.center_m[0], FIELD.center_m[1], 0.5, [1, 0, 0]), FIELD, 2e-6));
    const co = sum(netSignal(at(FIELD.center_m[0], FIELD.center_m[1], 0.5, [0, 1, 0]), FIELD, 2e-6));
    expect(Math.abs(au / co / (79 / 27) ** 1.7 - 1)).toBeLessThan(0.02);
  });

  it('thick particles saturate: signal grows slower than volume', () => {
    const s = (r: number) => integratedResponse(r * 1e-9, haadfMu_per_m([1, 0, 0], ELEMENTS));
    expect(s(40) / s(20)).toBeLessThan(8);
    expect(Math.abs(s(0.2) / s(0.1) / 8 - 1)).toBeLessThan(0.005);
  });

  it('signal scales with dwell and current', () => {
    const p = at(FIELD.center_m[0], FIELD.center_m[1], 20, [0.2, 0.5, 0.3]);
    const a = sum(netSignal(p, FIELD, 2e-6));
    expect(sum(netSignal(p, FIELD, 6e-6)) / a).toBeCloseTo(3, 8);
    expect(sum(netSignal(p, FIELD, 2e-6, { ...TUNED, beam_current_pA: 100 })) / a).toBeCloseTo(2, 8);
  });

  it('detuned data are dimmer and blurred: lower total and a much lower peak pixel', () => {
    const field: FieldGeometry = { ...FIELD, imsize: 1024 };
    const p = at(FIELD.center_m[0] + 1e-9, FIELD.center_m[1] + 2e-9, 20, [0.3, 0.3, 0.4]);
    const tuned = netSignal(p, field, 2e-6, TUNED);
    const detuned = netSignal(p, field, 2e-6, DETUNED);
    expect(sum(detuned) / sum(tuned)).toBeCloseTo(0.6, 6);
    expect(max(detuned) / max(tuned)).toBeLessThan(0.1);
  });

  it('particles partly outside the field lose the part outside; particles far outside leave nothing', () => {
    const left = FIELD.center_m[0] - FIELD.fov_m / 2;
    const inside = sum(netSignal(at(left + 1e-6, FIELD.center_m[1], 20, [1, 0, 0]), FIELD, 2e-6));
    const onEdge = sum(netSignal(at(left, FIELD.center_m[1], 20, [1, 0, 0]), FIELD, 2e-6));
    const outside = sum(netSignal(at(left - 1e-6, FIELD.center_m[1], 20, [1, 0, 0]), FIELD, 2e-6));
    expect(onEdge / inside).toBeGreaterThan(0.4);
    expect(onEdge / inside).toBeLessThan(0.6);
    expect(outside).toBe(0);
  });

  it('footprints are never negative and sum to at most 1', () => {
    for (const [r, sigma] of [[5e-9, 1e-9], [40e-9, 1e-9], [200e-9, 150e-9], [500e-9, 1e-9]] as const) {
      const fp = particleFootprint(FIELD, FIELD.center_m[0] - 14.99e-6, FIELD.center_m[1], r, sigma, 0);
      expect(fp.weight.every((w) => w >= 0)).toBe(true);
      expect(sum(fp.weight)).toBeLessThanOrEqual(1 + 1e-9);
      expect(sum(fp.weight)).toBeGreaterThan(0.3);
    }
  });

  it('renders Poisson counts with the image attrs of src/protocol/data.ts', () => {
    const ps = makeParticles(new Rng(3), { count: 10 });
    const d = renderHaadf(ps, ELEMENTS, FIELD, 2e-6, TUNED, new Rng(1));
    expect(d.name).toBe('image/HAADF');
    expect(d.shape).toEqual([256, 256]);
    expect(d.values.every((v) => Number.isInteger(v) && v >= 0)).toBe(true);
    expect(d.attrs).toMatchObject({ detector: 'haadf', fov_m: 30e-6, imsize: 256, pixel_size_m: 30e-6 / 256, dwell_time_s: 2e-6, center_m: FIELD.center_m, beam_current_pA: 50 });
    expect(d.attrs.frame_time_s).toBeCloseTo(256 * 256 * 2e-6, 12);
    expect(renderHaadf(ps, ELEMENTS, FIELD, 2e-6, TUNED, new Rng(1), 3.2).attrs.frame_time_s).toBe(3.2);
    // Poisson: the total matches the expectation within a few standard deviations.
    const mean = sum(expectedHaadf(ps, ELEMENTS, FIELD, 2e-6, TUNED));
    expect(Math.abs(sum(d.values) - mean)).toBeLessThan(5 * Math.sqrt(mean));
  });

  it('is deterministic by seed', () => {
    const ps = makeParticles(new Rng(4), { count: 10 });
    const a = renderHaadf(ps, ELEMENTS, FIELD, 2e-6, TUNED, new Rng(7));
    const b = renderHaadf(ps, ELEMENTS, FIELD, 2e-6, TUNED, new Rng(7));
    const c = renderHaadf(ps, ELEMENTS, FIELD, 2e-6, TUNED, new Rng(8));
    expect(Buffer.from(a.values.buffer).equals(Buffer.from(b.values.buffer))).toBe(true);
    expect(Buffer.from(a.values.buffer).equals(Buffer.from(c.values.buffer))).toBe(false);
  });

  it('rejects bad inputs with errors that name the argument', () => {
    const ps = makeParticles(new Rng(5), { count: 2 });
    const rng = new Rng(1);
    expect(() => renderHaadf(ps, ELEMENTS, { ...FIELD, imsize: 10.5 }, 2e-6, TUNED, rng)).toThrow(/field\.imsize/);
    expect(() => renderHaadf(ps, ELEMENTS, { ...FIELD, fov_m: -1 }, 2e-6, TUNED, rng)).toThrow(/field\.fov_m/);
    expect(() => renderHaadf(ps, ELEMENTS, FIELD, 0, TUNED, rng)).toThrow(/dwell_s/);
    expect(() => renderHaadf(ps, ELEMENTS, FIELD, 2e-6, { ...TUNED, blur_m: NaN }, rng)).toThrow(/optics\.blur_m/);
    expect(() => renderHaadf(ps, ['Au', 'Co'], FIELD, 2e-6, TUNED, rng)).toThrow(/composition has 3 fractions/);
    expect(() => renderHaadf(ps, ['Au', 'Co', 'Xx'], FIELD, 2e-6, TUNED, rng)).toThrow(/unknown element "Xx"/);
    expect(() => renderHaadf(ps, ['Au', 'Au', 'Co'], FIELD, 2e-6, TUNED, rng)).toThrow(/elements: each element may appear once/);
    expect(() => renderHaadf([{ ...ps[0]!, radius_m: 0 }], ELEMENTS, FIELD, 2e-6, TUNED, rng)).toThrow(/radius_m must be > 0/);
  });
});
