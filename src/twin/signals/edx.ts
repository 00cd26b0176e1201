import { EDS_CHANNELS, EDS_DISPERSION_eV } from '../../protocol/data.js';
import { elementData } from '../../protocol/elements.js';
import type { DatasetRecord } from '../../protocol/instrument.js';
import type { Rng } from '../../protocol/random.js';
import type { Particle } from '../types.js';
import { checkBeam, checkElements, checkField, checkOptics, checkParticles, checkPositive, electrons, probeSigma_m, type FieldGeometry, type Optics } from './checks.js';
import { particleFootprint, poissonImage, probeOverlap, type ImageSource } from './footprint.js';
import { imageAttrs, renderHaadf, SUPPORT_THICKNESS_NM, SUPPORT_Z } from './haadf.js';
import { gaussianMass, poissonInPlace } from './math.js';
import { backgroundWindow_eV, continuumShape, CONTINUUM_PER_Z2_EV, emissions, quantWindow_eV, WINDOW_WIDTH_eV, z2 } from './xray.js';

/**
 * EDX: element maps of a scanned frame and point spectra with the beam parked.
 *
 * Thin-film yield: the counts of an element's quant line in its window are
 *   yield x (electrons per unit area crossing the material) x thickness (nm) x fraction x kFactor,
 * integrated over the particle: yield x dose per area x volume x c x k. The continuum follows
 * xray.ts (Z^2-weighted, Kramers-shaped). Everything scales with signal_factor.
 */

/**
 * Frame yield (counts per electron per nm, fraction 1, kFactor 1), calibrated to the paper's
 * premise that a 10 s frame of a 30 um field quantifies its particles: a 20 nm-radius particle at
 * 50 pA then gives ~2900 x sum(c k) net counts (~2000-3000 over its elements). This is ~10^3 times
 * a real Super-X yield at that magnification; it scales physically with dose per area (zooming
 * in concentrates the dose on the particles) and linearly with frame time and current.
 */
export const EDX_FRAME_YIELD_PER_NM = 0.025;
/**
 * Point-spectrum yield, physical: ~1e-4 K/L ionisations per electron per nm, fluorescence yield
 * ~0.3-0.5, ~0.7 sr of 4 pi collected. A 20 nm particle at 50 pA gives ~2.5e5 counts per second
 * per unit fraction with the beam at its centre.
 */
export const EDX_POINT_YIELD_PER_NM = 2e-5;

const SUPPORT_Z2 = SUPPORT_Z * SUPPORT_Z;

interface WindowModel {
  lo_eV: number;
  hi_eV: number;
  /** Counts in the window per unit (electron x nm) of a composition: line part, per element of the specimen. */
  linePerElement: Float64Array;
  /** Continuum counts in the window per unit (electron x nm x Z^2). */
  continuumPerZ2: number;
}

function windowModel(lo_eV: number, hi_eV: number, elements: readonly string[]): WindowModel {
  const linePerElement = new Float64Array(elements.length);
  elements.forEach((s, i) => {
    for (const e of emissions(s)) linePerElement[i]! += e.total * gaussianMass(lo_eV, hi_eV, e.energy_eV, e.sigma_eV);
  });
  return { lo_eV, hi_eV, linePerElement, continuumPerZ2: CONTINUUM_PER_Z2_EV * WINDOW_WIDTH_eV * continuumShape((lo_eV + hi_eV) / 2) };
}

/** Counts per (electron x nm) in a window from a particle of this composition. */
function windowYield(w: WindowModel, composition: ArrayLike<number>, elements: readonly string[]): number {
  let s = 0;
  for (let i = 0; i < elements.length; i++) s += composition[i]! * w.linePerElement[i]!;
  return s + w.continuumPerZ2 * z2(composition, elements);
}

/**
 * An EDX frame: 'image/HAADF' (dwell frame_s / imsize^2), then per element 'image/EDS_<El>' (gross
 * counts in its quant window) and 'image/EDS_background' (a line-free window of the same width).
 * Each element map carries `background_scale`: the continuum expected in its window over that in
 * the background window (Kramers shape x detector efficiency), the factor a continuum-model
 * subtraction applies; net = gross - background_scale x background.
 * `frame_time_s` (attrs) defaults to frame_s; the instrument overrides it with the time it charged.
 */
export function renderEdxFrame(
  particles: Particle[],
  elements: string[],
  field: FieldGeometry,
  frame_s: number,
  optics: Optics,
  rng: Rng,
  frame_time_s: number = frame_s,
): DatasetRecord[] {
  checkElements(elements);
  checkField(field);
  checkPositive('frame_s', frame_s);
  checkOptics(optics);
  checkParticles(particles, elements.length);
  const n = field.imsize;
  const dwell_s = frame_s / (n * n);
  const haadf = renderHaadf(particles, elements, field, dwell_s, optics, rng, frame_time_s);

  const px_m = field.fov_m / n;
  const electronsPerPixel = electrons(optics.beam_current_pA, dwell_s) * optics.signal_factor;
  const frameFactor = EDX_FRAME_YIELD_PER_NM * electronsPerPixel;
  const bgWindow = backgroundWindow_eV(elements);
  const windows = [...elements.map((s) => quantWindow_eV(s)), bgWindow].map(([lo, hi]) => windowModel(lo, hi, elements));
  // Each window's map: the support's continuum everywhere plus each particle's footprint.
  const sources: ImageSource[][] = windows.map(() => []);
  const psf = probeSigma_m(optics);
  for (const p of particles) {
    const fp = particleFootprint(field, p.x_m, p.y_m, p.radius_m, psf, 0);
    if (fp.index.length === 0) continue;
    // Volume over pixel area: the particle's thickness averaged over one pixel (nm), times dose.
    const volumeNm = ((4 / 3) * Math.PI * p.radius_m ** 3) / (px_m * px_m) * 1e9;
    for (let k = 0; k < windows.length; k++) sources[k]!.push({ fp, amplitude: frameFactor * volumeNm * windowYield(windows[k]!, p.composition, elements) });
  }
  const counts = (k: number) => poissonImage(n * n, frameFactor * SUPPORT_THICKNESS_NM * SUPPORT_Z2 * windows[k]!.continuumPerZ2, sources[k]!, rng);

  const base = imageAttrs('eds', field, dwell_s, optics, frame_time_s);
  const bgCentre = (bgWindow[0] + bgWindow[1]) / 2;
  const datasets: DatasetRecord[] = [haadf];
  elements.forEach((s, i) => {
    const el = elementData(s);
    const w = windows[i]!;
    datasets.push({
      name: `image/EDS_${s}`,
      shape: [n, n],
      dtype: 'uint32',
      attrs: {
        ...base,
        element: s,
        line: el.quantLine.name,
        line_energy_keV: el.quantLine.energy_keV,
        window_eV: [w.lo_eV, w.hi_eV],
        k_factor: el.kFactor,
        background_scale: continuumShape((w.lo_eV + w.hi_eV) / 2) / continuumShape(bgCentre),
      },
      values: counts(i),
    });
  });
  datasets.push({
    name: 'image/EDS_background',
    shape: [n, n],
    dtype: 'uint32',
    attrs: { ...base, window_eV: [bgWindow[0], bgWindow[1]] },
    values: counts(elements.length),
  });
  return datasets;
}

/**
 * An EDX point spectrum: 4096 channels of 5 eV, channel i centred at i x 5 eV. Each particle the
 * probe overlaps adds its lines in proportion to the probe-weighted thickness (footprint.ts
 * probeOverlap); lines are Gaussians of the detector's resolution, integrated over each channel;
 * the continuum comes from the support and the particles. Poisson counts, proportional to live_s.
 */
export function renderEdxPointSpectrum(particles: Particle[], elements: string[], beam_m: [number, number], live_s: number, optics: Optics, rng: Rng): DatasetRecord {
  checkElements(elements);
  checkBeam(beam_m);
  checkPositive('live_s', live_s);
  checkOptics(optics);
  checkParticles(particles, elements.length);
  const perNm = EDX_POINT_YIELD_PER_NM * electrons(optics.beam_current_pA, live_s) * optics.signal_factor;
  const sigma = probeSigma_m(optics);
  const amounts = new Float64Array(elements.length);
  let z2Nm = SUPPORT_THICKNESS_NM * SUPPORT_Z2;
  for (const p of particles) {
    const t_nm = probeOverlap(p.x_m, p.y_m, p.radius_m, beam_m, sigma, 0) * 1e9;
    if (t_nm <= 0) continue;
    for (let i = 0; i < elements.length; i++) amounts[i]! += t_nm * p.composition[i]!;
    z2Nm += t_nm * z2(p.composition, elements);
  }

  const d = EDS_DISPERSION_eV;
  const spectrum = new Float64Array(EDS_CHANNELS);
  for (let c = 0; c < EDS_CHANNELS; c++) spectrum[c] = perNm * z2Nm * CONTINUUM_PER_Z2_EV * d * continuumShape(c * d);
  elements.forEach((s, i) => {
    if (amounts[i]! <= 0) return;
    for (const line of emissions(s)) {
      const total = perNm * amounts[i]! * line.total;
      const c0 = Math.max(0, Math.floor((line.energy_eV - 6 * line.sigma_eV) / d));
      const c1 = Math.min(EDS_CHANNELS - 1, Math.ceil((line.energy_eV + 6 * line.sigma_eV) / d));
      for (let c = c0; c <= c1; c++) spectrum[c]! += total * gaussianMass((c - 0.5) * d, (c + 0.5) * d, line.energy_eV, line.sigma_eV);
    }
  });
  return {
    name: 'spectrum',
    shape: [EDS_CHANNELS],
    dtype: 'uint32',
    attrs: {
      detector: 'eds',
      dispersion_eV: d,
      offset_eV: 0,
      exposure_time_s: live_s,
      number_of_frames: 1,
      beam_position_m: [beam_m[0], beam_m[1]],
      beam_current_pA: optics.beam_current_pA,
    },
    values: poissonInPlace(spectrum, rng),
  };
}

