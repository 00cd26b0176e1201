import { EELS_CHANNELS } from '../../protocol/data.js';
import type { DatasetRecord } from '../../protocol/instrument.js';
import type { Rng } from '../../protocol/random.js';
import type { GroundTruth, Particle } from '../types.js';
import { checkBeam, checkOptics, checkParticles, checkPositive, electrons, probeSigma_m, type Optics } from './checks.js';
import { probeOverlap } from './footprint.js';
import { SUPPORT_THICKNESS_NM } from './haadf.js';
import { gaussianMass, poissonInPlace } from './math.js';

/**
 * Low-loss EELS with the beam parked. Channel i is centred at offset + i x dispersion (eV).
 *
 *   zero-loss peak   N exp(-t / MFP) x Gaussian(0, ZLP_FWHM)
 *   background       N (t / MFP) BACKGROUND_PER_eV / (1 + (E / E_c)^r)  (E > 0: the tails of the
 *                    zero loss and of the bulk losses; a power law E^-r beyond E_c)
 *   target feature   N FEATURE_PER_NM sum_p w_p x Gaussian(value_eV(c_p), FEATURE_FWHM)
 *
 * with N the detected counts (counts per electron x electrons x signal_factor), t the
 * probe-weighted thickness (support plus particles) and w_p the probe-weighted thickness of
 * particle p (nm): the feature grows with the particle's volume under the probe, and with no
 * particle there, there is no feature. Counts are Poisson, so the peak position's precision
 * improves as 1 / sqrt(exposure x frames x current).
 */

/** Spectrometer dispersion used when the caller does not pass one: 2048 x 0.025 eV = 0-51 eV. */
export const EELS_DEFAULT_DISPERSION_eV = 0.025;
/** Zero-loss width (Schottky source, no monochromator). */
export const ZLP_FWHM_eV = 0.8;
/** Width of the plasmon-like target feature. */
export const FEATURE_FWHM_eV = 3;
/** Inelastic mean free path of the metal and support at 200 kV, order of magnitude. */
export const MEAN_FREE_PATH_NM = 100;
/**
 * Detected counts per incident electron. Physical cameras count most electrons; we scale them
 * down so that the paper's measurement (1 s at 50 pA, beam at the centre of a 20 nm-radius
 * particle) has ~3000 counts in the feature and a peak-position uncertainty of a few hundredths
 * of an eV, the level to which low-loss peak positions are reported. With physical counts the
 * error would be set by energy drift and calibration, which the twin does not model.
 */
export const EELS_COUNTS_PER_ELECTRON = 3.2e-3;
/** Feature counts per count and per nm of particle under the probe (a weak loss feature). */
export const FEATURE_PER_NM = 8e-5;
/** Background level per eV (relative to N t / MFP) and its shape: knee E_c, power-law exponent r. */
export const BACKGROUND_PER_eV = 0.25;
export const BACKGROUND_KNEE_eV = 2;
export const BACKGROUND_EXPONENT = 2.5;

const ZLP_SIGMA = ZLP_FWHM_eV / 2.3548;
const FEATURE_SIGMA = FEATURE_FWHM_eV / 2.3548;
/**
 * Channels whose nearer edge is farther than this from 0 eV get no zero-loss counts:
 * 30 sqrt(2) sigma out, erfc(30) = exp(-900 ...) underflows to 0, so their Gaussian mass is 0.
 */
const ZLP_REACH_eV = 30 * Math.SQRT2 * ZLP_SIGMA;

let lastShape: { offset_eV: number; dispersion_eV: number; onset: Float64Array; falloff: Float64Array } | undefined;

/**
 * The background's two energy factors per channel, 1 - exp(-(E / 0.5)^2) (its onset) and
 * 1 + (E / E_c)^r (its fall), computed once per energy axis: a campaign's spectra share theirs.
 */
function backgroundShape(offset_eV: number, dispersion_eV: number): { onset: Float64Array; falloff: Float64Array } {
  if (lastShape && lastShape.offset_eV === offset_eV && lastShape.dispersion_eV === dispersion_eV) return lastShape;
  const onset = new Float64Array(EELS_CHANNELS);
  const falloff = new Float64Array(EELS_CHANNELS);
  for (let c = 0; c < EELS_CHANNELS; c++) {
    const e = offset_eV + c * dispersion_eV;
    onset[c] = -Math.expm1(-((e / 0.5) ** 2));
    falloff[c] = 1 + (e / BACKGROUND_KNEE_eV) ** BACKGROUND_EXPONENT;
  }
  lastShape = { offset_eV, dispersion_eV, onset, falloff };
  return lastShape;
}

export function renderEelsSpectrum(
  particles: Particle[],
  beam_m: [number, number],
  exposure_s: number,
  frames: number,
  offset_eV: number,
  optics: Optics,
  truth: GroundTruth,
  rng: Rng,
  dispersion_eV: number = EELS_DEFAULT_DISPERSION_eV,
): DatasetRecord {
  checkBeam(beam_m);
  checkPositive('exposure_s', exposure_s);
  if (!Number.isInteger(frames) || frames < 1) throw new RangeError(`frames: must be an integer >= 1, got ${frames}`);
  if (!Number.isFinite(offset_eV)) throw new RangeError(`offset_eV: must be a finite number, got ${offset_eV}`);
  checkPositive('dispersion_eV', dispersion_eV);
  checkOptics(optics);
  checkParticles(particles, undefined);
  if (!truth || typeof truth.value_eV !== 'function') throw new TypeError('truth: expected a GroundTruth with value_eV(composition)');

  const N = EELS_COUNTS_PER_ELECTRON * electrons(optics.beam_current_pA, exposure_s * frames) * optics.signal_factor;
  const sigma = probeSigma_m(optics);
  let t_nm = SUPPORT_THICKNESS_NM;
  const features: { value_eV: number; amount: number }[] = [];
  for (const p of particles) {
    const w_nm = probeOverlap(p.x_m, p.y_m, p.radius_m, beam_m, sigma, 0) * 1e9;
    if (w_nm <= 0) continue;
    t_nm += w_nm;
    features.push({ value_eV: truth.value_eV(p.composition), amount: N * FEATURE_PER_NM * w_nm });
  }
  const zlp = N * Math.exp(-t_nm / MEAN_FREE_PATH_NM);
  const background = N * (t_nm / MEAN_FREE_PATH_NM) * BACKGROUND_PER_eV;

  const d = dispersion_eV;
  const { onset, falloff } = backgroundShape(offset_eV, d);
  const spectrum = new Float64Array(EELS_CHANNELS);
  for (let c = 0; c < EELS_CHANNELS; c++) {
    const e = offset_eV + c * d;
    const lo = e - d / 2;
    const hi = e + d / 2;
    // Beyond ZLP_REACH_eV the zero loss's mass is exactly 0 (erfc underflows): skipping it adds the same +0.
    let v = Math.abs(e) - d / 2 < ZLP_REACH_eV ? zlp * gaussianMass(lo, hi, 0, ZLP_SIGMA) : 0;
    if (e > 0) v += (background * d * onset[c]!) / falloff[c]!;
    for (const f of features) if (Math.abs(e - f.value_eV) < 8 * FEATURE_SIGMA + d) v += f.amount * gaussianMass(lo, hi, f.value_eV, FEATURE_SIGMA);
    spectrum[c] = v;
  }
  return {
    name: 'spectrum',
    shape: [EELS_CHANNELS],
    dtype: 'uint32',
    attrs: {
      detector: 'eels',
      dispersion_eV: d,
      offset_eV,
      exposure_time_s: exposure_s,
      number_of_frames: frames,
      beam_position_m: [beam_m[0], beam_m[1]],
      beam_current_pA: optics.beam_current_pA,
    },
    values: poissonInPlace(spectrum, rng),
  };
}
