import type { DatasetRecord } from '../../protocol/instrument.js';
import { elementData } from '../../protocol/elements.js';
import type { Rng } from '../../protocol/random.js';
import type { Particle } from '../types.js';
import { checkElements, checkField, checkOptics, checkParticles, checkPositive, electrons, probeSigma_m, type FieldGeometry, type Optics } from './checks.js';
import { addFootprint, integratedResponse, particleFootprint, poissonImage, type ImageSource } from './footprint.js';

/**
 * HAADF (Z-contrast) image. A column of thickness t scatters 1 - exp(-mu t) of the electrons
 * onto the annular detector, mu = HAADF_MU_AU_PER_NM (Z_eff / 79)^1.7 per nm, where
 * Z_eff^1.7 = sum_i c_i Z_i^1.7 (the high-angle cross-section grows as ~Z^1.7 and adds over the
 * atoms of a mixture). Each particle's integrated signal goes through the probe and the pixels
 * (footprint.ts); the support film adds a weak uniform background. Counts are Poisson in the
 * detected electrons: dose = current x dwell / e per pixel.
 */

/**
 * Fraction of incident electrons a 1 nm gold column scatters onto the detector (200-300 kV,
 * inner angle ~60 mrad): quantitative-HAADF cross-sections of Pt/Au columns are 0.02-0.05 A^2
 * per atom, i.e. 1-3 % per nm at 59 atoms/nm^3. The detector efficiency is taken as 1.
 */
export const HAADF_MU_AU_PER_NM = 0.02;
/** Exponent of the Z-contrast law. */
export const Z_CONTRAST_EXPONENT = 1.7;
/** The support film: ultrathin amorphous carbon, a common support for nanoparticles. */
export const SUPPORT_THICKNESS_NM = 3;
export const SUPPORT_Z = 6;

const Z_REF = 79;

/** HAADF attenuation coefficient (per m) of a composition over these elements. */
export function haadfMu_per_m(composition: ArrayLike<number>, elements: readonly string[]): number {
  let s = 0;
  for (let i = 0; i < elements.length; i++) s += composition[i]! * Math.pow(elementData(elements[i]!).Z / Z_REF, Z_CONTRAST_EXPONENT);
  return HAADF_MU_AU_PER_NM * 1e9 * s;
}

/** Fraction of electrons the support alone sends to the detector. */
export function supportHaadfFraction(): number {
  return -Math.expm1(-HAADF_MU_AU_PER_NM * Math.pow(SUPPORT_Z / Z_REF, Z_CONTRAST_EXPONENT) * SUPPORT_THICKNESS_NM);
}

/** The mean of a HAADF image: the support's uniform background and each particle's footprint. */
function haadfMean(particles: readonly Particle[], elements: readonly string[], field: FieldGeometry, dwell_s: number, optics: Optics): { background: number; sources: ImageSource[] } {
  const n = field.imsize;
  const px = field.fov_m / n;
  const perPixel = electrons(optics.beam_current_pA, dwell_s) * optics.signal_factor;
  const perArea = perPixel / (px * px);
  const psf = probeSigma_m(optics);
  const sources: ImageSource[] = [];
  for (const p of particles) {
    const mu = haadfMu_per_m(p.composition, elements);
    const fp = particleFootprint(field, p.x_m, p.y_m, p.radius_m, psf, mu);
    sources.push({ fp, amplitude: perArea * integratedResponse(p.radius_m, mu) });
  }
  return { background: perPixel * supportHaadfFraction(), sources };
}

/**
 * Expected (noise-free) HAADF counts per pixel: useful to renderers that share the frame (EDX)
 * and to tests. `dwell_s` per pixel.
 */
export function expectedHaadf(particles: readonly Particle[], elements: readonly string[], field: FieldGeometry, dwell_s: number, optics: Optics): Float64Array {
  const { background, sources } = haadfMean(particles, elements, field, dwell_s, optics);
  const image = new Float64Array(field.imsize * field.imsize).fill(background);
  for (const { fp, amplitude } of sources) addFootprint(image, fp, amplitude);
  return image;
}

/** Attributes of an image dataset (src/protocol/data.ts ImageAttrs). */
export function imageAttrs(detector: string, field: FieldGeometry, dwell_s: number, optics: Optics, frame_time_s: number): Record<string, unknown> {
  return {
    detector,
    fov_m: field.fov_m,
    imsize: field.imsize,
    pixel_size_m: field.fov_m / field.imsize,
    dwell_time_s: dwell_s,
    center_m: [field.center_m[0], field.center_m[1]],
    beam_current_pA: optics.beam_current_pA,
    frame_time_s,
  };
}

/**
 * 'image/HAADF', [imsize, imsize] Poisson counts. `frame_time_s` goes into the attrs; it
 * defaults to the bare scan time imsize^2 x dwell (the instrument passes the time with overhead).
 */
export function renderHaadf(
  particles: Particle[],
  elements: string[],
  field: FieldGeometry,
  dwell_s: number,
  optics: Optics,
  rng: Rng,
  frame_time_s: number = field.imsize * field.imsize * dwell_s,
): DatasetRecord {
  checkElements(elements);
  checkField(field);
  checkPositive('dwell_s', dwell_s);
  checkOptics(optics);
  checkParticles(particles, elements.length);
  const { background, sources } = haadfMean(particles, elements, field, dwell_s, optics);
  const values = poissonImage(field.imsize * field.imsize, background, sources, rng);
  return {
    name: 'image/HAADF',
    shape: [field.imsize, field.imsize],
    dtype: 'uint32',
    attrs: imageAttrs('haadf', field, dwell_s, optics, frame_time_s),
    values,
  };
}
