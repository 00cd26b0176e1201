/** Counting statistics used by the analysis. */
import { erfc } from '../../protocol/special-functions.js';

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
  9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Gamma(x) for x > 0 (Lanczos, g = 7: ~1e-15 relative). */
export function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * ln P(X >= k) for X ~ Poisson(lambda), k real (counts divided by a gain need not be integers:
 * the continuous extension through Gamma). Summed upward from k; used only for k > lambda, where
 * the terms fall geometrically. Returns 0 (probability 1) for k <= lambda.
 */
export function lnPoissonTail(k: number, lambda: number): number {
  if (!(k > lambda)) return 0;
  if (lambda <= 0) return -Infinity;
  const lnFirst = -lambda + k * Math.log(lambda) - lnGamma(k + 1);
  let sum = 1;
  let term = 1;
  for (let j = 1; j < 100_000; j++) {
    term *= lambda / (k + j);
    sum += term;
    if (term < 1e-12 * sum) break;
  }
  return Math.min(0, lnFirst + Math.log(sum));
}

/** Large images are sampled on a stride so that about this many pixels are used. */
const BACKGROUND_SAMPLE = 65536;

/** The pixels clippedStats uses: every stride-th value, stride = floor(length / 65536) (at least 1). */
function sampleStride(length: number): number {
  return Math.max(1, Math.floor(length / BACKGROUND_SAMPLE));
}

/**
 * Mean and variance of the background pixels: iterative clipping at mean + 4 sd (objects are the
 * bright outliers) until the kept set stops changing (at most four passes). Large images are
 * sampled on a stride so that ~65k pixels are used: plenty for a background level (relative
 * error well under 1 %), and it keeps a 1024^2 overview cheap.
 */
export function clippedStats(values: Float64Array): { mean: number; variance: number } {
  return clippedStatsOfSample(backgroundSample(values));
}

/** The pixels clippedStats uses (the values themselves when the stride is 1). */
export function backgroundSample(values: Float64Array): Float64Array {
  const stride = sampleStride(values.length);
  if (stride === 1) return values;
  const sample = new Float64Array(Math.ceil(values.length / stride));
  for (let i = 0, k = 0; i < values.length; i += stride, k++) sample[k] = values[i]!;
  return sample;
}

/** clippedStats on its sample (all of it). */
export function clippedStatsOfSample(sample: Float64Array): { mean: number; variance: number } {
  let lo = -Infinity;
  let hi = Infinity;
  let mean = 0;
  let variance = 0;
  let kept = -1;
  for (let pass = 0; pass < 4; pass++) {
    let n = 0;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < sample.length; i++) {
      const v = sample[i]!;
      if (v < lo || v > hi) continue;
      n++;
      s += v;
      s2 += v * v;
    }
    if (n === 0 || n === kept) break;
    kept = n;
    mean = s / n;
    variance = Math.max(0, s2 / n - mean * mean);
    const sd = Math.sqrt(variance);
    lo = mean - 4 * sd;
    hi = mean + 4 * Math.max(sd, Math.sqrt(Math.max(mean, 0)), 1e-12);
  }
  return { mean, variance };
}

/** True when every value is a non-negative integer: the data are raw counts. */
export function isCounts(values: Float64Array): boolean {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!(v >= 0) || v !== Math.floor(v)) return false;
  }
  return true;
}

/** ln P(Z >= z) for a standard normal Z; asymptotic form far in the tail, where erfc underflows. */
export function lnNormalTail(z: number): number {
  if (z < 25) return Math.log(0.5 * erfc(z / Math.SQRT2));
  return -0.5 * z * z - Math.log(z * Math.sqrt(2 * Math.PI));
}
