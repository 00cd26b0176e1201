import { choleskyWithJitter, CholeskyError, dot, inverseFromCholesky, logDeterminant, packedLength, rowOffset, choleskySolve } from './cholesky.js';
import { curvature, type Hyperparameters, type KernelName } from './kernel.js';

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
 * With input variances (noisy inputs, see GaussianProcess), observation i's diagonal also holds
 * s2 kappa q_i, q_i = sum_d v_id / l_d^2, whose derivatives join the signal and length-scale terms.
 *
 * The per-dimension squared differences are computed once, so an evaluation costs one kernel
 * matrix (O(n^2 D)), one Cholesky and one inverse (O(n^3 / 2) together). Every O(n^2) step is a
 * pass over whole packed triangles (diagonal included, where the differences are 0), so the loops
 * run over contiguous arrays.
 */
export class MarginalLikelihood {
  /** Per dimension, the packed triangle of squared differences (0 on the diagonal). */
  private readonly diff2: Float64Array[];
  private readonly K: Float64Array;
  private readonly corr: Float64Array;
  private readonly gfac: Float64Array;
  /** Scaled squared distances, then the gradient weights W dK/dlog l (shared). */
  private readonly scratch: Float64Array;
  private readonly inv: Float64Array;
  private readonly work: Float64Array;
  private readonly alpha: Float64Array;
  /** What `gradient` needs of the last successful evaluation. */
  private last: { factor: Float64Array; invL2: Float64Array; s2: number; noise: number } | null = null;
  private readonly kappa: number;
  /** kappa q_i of the last evaluation (0 without input variances). */
  private readonly inputTerm: Float64Array;

  constructor(
    readonly kernel: KernelName,
    readonly dims: number,
    readonly n: number,
    /** Normalised inputs, n x dims row-major. */
    X: Float64Array,
    /** Standardised targets. */
    private readonly y: Float64Array,
    /** Input variances in normalised units, n x dims row-major (noisy inputs), or none. */
    private readonly inputVariance?: Float64Array,
  ) {
    this.kappa = curvature(kernel);
    this.inputTerm = new Float64Array(n);
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
    this.scratch = new Float64Array(len);
    this.inv = new Float64Array(len);
    this.work = new Float64Array(n * n);
    this.alpha = new Float64Array(n);
  }

  /**
   * LML at `logParams`; fills `grad` (same length) when given. Returns NaN where K cannot be
   * factorised. `gradient` can fill it later, from this evaluation's factor.
   */
  evaluate(logParams: ArrayLike<number>, grad?: Float64Array): number {
    const lml = this.value(logParams);
    if (grad && !Number.isNaN(lml)) this.gradient(grad);
    return lml;
  }

  /** The gradient at the parameters of the last `evaluate` (which must have returned a number). */
  gradient(grad: Float64Array): void {
    const last = this.last;
    if (!last) throw new Error('MarginalLikelihood.gradient: no factorised evaluation to differentiate');
    const { n, dims, corr, gfac, diff2, alpha } = this;
    const { factor, invL2, s2, noise } = last;
    const len = packedLength(n);
    // W = alpha alpha^T - K^-1, summed against dK/dtheta over the full symmetric matrix: the
    // off-diagonal entries count twice. The diagonal has no length-scale derivative (diff2 = 0
    // there) and corr = 1, so signal and noise get sum_i W_ii each.
    const inv = inverseFromCholesky(factor, n, this.work, this.inv);
    const wg = this.scratch;
    const v = this.inputVariance;
    const term = this.inputTerm;
    let gSignal = 0;
    let gNoise = 0;
    const gInput = new Float64Array(dims);
    for (let i = 0; i < n; i++) {
      const oi = rowOffset(i);
      const ai = alpha[i]!;
      for (let j = 0; j < i; j++) {
        const w = 2 * (ai * alpha[j]! - inv[oi + j]!);
        gSignal += w * corr[oi + j]!;
        wg[oi + j] = w * gfac[oi + j]!;
      }
      const wii = ai * ai - inv[oi + i]!;
      gSignal += wii * (1 + term[i]!);
      gNoise += wii;
      wg[oi + i] = 0;
      if (v) for (let d = 0; d < dims; d++) gInput[d]! += wii * v[i * dims + d]!;
    }
    // d(s2 kappa q_i)/d log l_d = -2 s2 kappa v_id / l_d^2.
    for (let d = 0; d < dims; d++) grad[d] = 0.5 * dot(wg, 0, diff2[d]!, 0, len) * invL2[d]! - s2 * this.kappa * invL2[d]! * gInput[d]!;
    grad[dims] = 0.5 * s2 * gSignal;
    grad[dims + 1] = 0.5 * noise * gNoise;
  }

  private value(logParams: ArrayLike<number>): number {
    this.last = null;
    const { n, dims, K, corr, gfac, diff2 } = this;
    const len = packedLength(n);
    const invL2 = new Float64Array(dims);
    for (let d = 0; d < dims; d++) invL2[d] = Math.exp(-2 * logParams[d]!);
    const s2 = Math.exp(logParams[dims]!);
    const noise = Math.exp(logParams[dims + 1]!);
    const r2 = this.scratch;
    const first = diff2[0]!;
    const c0 = invL2[0]!;
    for (let e = 0; e < len; e++) r2[e] = first[e]! * c0;
    for (let d = 1; d < dims; d++) {
      const a = diff2[d]!;
      const c = invL2[d]!;
      for (let e = 0; e < len; e++) r2[e]! += a[e]! * c;
    }
    // Correlation and length-scale gradient factor share one exp (kernel.ts has the formulas).
    if (this.kernel === 'matern52') {
      for (let e = 0; e < len; e++) {
        const q = r2[e]!;
        const r = Math.sqrt(q);
        const x = Math.exp(-SQRT5 * r);
        const c = (1 + SQRT5 * r + (5 / 3) * q) * x;
        corr[e] = c;
        K[e] = s2 * c;
        gfac[e] = s2 * (5 / 3) * (1 + SQRT5 * r) * x;
      }
    } else {
      for (let e = 0; e < len; e++) {
        const c = Math.exp(-0.5 * r2[e]!);
        corr[e] = c;
        K[e] = s2 * c;
        gfac[e] = s2 * c;
      }
    }
    const v = this.inputVariance;
    for (let i = 0; i < n; i++) {
      let q = 0;
      if (v) for (let d = 0; d < dims; d++) q += v[i * dims + d]! * invL2[d]!;
      this.inputTerm[i] = this.kappa * q;
      K[rowOffset(i) + i] = s2 * (1 + this.inputTerm[i]!) + noise;
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
    this.last = { factor, invL2, s2, noise };
    return lml;
  }
}
