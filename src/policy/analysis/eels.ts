import type { DataRecord } from '../../protocol/instrument.js';
import { spectrumDataset } from './data.js';
import { fft, fftSize } from './fft.js';
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
  const binBg = (c: Float64Array, k: number) => binW * Math.exp(c[0]! + c[1]! * binU[k]! + c[2]! * binU[k]! ** 2);
  const quiet = bins.filter((k) => (binY[k]! - binBg(coef!, k)) / Math.sqrt(Math.max(binBg(coef!, k), 1)) < 3);
  coef = weightedLeastSquares(quiet.length >= 8 ? quiet : bins, binLogY, binY, 3, basis) ?? coef;
  const kernel = new Float64Array(2 * kr + 1);
  for (let k = -kr; k <= kr; k++) kernel[k + kr] = Math.exp(-0.5 * ((k * disp) / sigma0) ** 2);
  const lnE = logEnergyAxis(off, disp, n);
  // The filter's two sums per channel: residual x kernel and background (floored) x kernel^2.
  const residual = new Float64Array(n);
  const variance = new Float64Array(n);
  for (let i = first; i < n; i++) {
    const u = lnE[i]!;
    const b = Math.exp(coef[0]! + coef[1]! * u + coef[2]! * u * u);
    residual[i] = y[i]! - b;
    variance[i] = b > 1e-3 ? b : 1e-3;
  }
  const { bestAt, best } = matchedFilterPeak(residual, variance, kernel, kr, first + kr, n - kr);
  if (!(best >= minSig)) return null;

  // 2. Local fit.
  const mu0 = energy(bestAt);
  const lo = Math.max(first, Math.ceil((mu0 - halfWidth - off) / disp));
  const hi = Math.min(n - 1, Math.floor((mu0 + halfWidth - off) / disp));
  if (hi - lo + 1 < 12) return null;
  const fit = fitPeak(lo, hi, y, lnE, off, disp, mu0, sigma0, coef);
  if (!fit) return null;
  const [, , , A, mu, s] = fit.params;
  const eLo = energy(lo);
  const eHi = energy(hi);
  const plausible = mu! > eLo + s! && mu! < eHi - s! && s! > 0.1 * sigma0 && s! < 4 * sigma0;
  if (!plausible || !(A! >= minSig * fit.sd[3]!) || !(fit.sd[4]! > 0)) return null;
  return { value_eV: mu!, sigma_eV: fit.sd[4]!, counts: A! };
}

/**
 * The matched filter z(c) = sum_k r[c+k] w_k / sqrt(sum_k v[c+k] w_k^2) over centres c0..c1-1
 * (w the symmetric kernel, k = -kr..kr): the first centre of the largest z, and that z.
 * Both sums are screened for every centre at once by FFT convolution; the centres whose screened
 * z comes within SCREEN_TOLERANCE of the largest are then summed directly, in the order of the
 * plain loop, so the centre and z returned are exactly those of the direct filter (the margin
 * also covers a bound on the FFT's rounding, screeningError: ~1e-9 on the twin's spectra).
 */
export function matchedFilterPeak(r: Float64Array, v: Float64Array, kernel: Float64Array, kr: number, c0: number, c1: number): { bestAt: number; best: number } {
  const screened = screenFilter(r, v, kernel, kr, c0, c1);
  let top = -Infinity;
  for (let c = c0; c < c1; c++) if (screened[c - c0]! > top) top = screened[c - c0]!;
  const floor = top - Math.max(SCREEN_TOLERANCE * (1 + Math.abs(top)), 4 * screeningError(r, v, kernel, kr, c0, c1, top));
  let best = -Infinity;
  let bestAt = -1;
  const width = 2 * kr + 1;
  for (let c = c0; c < c1; c++) {
    const zs = screened[c - c0]!;
    if (zs < floor) continue;
    let s = 0;
    let vs = 0;
    for (let k = 0; k < width; k++) {
      const w = kernel[k]!;
      s += r[c - kr + k]! * w;
      vs += v[c - kr + k]! * w * w;
    }
    const z = s / Math.sqrt(vs);
    if (z > best) {
      best = z;
      bestAt = c;
    }
  }
  return { bestAt, best };
}

/** Screened z within this share (of 1 + |largest z|) of the largest are recomputed directly. */
const SCREEN_TOLERANCE = 1e-3;

/**
 * A bound on |screened z - direct z| near the top: FFT convolution errs by at most
 * ~eps log2(N) |x|_2 |w|_2 on each sum (the constant taken generously), and the variance sum is
 * at least min(v) sum(w^2). Infinite when v reaches 0 (every centre is then summed directly).
 */
function screeningError(r: Float64Array, v: Float64Array, kernel: Float64Array, kr: number, c0: number, c1: number, top: number): number {
  let r2 = 0;
  let v2 = 0;
  let vMin = Infinity;
  for (let i = c0 - kr; i < c1 + kr; i++) {
    r2 += r[i]! * r[i]!;
    v2 += v[i]! * v[i]!;
    if (v[i]! < vMin) vMin = v[i]!;
  }
  let w2 = 0;
  let w4 = 0;
  for (let k = 0; k < kernel.length; k++) {
    w2 += kernel[k]! ** 2;
    w4 += kernel[k]! ** 4;
  }
  const scale = 16 * Number.EPSILON * Math.log2(fftSize(c1 - c0 + 2 * kr));
  const errS = scale * Math.sqrt(r2 * w2);
  const errV = scale * Math.sqrt(v2 * w4);
  const vLow = vMin * w2;
  if (!(vLow > 2 * errV)) return Infinity;
  return errS / Math.sqrt(vLow - errV) + ((Math.abs(top) + 1) * errV) / (vLow - errV);
}

/**
 * z(c) for c0..c1-1 through one complex FFT pair: r and v packed as re + i im, split in the
 * frequency domain, multiplied by the spectra of w and w^2, recombined; the cyclic convolution
 * is exact for centres whose kernel stays inside [c0 - kr, c1 + kr). NaN (never skipped) where
 * the screened variance is not positive.
 */
function screenFilter(r: Float64Array, v: Float64Array, kernel: Float64Array, kr: number, c0: number, c1: number): Float64Array {
  const first = c0 - kr;
  const length = c1 + kr - first;
  const N = fftSize(length);
  const re = new Float64Array(N);
  const im = new Float64Array(N);
  for (let j = 0; j < length; j++) {
    re[j] = r[first + j]!;
    im[j] = v[first + j]!;
  }
  fft(re, im);
  const { w1, w2 } = kernelSpectra(kernel, kr, N);
  const zr = new Float64Array(N);
  const zi = new Float64Array(N);
  for (let f = 0; f < N; f++) {
    const g = (N - f) & (N - 1);
    // Spectra of r (a) and v (b) from that of r + i v.
    const ar = 0.5 * (re[f]! + re[g]!);
    const ai = 0.5 * (im[f]! - im[g]!);
    const br = 0.5 * (im[f]! + im[g]!);
    const bi = -0.5 * (re[f]! - re[g]!);
    zr[f] = ar * w1[f]! - bi * w2[f]!;
    zi[f] = ai * w1[f]! + br * w2[f]!;
  }
  fft(zr, zi, true);
  const out = new Float64Array(c1 - c0);
  for (let c = c0; c < c1; c++) {
    const j = c - first;
    const vs = zi[j]! / N;
    out[c - c0] = vs > 0 ? zr[j]! / N / Math.sqrt(vs) : NaN;
  }
  return out;
}

const kernelSpectraCache = new Map<string, { w1: Float64Array; w2: Float64Array }>();

/** Real spectra of the kernel and its square placed cyclically around 0 (symmetric, so real). */
function kernelSpectra(kernel: Float64Array, kr: number, N: number): { w1: Float64Array; w2: Float64Array } {
  // The kernel is fixed by its half-width and its first off-centre weight (exp(-(disp / sigma)^2 / 2)).
  const key = `${N}|${kr}|${kernel[kr + 1]}`;
  const cached = kernelSpectraCache.get(key);
  if (cached) return cached;
  const re = new Float64Array(N);
  const im = new Float64Array(N);
  for (let k = -kr; k <= kr; k++) {
    const w = kernel[k + kr]!;
    re[(k + N) % N] = w;
    im[(k + N) % N] = w * w;
  }
  fft(re, im);
  // Both inputs real and even: the spectrum of re + i im is W1 + i W2 with W1, W2 real.
  const w1 = new Float64Array(N);
  const w2 = new Float64Array(N);
  for (let f = 0; f < N; f++) {
    w1[f] = re[f]!;
    w2[f] = im[f]!;
  }
  if (kernelSpectraCache.size >= 16) kernelSpectraCache.clear();
  const spectra = { w1, w2 };
  kernelSpectraCache.set(key, spectra);
  return spectra;
}

let lastAxis: { off: number; disp: number; lnE: Float64Array } | undefined;

/**
 * ln E of every channel (NaN where E <= 0), shared by the background fit, the filter and the
 * local fit; the axis of the last spectrum is kept, as a campaign's spectra share theirs.
 */
function logEnergyAxis(off: number, disp: number, n: number): Float64Array {
  if (lastAxis && lastAxis.off === off && lastAxis.disp === disp && lastAxis.lnE.length === n) return lastAxis.lnE;
  const lnE = new Float64Array(n);
  for (let i = 0; i < n; i++) lnE[i] = Math.log(off + i * disp);
  lastAxis = { off, disp, lnE };
  return lnE;
}

interface PeakFit {
  /** a, b, c (background in u = ln(E / mu0)), A (counts), mu (eV), s (eV). */
  params: Float64Array;
  sd: Float64Array;
}

/** Model, Jacobian and deviance of one parameter vector over the fit window. */
interface Evaluation {
  model: Float64Array;
  J: Float64Array;
}

const P = 6;

/**
 * Levenberg-Marquardt with Fisher scoring over channels lo..hi. Every trial step is evaluated
 * with its Jacobian into a spare buffer, which becomes the current one when the step is taken
 * (so an accepted step is not evaluated twice, nor a rejected one undone).
 */
function fitPeak(lo: number, hi: number, y: Float64Array, lnE: Float64Array, off: number, disp: number, mu0: number, sigma0: number, globalBg: Float64Array): PeakFit | undefined {
  const ln0 = Math.log(mu0);
  const m = hi - lo + 1;
  // Per channel of the window: energy, u = ln(E / mu0), counts.
  const E = new Float64Array(m);
  const U = new Float64Array(m);
  const obs = new Float64Array(m);
  for (let r = 0; r < m; r++) {
    E[r] = off + (lo + r) * disp;
    U[r] = lnE[lo + r]! - ln0;
    obs[r] = y[lo + r]!;
  }
  // Start: the global background re-expressed in u = ln(E / mu0), refitted without the peak.
  const far: number[] = [];
  for (let r = 0; r < m; r++) if (Math.abs(E[r]! - mu0) > 2.5 * sigma0 && obs[r]! > 0) far.push(r);
  const logObs = new Float64Array(m);
  for (const r of far) logObs[r] = Math.log(obs[r]!);
  const local =
    far.length >= 6
      ? weightedLeastSquares(far, logObs, obs, 3, (r, out) => {
          const u = U[r]!;
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
  for (let r = 0; r < m; r++) {
    if (Math.abs(E[r]! - mu0) < 2 * sigma0) {
      const u = U[r]!;
      area += obs[r]! - Math.exp(p[0]! + p[1]! * u + p[2]! * u * u);
    }
  }
  p[3] = Math.max(area / 0.954, 1);
  p[4] = mu0;
  p[5] = sigma0;

  const window = new FitWindow(E, U, obs, disp);
  const H = new Float64Array(P * P);
  const grad = new Float64Array(P);
  const evaluate = (q: Float64Array, e: Evaluation): number => window.evaluate(q, e);
  const normal = (e: Evaluation): void => window.normal(e, H, grad);

  let current: Evaluation = { model: new Float64Array(m), J: new Float64Array(m * P) };
  let spare: Evaluation = { model: new Float64Array(m), J: new Float64Array(m * P) };
  let chi2 = evaluate(p, current);
  let lambda = 1e-3;
  const trial = new Float64Array(P);
  const damped = new Float64Array(P * P);
  for (let iter = 0; iter < 200; iter++) {
    normal(current);
    damped.set(H);
    for (let a = 0; a < P; a++) damped[a * P + a]! *= 1 + lambda;
    const step = solve(damped, grad, P);
    if (!step) return undefined;
    for (let a = 0; a < P; a++) trial[a] = p[a]! + step[a]!;
    trial[5] = Math.abs(trial[5]!);
    const c2 = trial[5]! > 0 ? evaluate(trial, spare) : Infinity;
    if (c2 < chi2) {
      const gain = chi2 - c2;
      p.set(trial);
      [current, spare] = [spare, current];
      chi2 = c2;
      lambda = Math.max(lambda / 10, 1e-9);
      if (gain < 1e-8 * chi2 + 1e-10) break;
    } else {
      lambda *= 10;
      if (lambda > 1e10) break;
    }
  }
  normal(current);
  const cov = invert(H, P);
  if (!cov) return undefined;
  const inflate = Math.sqrt(Math.max(1, chi2 / Math.max(1, m - P)));
  const sd = new Float64Array(P);
  for (let a = 0; a < P; a++) sd[a] = Math.sqrt(Math.max(0, cov[a * P + a]!)) * inflate;
  return { params: p, sd };
}

/** The fit window's channels (energy, u = ln(E / mu0), counts) and the model's evaluation over them. */
class FitWindow {
  readonly m: number;

  constructor(
    private readonly E: Float64Array,
    private readonly U: Float64Array,
    private readonly obs: Float64Array,
    private readonly disp: number,
  ) {
    this.m = E.length;
  }

  /** Fills e with the model and Jacobian at q; returns the Poisson deviance (its minimum is the maximum-likelihood fit). */
  evaluate(q: Float64Array, e: Evaluation): number {
    const { model, J } = e;
    const { E, U, obs, disp, m } = this;
    const a = q[0]!;
    const b = q[1]!;
    const c = q[2]!;
    const A = q[3]!;
    const mu = q[4]!;
    const s = q[5]!;
    let chi2 = 0;
    for (let r = 0; r < m; r++) {
      const u = U[r]!;
      const bg = Math.exp(a + b * u + c * u * u);
      const z = (E[r]! - mu) / s;
      const g = (Math.exp(-0.5 * z * z) * GAUSS_NORM * disp) / s;
      const v = bg + A * g;
      model[r] = v;
      const o = obs[r]!;
      const vm = Math.max(v, 1e-9);
      chi2 += 2 * (vm - o + (o > 0 ? o * Math.log(o / vm) : 0));
      const row = r * P;
      J[row] = bg;
      J[row + 1] = bg * u;
      J[row + 2] = bg * u * u;
      J[row + 3] = g;
      J[row + 4] = (A * g * z) / s;
      J[row + 5] = (A * g * (z * z - 1)) / s;
    }
    return chi2;
  }

  /** Fisher information (weights 1 / model) and score at the evaluation e, into H and grad. */
  normal(e: Evaluation, H: Float64Array, grad: Float64Array): void {
    const { model, J } = e;
    const { obs, m } = this;
    H.fill(0);
    grad.fill(0);
    for (let r = 0; r < m; r++) {
      const w = 1 / Math.max(model[r]!, 1);
      const res = obs[r]! - model[r]!;
      const row = r * P;
      for (let a = 0; a < P; a++) {
        const ja = J[row + a]!;
        grad[a]! += w * ja * res;
        for (let b = a; b < P; b++) H[a * P + b]! += w * ja * J[row + b]!;
      }
    }
    for (let a = 0; a < P; a++) for (let b = 0; b < a; b++) H[a * P + b] = H[b * P + a]!;
  }
}
