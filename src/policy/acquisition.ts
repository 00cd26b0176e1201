import type { AcquisitionName } from '../protocol/scenario.js';

/**
 * Acquisition functions a(c) of the posterior at candidate compositions. Each takes the posterior
 * mean and latent variance arrays (original units, eV and eV^2) and writes one score per point.
 * They know nothing about cost: `costWeighted` (cost.ts) wraps any of them (eq. 4).
 *
 * Scales: `max-variance` and `max-sd` are >= 0; `ucb` is in eV and may have either sign;
 * `log-ei` returns log EI (`logScale`), so that cost weighting subtracts log C instead of dividing
 * and the switching rule converts back with exp (see `toUtility`).
 */
export interface Acquisition {
  readonly name: AcquisitionName;
  /** Scores are logarithms of a positive utility. */
  readonly logScale: boolean;
  evaluate(mean: ArrayLike<number>, variance: ArrayLike<number>, out?: Float64Array): Float64Array;
}

export interface AcquisitionOptions {
  /** UCB exploration weight beta: a = mean + sqrt(beta) sd. */
  ucbBeta?: number;
  /** Best observed target (eV) for log-EI (maximisation). */
  best_eV?: number;
}

export const ACQUISITION_NAMES: readonly AcquisitionName[] = ['max-variance', 'max-sd', 'log-ei', 'ucb'];

function outFor(mean: ArrayLike<number>, variance: ArrayLike<number>, out: Float64Array | undefined, who: string): Float64Array {
  if (mean.length !== variance.length) throw new RangeError(`${who}: mean and variance differ in length (${mean.length} vs ${variance.length})`);
  const res = out ?? new Float64Array(mean.length);
  if (res.length < mean.length) throw new RangeError(`${who}: out has ${res.length} entries, needs ${mean.length}`);
  return res;
}

/** Predictive (latent) variance: the paper's maximum-uncertainty acquisition, as gpax's UE returns it. */
export function maxVariance(): Acquisition {
  return {
    name: 'max-variance',
    logScale: false,
    evaluate(mean, variance, out) {
      const res = outFor(mean, variance, out, 'max-variance');
      for (let i = 0; i < variance.length; i++) res[i] = Math.max(0, variance[i]!);
      return res;
    },
  };
}

/** Predictive standard deviation. */
export function maxSd(): Acquisition {
  return {
    name: 'max-sd',
    logScale: false,
    evaluate(mean, variance, out) {
      const res = outFor(mean, variance, out, 'max-sd');
      for (let i = 0; i < variance.length; i++) res[i] = Math.sqrt(Math.max(0, variance[i]!));
      return res;
    },
  };
}

/** Upper confidence bound mean + sqrt(beta) sd. */
export function upperConfidenceBound(beta: number): Acquisition {
  if (!(beta >= 0) || !Number.isFinite(beta)) throw new RangeError(`ucbBeta: must be a finite number >= 0, got ${beta}`);
  const k = Math.sqrt(beta);
  return {
    name: 'ucb',
    logScale: false,
    evaluate(mean, variance, out) {
      const res = outFor(mean, variance, out, 'ucb');
      for (let i = 0; i < mean.length; i++) res[i] = mean[i]! + k * Math.sqrt(Math.max(0, variance[i]!));
      return res;
    },
  };
}

/** log EI for maximisation over the best observed value, numerically stable far into the tail. */
export function logExpectedImprovementAcquisition(best_eV: number): Acquisition {
  if (!Number.isFinite(best_eV)) throw new RangeError(`best_eV: log-ei needs a finite best observed value, got ${best_eV}`);
  return {
    name: 'log-ei',
    logScale: true,
    evaluate(mean, variance, out) {
      const res = outFor(mean, variance, out, 'log-ei');
      for (let i = 0; i < mean.length; i++) res[i] = logExpectedImprovement(mean[i]!, Math.sqrt(Math.max(0, variance[i]!)), best_eV);
      return res;
    },
  };
}

/** The acquisition a scenario names. */
export function createAcquisition(name: AcquisitionName, options: AcquisitionOptions = {}): Acquisition {
  switch (name) {
    case 'max-variance':
      return maxVariance();
    case 'max-sd':
      return maxSd();
    case 'ucb':
      return upperConfidenceBound(options.ucbBeta ?? 2);
    case 'log-ei':
      return logExpectedImprovementAcquisition(options.best_eV ?? NaN);
    default:
      throw new RangeError(`acquisition: must be one of ${ACQUISITION_NAMES.join(', ')}, got "${name as string}"`);
  }
}

/** Scores on a linear utility scale (exp of log-scale scores), as the stay/switch rule compares them. */
export function toUtility(acquisition: Acquisition, scores: ArrayLike<number>, out?: Float64Array): Float64Array {
  const res = out ?? new Float64Array(scores.length);
  if (acquisition.logScale) for (let i = 0; i < scores.length; i++) res[i] = Math.exp(scores[i]!);
  else for (let i = 0; i < scores.length; i++) res[i] = scores[i]!;
  return res;
}

/** Index of the largest finite-or-infinite value (first on ties, NaN skipped); -1 when there is none. */
export function argmax(values: ArrayLike<number>, count = values.length): number {
  let best = -1;
  let bestValue = -Infinity;
  for (let i = 0; i < count; i++) {
    const v = values[i]!;
    if (v > bestValue || (best < 0 && v === -Infinity)) {
      best = i;
      bestValue = v;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// Normal distribution and log EI.

const SQRT2 = Math.SQRT2;
const SQRT_PI = Math.sqrt(Math.PI);
const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);
const SQRT_HALF_PI = Math.sqrt(Math.PI / 2);

/**
 * Scaled complementary error function exp(x^2) erfc(x) for x >= 0: a positive-term series for erf
 * below 2 (no cancellation in the sum; erfc >= 0.0047 there, so 1 - erf loses < 3 digits), and the
 * continued fraction of erfc (modified Lentz) from 2 on.
 */
export function erfcx(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 * Math.exp(x * x) - erfcx(-x);
  if (x < 2) {
    // erf(x) = 2/sqrt(pi) exp(-x^2) sum_n (2 x^2)^n x / (1 * 3 * ... * (2n + 1)).
    const x2 = x * x;
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (2 * x2) / (2 * n + 1);
      sum += term;
      if (term < 1e-17 * sum) break;
    }
    return Math.exp(x2) - (2 / SQRT_PI) * sum;
  }
  if (x > 1e8) return 1 / (x * SQRT_PI);
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1 / (x + (1/2) / (x + 1 / (x + (3/2) / (x + ...)))).
  const tiny = 1e-300;
  let f = x;
  let C = x;
  let D = 0;
  for (let k = 1; k < 5000; k++) {
    const a = k / 2;
    D = x + a * D;
    if (D === 0) D = tiny;
    C = x + a / C;
    if (C === 0) C = tiny;
    D = 1 / D;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return 1 / (SQRT_PI * f);
}

/** erfc(x) for any real x. */
export function erfc(x: number): number {
  if (x < 0) return 2 - erfc(-x);
  if (x > 27.3) return 0;
  return Math.exp(-x * x) * erfcx(x);
}

/** Standard normal density. */
export function normalPdf(z: number): number {
  return Math.exp(-0.5 * z * z - LOG_SQRT_2PI);
}

/** Standard normal distribution function, accurate in both tails. */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / SQRT2);
}

/**
 * log h(z), h(z) = phi(z) + z Phi(z), the standardised expected improvement. Direct above z = -1;
 * below, h = phi(z) (1 - |z| Phi(z) / phi(z)) with the Mills ratio from erfcx, and for |z| >= 20 the
 * asymptotic series 1 - |z| R = 1/z^2 - 3/z^4 + 15/z^6 - ..., so that log EI stays finite and smooth
 * where EI itself underflows (the LogEI of Ament et al., 2023).
 */
export function logH(z: number): number {
  if (Number.isNaN(z)) return NaN;
  if (z > -1) return Math.log(normalPdf(z) + z * normalCdf(z));
  const u = -z;
  const logPhi = -0.5 * u * u - LOG_SQRT_2PI;
  let oneMinus: number;
  if (u < 20) {
    oneMinus = 1 - u * SQRT_HALF_PI * erfcx(u / SQRT2);
  } else {
    const inv2 = 1 / (u * u);
    let term = inv2;
    oneMinus = 0;
    for (let k = 1; k <= 10; k++) {
      oneMinus += term;
      term *= -(2 * k + 1) * inv2;
    }
  }
  return logPhi + Math.log(oneMinus);
}

/** log E[max(f - best, 0)] for f ~ Normal(mean, sd^2). */
export function logExpectedImprovement(mean: number, sd: number, best: number): number {
  if (!(sd > 0)) return mean > best ? Math.log(mean - best) : -Infinity;
  return Math.log(sd) + logH((mean - best) / sd);
}
