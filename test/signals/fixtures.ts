import { Rng } from '../../src/protocol/random.js';
import type { DataRecord, DatasetRecord } from '../../src/protocol/instrument.js';
import type { FieldGeometry, Optics } from '../../src/twin/signals/index.js';
import type { GroundTruth, Particle } from '../../src/twin/types.js';

/** The paper's defaults: 30 um field at 256 px, 50 pA, 1 nm probe, tuned. */
export const FIELD: FieldGeometry = { center_m: [12e-6, -7e-6], fov_m: 30e-6, imsize: 256 };
export const TUNED: Optics = { beam_current_pA: 50, probe_sigma_m: 1e-9, blur_m: 0, signal_factor: 1 };
export const DETUNED: Optics = { beam_current_pA: 50, probe_sigma_m: 1e-9, blur_m: 150e-9, signal_factor: 0.6 };
export const ELEMENTS = ['Au', 'Co', 'Ni'];

export interface ParticleOptions {
  count: number;
  radius_nm?: { mean: number; sd: number; min: number };
  /** Minimum centre-to-centre distance, m. */
  minSeparation_m?: number;
  /** Keep centres this far inside the field edge, m. */
  margin_m?: number;
  dims?: number;
  field?: FieldGeometry;
}

/** Uniformly placed, well-separated particles with uniform compositions on the simplex. */
export function makeParticles(rng: Rng, opts: ParticleOptions): Particle[] {
  const field = opts.field ?? FIELD;
  const r = opts.radius_nm ?? { mean: 20, sd: 10, min: 3 };
  const sep = opts.minSeparation_m ?? 1e-6;
  const margin = opts.margin_m ?? 0.5e-6;
  const dims = opts.dims ?? 3;
  const out: Particle[] = [];
  const half = field.fov_m / 2 - margin;
  for (let tries = 0; out.length < opts.count && tries < 100_000; tries++) {
    const x = field.center_m[0] + rng.uniformIn(-half, half);
    const y = field.center_m[1] + rng.uniformIn(-half, half);
    if (out.some((p) => Math.hypot(p.x_m - x, p.y_m - y) < sep)) continue;
    out.push({ id: out.length, x_m: x, y_m: y, radius_m: rng.truncatedNormal(r.mean, r.sd, r.min) * 1e-9, composition: rng.simplexUniform(dims) });
  }
  return out;
}

/** A smooth, known target: 15 eV plus a linear trend over the composition. */
export const LINEAR_TRUTH: GroundTruth = {
  value_eV: (c) => {
    let v = 12;
    for (let i = 0; i < c.length; i++) v += (2 + 3 * i) * c[i]!;
    return v;
  },
};

/** Datasets wrapped as the data server returns them. */
export function record(datasets: DatasetRecord[], key = 'test_key.h5'): DataRecord {
  return { key, uri: `memory://${key}`, format: 'application/x-hdf5', attrs: {}, datasets };
}

/** Greedy nearest matching of found positions to true particles within `tolerance_m`. */
export function matchFound<T extends { x_m: number; y_m: number }>(found: T[], truth: Particle[], tolerance_m: number): { pairs: [T, Particle][]; falsePositives: number; matched: Set<number> } {
  const matched = new Set<number>();
  const pairs: [T, Particle][] = [];
  let falsePositives = 0;
  for (const f of found) {
    let best = -1;
    let bd = Infinity;
    truth.forEach((p, i) => {
      const d = Math.hypot(p.x_m - f.x_m, p.y_m - f.y_m);
      if (d < bd && !matched.has(i)) {
        bd = d;
        best = i;
      }
    });
    if (best >= 0 && bd <= tolerance_m) {
      matched.add(best);
      pairs.push([f, truth[best]!]);
    } else falsePositives++;
  }
  return { pairs, falsePositives, matched };
}
