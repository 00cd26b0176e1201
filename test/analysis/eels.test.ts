import { describe, expect, it } from 'vitest';
import { extractTarget } from '../../src/policy/analysis/index.js';
import { Rng } from '../../src/protocol/random.js';
import { renderEelsSpectrum } from '../../src/twin/signals/index.js';
import type { Particle } from '../../src/twin/types.js';
import { DETUNED, LINEAR_TRUTH, makeParticles, record, TUNED } from '../signals/fixtures.js';

function measure(p: Particle, exposure_s: number, seed: string, opts: { offset?: number; dispersion?: number; frames?: number } = {}) {
  const d = renderEelsSpectrum([p], [p.x_m, p.y_m], exposure_s, opts.frames ?? 1, opts.offset ?? 0, TUNED, LINEAR_TRUTH, new Rng(seed), opts.dispersion);
  return extractTarget(record([d]));
}

const particle = (seed: number, radius_nm = 20): Particle => makeParticles(new Rng(seed), { count: 1, radius_nm: { mean: radius_nm, sd: 1e-6, min: 1 } })[0]!;

describe('extractTarget', () => {
  it('finds the target within ~3 sigma of the truth (the paper setting: 1 s, 50 pA, 20 nm particle)', () => {
    const z: number[] = [];
    for (let s = 0; s < 40; s++) {
      const p = particle(s);
      const t = measure(p, 1, `eels-${s}`);
      expect(t).not.toBeNull();
      z.push((t!.value_eV - LINEAR_TRUTH.value_eV(p.composition)) / t!.sigma_eV);
      expect(t!.sigma_eV).toBeGreaterThan(0.01);
      expect(t!.sigma_eV).toBeLessThan(0.1);
    }
    expect(Math.max(...z.map(Math.abs))).toBeLessThan(3.5);
    const rms = Math.sqrt(z.reduce((a, v) => a + v * v, 0) / z.length);
    expect(rms).toBeGreaterThan(0.6);
    expect(rms).toBeLessThan(1.4);
  });

  it('sigma shrinks as 1 / sqrt(exposure x frames)', () => {
    const ratios: number[] = [];
    for (let s = 0; s < 8; s++) {
      const p = particle(100 + s);
      const a = measure(p, 1, `a-${s}`)!;
      const b = measure(p, 4, `b-${s}`)!;
      const c = measure(p, 1, `c-${s}`, { frames: 4 })!;
      ratios.push(b.sigma_eV / a.sigma_eV, c.sigma_eV / a.sigma_eV);
    }
    const mean = ratios.reduce((x, y) => x + y, 0) / ratios.length;
    expect(mean).toBeGreaterThan(0.42);
    expect(mean).toBeLessThan(0.58);
  });

  it('works at other dispersions and offsets', () => {
    for (const [dispersion, offset] of [[0.05, -2], [0.1, -5], [0.25, 0]] as const) {
      const p = particle(200);
      const t = measure(p, 2, `d-${dispersion}`, { dispersion, offset })!;
      expect(Math.abs(t.value_eV - LINEAR_TRUTH.value_eV(p.composition))).toBeLessThan(4 * t.sigma_eV);
    }
  });

  it('no particle under the beam, or too little signal: null', () => {
    const p = particle(300);
    expect(extractTarget(record([renderEelsSpectrum([p], [p.x_m + 300e-9, p.y_m], 1, 1, 0, TUNED, LINEAR_TRUTH, new Rng(1))]))).toBeNull();
    expect(extractTarget(record([renderEelsSpectrum([], [0, 0], 5, 5, 0, TUNED, LINEAR_TRUTH, new Rng(2))]))).toBeNull();
    const tiny = particle(301, 4);
    expect(measure(tiny, 0.05, 'tiny')).toBeNull();
    // Detuned: the probe spreads beyond a small particle, the feature weakens and the error grows.
    const q = particle(302, 10);
    const tuned = measure(q, 1, 'tuned')!;
    const detuned = extractTarget(record([renderEelsSpectrum([q], [q.x_m, q.y_m], 1, 1, 0, DETUNED, LINEAR_TRUTH, new Rng(3))]));
    expect(detuned === null || detuned.sigma_eV > 2 * tuned.sigma_eV).toBe(true);
  });

  it('is deterministic and rejects bad input', () => {
    const p = particle(400);
    const d = renderEelsSpectrum([p], [p.x_m, p.y_m], 1, 1, 0, TUNED, LINEAR_TRUTH, new Rng(4));
    expect(extractTarget(record([d]))).toEqual(extractTarget(record([d])));
    expect(() => extractTarget(record([{ ...d, name: 'image/HAADF' }]))).toThrow(/no dataset "spectrum"/);
    expect(() => extractTarget(record([{ ...d, attrs: { ...d.attrs, detector: 'eds' } }]))).toThrow(/detector "eels"/);
    expect(() => extractTarget(record([{ ...d, attrs: { ...d.attrs, offset_eV: null } }]))).toThrow(/offset_eV/);
    expect(() => extractTarget(record([d]), { minSignificance: 0 })).toThrow(/minSignificance/);
  });
});
