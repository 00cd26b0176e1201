import type { DatasetRecord } from '../../protocol/instrument.js';
import type { Rng } from '../../protocol/random.js';
import type { Particle } from '../types.js';

/**
 * The camera below the specimen with the beam parked: a convergent-beam pattern, size_px square
 * (the CAMERA imsize cut by its readout area), the direct disc a quarter of the side in radius
 * (CAMERA_DISC_RADIUS_FRACTION). The direct disc carries the electrons that passed unscattered, exp(-t / MEAN_FREE_PATH_m) of them, t the
 * chord of the particle under the probe; the rest scatter outside the disc. Counts are Poisson.
 * Enough to tell "on a particle" from "on the support", as a camera check on a real instrument does.
 */
export const CAMERA_DISC_RADIUS_FRACTION = 0.25;
/** Elastic+inelastic mean free path of the metal particles at 200 kV, order of magnitude. */
export const MEAN_FREE_PATH_m = 100e-9;

const ELECTRON_CHARGE_C = 1.602176634e-19;

/** Thickness of particle material under a point, m: the longest chord among the particles there. */
export function thicknessAt_m(particles: readonly Particle[], x_m: number, y_m: number): number {
  let t = 0;
  for (const p of particles) {
    const d2 = (p.x_m - x_m) ** 2 + (p.y_m - y_m) ** 2;
    const r2 = p.radius_m * p.radius_m;
    if (d2 < r2) t = Math.max(t, 2 * Math.sqrt(r2 - d2));
  }
  return t;
}

export function renderCameraImage(
  particles: readonly Particle[],
  beam_m: [number, number],
  exposure_s: number,
  beam_current_pA: number,
  signal_factor: number,
  rng: Rng,
  size_px: number,
): DatasetRecord {
  const n = size_px;
  const radius_px = CAMERA_DISC_RADIUS_FRACTION * n;
  const electrons = ((beam_current_pA * 1e-12 * exposure_s) / ELECTRON_CHARGE_C) * signal_factor;
  const thickness_m = thicknessAt_m(particles, beam_m[0], beam_m[1]);
  const transmitted = Math.exp(-thickness_m / MEAN_FREE_PATH_m);

  const c = (n - 1) / 2;
  const r2 = radius_px * radius_px;
  let discPixels = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if ((i - c) ** 2 + (j - c) ** 2 <= r2) discPixels++;
  const inDisc = (electrons * transmitted) / discPixels;
  const outside = (electrons * (1 - transmitted)) / (n * n - discPixels);

  const values = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const mean = (i - c) ** 2 + (j - c) ** 2 <= r2 ? inDisc : outside;
      values[i * n + j] = rng.poisson(mean);
    }
  }
  return {
    name: 'image/camera',
    shape: [n, n],
    dtype: 'uint32',
    attrs: {
      detector: 'camera',
      exposure_time_s: exposure_s,
      imsize: n,
      beam_position_m: beam_m,
      beam_current_pA,
      disc_radius_px: radius_px,
    },
    values,
  };
}
