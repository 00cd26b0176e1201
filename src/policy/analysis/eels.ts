import type { DataRecord } from '../../protocol/instrument.js';
import { spectrumDataset } from './data.js';
import { invert, solve, weightedLeastSquares } from './linear.js';

/**
 * The target value from a low-loss EELS spectrum: the position of a peak beyond the zero-loss
 * region. Channel i is centred at offset + i x dispersion.
 *
 * 1. Locate: fit a smooth background exp(a + b u + c u^2), u = ln E (a power law with curvature,
 *    the usual low-loss background model) to all channels above `minEnergy_eV` (in 0.5 eV bins), twice, the
 *    second time without the channels the first fit leaves more than 3 sigma above; then a
 *    matched filter (a Gaussian of the expected width) over the residual gives the most
 *    significant peak. Below `minSignificance` there is no feature: null.
 * 2. Fit: in a window of +-`fitHalfWidth_eV` around it, background + Gaussian peak (6 parameters),
 *    maximum likelihood for Poisson counts: Levenberg-Marquardt on the deviance with Fisher-scoring
 *    steps (weights 1 / model, re-evaluated every step).
 * 3. Uncertainty: the position's standard error from the inverse Fisher information, inflated by
 *    sqrt(deviance per degree of freedom) when the model fits worse than counting noise allows. The peak is kept
 *    when its area is at least `minSignificance` standard errors and its width is plausible.
 */

export interface TargetValue {
  value_eV: number;
  sigma_eV: number;
  /** Integrated counts of the fitted peak. */
  counts: number;
}

export interface ExtractTargetOptions {
  /** Channels below this energy are the zero-loss region, never searched (default 4 eV). */
  minEnergy_eV?: number;
  /** Expected FWHM of the feature, for the matched filter and the fit's start (default 3 eV). */
  featureFwhm_eV?: number;
  /** Half-width of the fit window (default 6 eV). */
  fitHalfWidth_eV?: number;
  /** Detection threshold in standard deviations (default 5). */
  minSignificance?: number;
}

const GAUSS_NORM = 1 / Math.sqrt(2 * Math.PI);

function positiveOption(name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!(Number.isFinite(v) && v > 0)) throw new RangeError(`extractTarget: ${name} must be a finite number > 0, got ${v}`);
  return v;
}

export function extractTarget(eels: DataRecord, opts: ExtractTargetOptions = {}): TargetValue | null {
  const { d, offset_eV: off, dispersion_eV: disp } = spectrumDataset(eels, 'eels');
  const minE = positiveOption('minEnergy_eV', opts.minEnergy_eV, 4);
  const fwhm = positiveOption('featureFwhm_eV', opts.featureFwhm_eV, 3);
  const halfWidth = positiveOption('fitHalfWidth_eV', opts.fitHalfWidth_eV, 6);
  const minSig = positiveOption('minSignificance', opts.minSignificance, 5);
  const y = d.values;
  const n = y.length;
  const energy = (i: number) => off + i * disp;
  const first = Math.max(0, Math.ceil((minE - off) / disp));
  const sigma0 = fwhm / 2.3548;
  const kr = Math.max(1, Math.ceil((3 * sigma0) / disp));
  if (n - first < 2 * kr + 8) return null;

  // 1. Background over the whole usable range, on bins of ~0.5 eV so that logs of counts are not
  //    biased by empty channels; then the matched filter.
  const binW = Math.max(1, Math.round(0.5 / disp));
  const nb = Math.floor((n - first) / binW);
  if (nb < 8) return null;
  const binY = new Float64Array(nb);
  const binLogY = new Float64Array(nb);
  const binU = new Float64Array(nb);
  const bins: number[] = [];
  for (let k = 0; k < nb; k++) {
    let sum = 0;
    for (let i = first + k * binW; i < first + (k + 1) * binW; i++) sum += y[i]!;
    binY[k] = sum;
    binU[k] = Math.log(energy(first + k * binW + (binW - 1) / 2));
    if (sum > 0) {
      binLogY[k] = Math.log(sum / binW);
      bins.push(k);
    }
  }
  const basis = (k: number, out: Float64Array) => {
    out[0] = 1;
    out[1] = binU[k]!;
    out[2] = binU[k]! * binU[k]!;
  };
  if (bins.length < 8) return null;
  let coef = weightedLeastSquares(bins, binLogY, binY, 3, basis);
  if (!coef) return null;
  const bgAt = (c: Float64Array, i: number) => {
    const u = Math.log(energy(i));
    return Math.exp(c[0]! + c[1]! * u + c[2]! * u * u);
  };
  const binBg = (c: Float64Array, k: number) => binW * Math.exp(c[0]! + c[1]! * binU[k]! + c[2]! * binU[k]! ** 2);
  const quiet = bins.filter((k) => (binY[k]! - binBg(coef!, k)) / Math.sqrt(Math.max(binBg(coef!, k), 1)) < 3);
  coef = weightedLeastSquares(quiet.length >= 8 ? quiet : bins, binLogY, binY, 3, basis) ?? coef;
  const kernel = new Float64Array(2 * kr + 1);
  for (let k = -kr; k <= kr; k++) kernel[k + kr] = Math.exp(-0.5 * ((k * disp) / sigma0) ** 2);
  const bg = new Float64Array(n);
  for (let i = first; i < n; i++) bg[i] = bgAt(coef, i);
  let best = -Infinity;
  let bestAt = -1;
  for (let c = first + kr; c < n - kr; c++) {
    let s = 0;
    let v = 0;
    for (let k = -kr; k <= kr; k++) {
      const b = bg[c + k]!;
      const w = kernel[k + kr]!;
      s += (y[c + k]! - b) * w;
      v += (b > 1e-3 ? b : 1e-3) * w * w;
    }
    const z = s / Math.sqrt(v);
    if (z > best) {
      best = z;
      bestAt = c;
    }
  }
  if (!(best >= minSig)) return null;

  // 2. Local fit.
  const mu0 = energy(bestAt);
  const lo = Math.max(first, Math.ceil((mu0 - halfWidth - off) / disp));
  const hi = Math.min(n - 1, Math.floor((mu0 + halfWidth - off) / disp));
  const idx: number[] = [];
  for (let i = lo; i <= hi; i++) idx.push(i);
  if (idx.length < 12) return null;
  const fit = fitPeak(idx, y, energy, disp, mu0, sigma0, coef);
  if (!fit) return null;
  const [, , , A, mu, s] = fit.params;
  const eLo = energy(lo);
  const eHi = energy(hi);
  const plausible = mu! > eLo + s! && mu! < eHi - s! && s! > 0.1 * sigma0 && s! < 4 * sigma0;
  if (!plausible || !(A! >= minSig * fit.sd[3]!) || !(fit.sd[4]! > 0)) return null;
  return { value_eV: mu!, sigma_eV: fit.sd[4]!, counts: A! };
}

interface PeakFit {
  /** a, b, c (background in u = ln(E / mu0)), A (counts), mu (eV), s (eV). */
  params: Float64Array;
  sd: Float64Array;
}

function fitPeak(idx: number[], y: Float64Array, energy: (i: number) => number, disp: number, mu0: number, sigma0: number, globalBg: Float64Array): PeakFit | undefined {
  const P = 6;
  const ln0 = Math.log(mu0);
  // Start: the global background re-expressed in u = ln(E / mu0), refitted without the peak.
  const far = idx.filter((i) => Math.abs(energy(i) - mu0) > 2.5 * sigma0 && y[i]! > 0);
  const logY = new Float64Array(y.length);
  for (const i of idx) logY[i] = y[i]! > 0 ? Math.log(y[i]!) : 0;
  const local =
    far.length >= 6
      ? weightedLeastSquares(far, logY, y, 3, (i, out) => {
          const u = Math.log(energy(i)) - ln0;
          out[0] = 1;
          out[1] = u;
          out[2] = u * u;
        })
      : undefined;
  const p = new Float64Array(P);
  if (local) p.set(local, 0);
  else {
    const [a, b, c] = globalBg;
    p[0] = a! + b! * ln0 + c! * ln0 * ln0;
    p[1] = b! + 2 * c! * ln0;
    p[2] = c!;
  }
  let area = 0;
  for (const i of idx) {
    const e = energy(i);
    if (Math.abs(e - mu0) < 2 * sigma0) {
      const u = Math.log(e) - ln0;
      area += y[i]! - Math.exp(p[0]! + p[1]! * u + p[2]! * u * u);
    }
  }
  p[3] = Math.max(area / 0.954, 1);
  p[4] = mu0;
  p[5] = sigma0;

  const m = idx.length;
  const J = new Float64Array(m * P);
  const model = new Float64Array(m);
  const evaluate = (q: Float64Array, withJacobian: boolean): number => {
    let chi2 = 0;
    const [a, b, c, A, mu, s] = q as unknown as number[];
    for (let r = 0; r < m; r++) {
      const e = energy(idx[r]!);
      const u = Math.log(e) - ln0;
      const bg = Math.exp(a! + b! * u + c! * u * u);
      const z = (e - mu!) / s!;
      const g = (Math.exp(-0.5 * z * z) * GAUSS_NORM * disp) / s!;
      const v = bg + A! * g;
      model[r] = v;
      // Poisson deviance: its minimum is the maximum-likelihood fit the scoring steps below aim at.
      const obs = y[idx[r]!]!;
      const vm = Math.max(v, 1e-9);
      chi2 += 2 * (vm - obs + (obs > 0 ? obs * Math.log(obs / vm) : 0));
      if (withJacobian) {
        J[r * P] = bg;
        J[r * P + 1] = bg * u;
        J[r * P + 2] = bg * u * u;
        J[r * P + 3] = g;
        J[r * P + 4] = (A! * g * z) / s!;
        J[r * P + 5] = (A! * g * (z * z - 1)) / s!;
      }
    }
    return chi2;
  };
  const normal = (): { H: Float64Array; grad: Float64Array } => {
    const H = new Float64Array(P * P);
    const grad = new Float64Array(P);
    for (let r = 0; r < m; r++) {
      const w = 1 / Math.max(model[r]!, 1);
      const res = y[idx[r]!]! - model[r]!;
      for (let a = 0; a < P; a++) {
        const ja = J[r * P + a]!;
        grad[a]! += w * ja * res;
        for (let b = a; b < P; b++) H[a * P + b]! += w * ja * J[r * P + b]!;
      }
    }
    for (let a = 0; a < P; a++) for (let b = 0; b < a; b++) H[a * P + b] = H[b * P + a]!;
    return { H, grad };
  };

  let chi2 = evaluate(p, true);
  let lambda = 1e-3;
  const trial = new Float64Array(P);
  for (let iter = 0; iter < 200; iter++) {
    const { H, grad } = normal();
    const damped = Float64Array.from(H);
    for (let a = 0; a < P; a++) damped[a * P + a]! *= 1 + lambda;
    const step = solve(damped, grad, P);
    if (!step) return undefined;
    for (let a = 0; a < P; a++) trial[a] = p[a]! + step[a]!;
    trial[5] = Math.abs(trial[5]!);
    const c2 = trial[5]! > 0 ? evaluate(trial, false) : Infinity;
    if (c2 < chi2) {
      const gain = chi2 - c2;
      p.set(trial);
      chi2 = evaluate(p, true);
      lambda = Math.max(lambda / 10, 1e-9);
      if (gain < 1e-8 * chi2 + 1e-10) break;
    } else {
      evaluate(p, true);
      lambda *= 10;
      if (lambda > 1e10) break;
    }
  }
  evaluate(p, true);
  const cov = invert(normal().H, P);
  if (!cov) return undefined;
  const inflate = Math.sqrt(Math.max(1, chi2 / Math.max(1, m - P)));
  const sd = new Float64Array(P);
  for (let a = 0; a < P; a++) sd[a] = Math.sqrt(Math.max(0, cov[a * P + a]!)) * inflate;
  return { params: p, sd };
}
