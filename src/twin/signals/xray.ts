import { EDX_WINDOW_HALF_eV, elementData, type XrayLine } from '../../protocol/elements.js';
import { gaussianMass } from './math.js';

/**
 * The X-ray detector and the continuum, shared by the EDX frame and the point spectrum.
 *
 * Resolution: silicon drift detector, FWHM(E)^2 = noise^2 + 2.3548^2 F eps E (Fano statistics:
 * F = 0.115, eps = 3.8 eV per electron-hole pair in Si), noise chosen so that FWHM is 130 eV at
 * Mn Ka (5.899 keV), the figure detectors are specified by.
 *
 * Continuum (bremsstrahlung): per atom ~Z^2 (thin film), with Kramers' energy shape (E0/E - 1),
 * E0 the beam energy, times the detector efficiency, which the entrance window cuts below ~1 keV.
 */
export const BEAM_ENERGY_eV = 200_000;
const FANO = 0.115;
const PAIR_ENERGY_eV = 3.8;
const FWHM_AT_MN_KA_eV = 130;
const MN_KA_eV = 5899;
const NOISE2 = FWHM_AT_MN_KA_eV ** 2 - 2.3548 ** 2 * FANO * PAIR_ENERGY_eV * MN_KA_eV;
/** Energy below which the detector window absorbs most X-rays. */
const WINDOW_CUTOFF_eV = 1000;

export function detectorFwhm_eV(energy_eV: number): number {
  return Math.sqrt(NOISE2 + 2.3548 ** 2 * FANO * PAIR_ENERGY_eV * Math.max(0, energy_eV));
}

export function detectorSigma_eV(energy_eV: number): number {
  return detectorFwhm_eV(energy_eV) / 2.3548;
}

/** Continuum shape per eV (relative): Kramers times the detector efficiency. */
export function continuumShape(energy_eV: number): number {
  if (!(energy_eV > 0) || energy_eV >= BEAM_ENERGY_eV) return 0;
  return (BEAM_ENERGY_eV / energy_eV - 1) * -Math.expm1(-((energy_eV / WINDOW_CUTOFF_eV) ** 3));
}

/** Width of every map window. */
export const WINDOW_WIDTH_eV = 2 * EDX_WINDOW_HALF_eV;

/**
 * Peak-to-background of a pure cobalt particle in its Ka window: ~30 is typical of thin
 * specimens in a 200 eV window. It fixes the continuum relative to the lines.
 */
export const PEAK_TO_BACKGROUND_CO = 30;
/** Continuum counts per eV per unit Z^2, relative to the quant-line counts (kFactor 1, fraction 1) of the same thickness. */
export const CONTINUUM_PER_Z2_EV = 1 / (PEAK_TO_BACKGROUND_CO * 27 * 27 * WINDOW_WIDTH_eV * continuumShape(6930));

/** sum_i c_i Z_i^2: the continuum's weight of a composition. */
export function z2(composition: ArrayLike<number>, elements: readonly string[]): number {
  let s = 0;
  for (let i = 0; i < elements.length; i++) s += composition[i]! * elementData(elements[i]!).Z ** 2;
  return s;
}

export function quantWindow_eV(symbol: string): [number, number] {
  const e = elementData(symbol).quantLine.energy_keV * 1000;
  return [e - EDX_WINDOW_HALF_eV, e + EDX_WINDOW_HALF_eV];
}

/** Share of a line's counts the detector puts inside [lo, hi]. */
export function lineCapture(line: XrayLine, lo_eV: number, hi_eV: number): number {
  const e = line.energy_keV * 1000;
  return gaussianMass(lo_eV, hi_eV, e, detectorSigma_eV(e));
}

/**
 * Every line an element emits, with its total emission per unit fraction: the kFactor is the
 * count of the quant line inside its own window (Cliff-Lorimer factors are calibrated on the same
 * windows), so the quant line emits kFactor / capture in all, and each other line `relative`
 * times that.
 */
export function emissions(symbol: string): { energy_eV: number; sigma_eV: number; total: number }[] {
  const el = elementData(symbol);
  const [lo, hi] = quantWindow_eV(symbol);
  const quantTotal = el.kFactor / lineCapture(el.quantLine, lo, hi);
  return [el.quantLine, ...el.otherLines].map((l) => ({ energy_eV: l.energy_keV * 1000, sigma_eV: detectorSigma_eV(l.energy_keV * 1000), total: quantTotal * l.relative }));
}

/**
 * The line-free background window: the 200 eV window in 3-12 keV whose centre is farthest from
 * every line of the elements (ties to the lowest energy), so no line leaks into it.
 */
export function backgroundWindow_eV(elements: readonly string[]): [number, number] {
  const lines = elements.flatMap((s) => {
    const el = elementData(s);
    return [el.quantLine, ...el.otherLines].map((l) => l.energy_keV * 1000);
  });
  let best = 3000;
  let bestDistance = -1;
  for (let c = 3000; c <= 12000; c += 10) {
    let d = Infinity;
    for (const e of lines) d = Math.min(d, Math.abs(e - c));
    if (d > bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  return [best - EDX_WINDOW_HALF_eV, best + EDX_WINDOW_HALF_eV];
}
