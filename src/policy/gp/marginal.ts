import { choleskyWithJitter, CholeskyError, inverseFromCholesky, logDeterminant, packedLength, rowOffset, choleskySolve } from './cholesky.js';
import type { Hyperparameters, KernelName } from './kernel.js';

const LOG_2PI = Math.log(2 * Math.PI);
const SQRT5 = Math.sqrt(5);

/** [log l_1 .. log l_D, log signalVariance, log noiseVariance]. */
export function toLogParams(h: Hyperparameters): Float64Array {
  const D = h.lengthscales.length;
  const out = new Float64Array(D + 2);
  for (let d = 0; d < D; d++) out[d] = Math.log(h.lengthscales[d]!);
  out[D] = Math.log(h.signalVariance);
  out[D + 1] = Math.log(h.noiseVariance);
  return out;
}

export function fromLogParams(p: ArrayLike<number>, dims: number): Hyperparameters {
  const lengthscales = new Float64Array(dims);
  for (let d = 0; d < dims; d++) lengthscales[d] = Math.exp(p[d]!);
  return { lengthscales, signalVariance: Math.exp(p[dims]!), noiseVariance: Math.exp(p[dims + 1]!) };
}

/**
 * The log marginal likelihood of standardised targets y at normalised inputs X, and its analytic
 * gradient with respect to the log-hyperparameters:
 *
 *   LML = -1/2 y^T K^-1 y - 1/2 log det K - n/2 log 2 pi
 *   dLML/dtheta = 1/2 tr((alpha alpha^T - K^-1) dK/dtheta),  alpha = K^-1 y.
 *
 * The per-dimension squared differences are computed once, so an evaluation costs one kernel
 * matrix (O(n^2 D)), one Cholesky and one inverse (O(n^3 / 2) together).
 */
export class MarginalLikelihood {
  private readonly diff2: Float64Array[];
  private readonly K: Float64Array;
  private readonly corr: Float64Array;
  private readonly gfac: Float64Array;
  private readonly inv: Float64Array;
  private readonly work: Float64Array;
  private readonly alpha: Float64Array;

  constructor(
    readonly kernel: KernelName,
    readonly dims: number,
    readonly n: number,
    /** Normalised inputs, n x dims row-major. */
    X: Float64Array,
    /** Standardised targets. */
    private readonly y: Float64Array,
  ) {
    const len = packedLength(n);
    this.diff2 = [];
    for (let d = 0; d < dims; d++) {
      const a = new Float64Array(len);
      for (let i = 0; i < n; i++) {
        const oi = rowOffset(i);
        const xi = X[i * dims + d]!;
        for (let j = 0; j < i; j++) {
          const t = xi - X[j * dims + d]!;
          a[oi + j] = t * t;
        }
      }
      this.diff2.push(a);
    }
    this.K = new Float64Array(len);
    this.corr = new Float64Array(len);
    this.gfac = new Float64Array(len);
    this.inv = new Float64Array(len);
    this.work = new Float64Array(n * n);
    this.alpha = new Float64Array(n);
  }

  /** LML at `logParams`; fills `grad` (same length) when given. Returns NaN where K cannot be factorised. */
  evaluate(logParams: ArrayLike<number>, grad?: Float64Array): number {
    const { n, dims, K, corr, gfac, diff2 } = this;
    const invL2 = new Float64Array(dims);
    for (let d = 0; d < dims; d++) invL2[d] = Math.exp(-2 * logParams[d]!);
    const s2 = Math.exp(logParams[dims]!);
    const noise = Math.exp(logParams[dims + 1]!);
    const matern = this.kernel === 'matern52';
    for (let i = 0; i < n; i++) {
      const oi = rowOffset(i);
      for (let j = 0; j < i; j++) {
        let r2 = 0;
        for (let d = 0; d < dims; d++) r2 += diff2[d]![oi + j]! * invL2[d]!;
        // Correlation and length-scale gradient factor share one exp (kernel.ts has the formulas).
        let c: number;
        let gf: number;
        if (matern) {
          const r = Math.sqrt(r2);
          const e = Math.exp(-SQRT5 * r);
          c = (1 + SQRT5 * r + (5 / 3) * r2) * e;
          gf = (5 / 3) * (1 + SQRT5 * r) * e;
        } else {
          c = Math.exp(-0.5 * r2);
          gf = c;
        }
        corr[oi + j] = c;
        K[oi + j] = s2 * c;
        gfac[oi + j] = s2 * gf;
      }
      corr[oi + i] = 1;
      K[oi + i] = s2 + noise;
    }
    let factor: Float64Array;
    try {
      factor = choleskyWithJitter(K, n).factor;
    } catch (e) {
      if (e instanceof CholeskyError) return NaN;
      throw e;
    }
    const alpha = this.alpha;
    alpha.set(this.y.subarray(0, n));
    choleskySolve(factor, n, alpha);
    let quad = 0;
    for (let i = 0; i < n; i++) quad += this.y[i]! * alpha[i]!;
    const lml = -0.5 * quad - 0.5 * logDeterminant(factor, n) - 0.5 * n * LOG_2PI;
    if (!grad) return lml;

    // W = alpha alpha^T - K^-1, summed against dK/dtheta over the full symmetric matrix.
    const inv = inverseFromCholesky(factor, n, this.work, this.inv);
    grad.fill(0);
    let gSignal = 0;
    let gNoise = 0;
    for (let i = 0; i < n; i++) {
      const oi = rowOffset(i);
      const ai = alpha[i]!;
      for (let j = 0; j < i; j++) {
        const w = 2 * (ai * alpha[j]! - inv[oi + j]!);
        gSignal += w * corr[oi + j]!;
        const wg = w * gfac[oi + j]!;
        for (let d = 0; d < dims; d++) grad[d]! += wg * diff2[d]![oi + j]!;
      }
      const wii = ai * ai - inv[oi + i]!;
      gSignal += wii;
      gNoise += wii;
    }
    for (let d = 0; d < dims; d++) grad[d] = 0.5 * grad[d]! * invL2[d]!;
    grad[dims] = 0.5 * s2 * gSignal;
    grad[dims + 1] = 0.5 * noise * gNoise;
    return lml;
  }
}
