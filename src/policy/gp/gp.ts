import type { Rng } from '../../protocol/random.js';
import { CholeskyError, choleskyWithJitter, backSubstitute, forwardSubstitute, packedLength, rowOffset } from './cholesky.js';
import { checkHyperparameters, checkKernelName, correlation, curvature, type Hyperparameters, type KernelName } from './kernel.js';
import { minimizeLbfgs } from './lbfgs.js';
import { fromLogParams, MarginalLikelihood, toLogParams } from './marginal.js';
import { InputNormaliser, OutputStandardiser, type Bounds } from './transforms.js';

/** Box bounds of the hyperparameters during fitting (normalised inputs, standardised outputs). */
export interface HyperparameterBounds {
  lengthscale: [number, number];
  signalVariance: [number, number];
  noiseVariance: [number, number];
}

export interface GpOptions {
  /** Input dimension. For compositions the runner passes all D fractions (see the report). */
  dims: number;
  kernel: KernelName;
  /** Smallest noise variance (standardised units) ever used: fitted or given values are raised to it. */
  noiseFloor?: number;
  /** Normalise inputs from these bounds (e.g. [0, 1]^D for fractions); without them, from the data at each setData/fit. */
  inputBounds?: Bounds;
  /** Starting hyperparameters, before the first fit. */
  initial?: Hyperparameters;
  bounds?: Partial<HyperparameterBounds>;
}

export interface FitOptions {
  /** Optimiser starts: the current hyperparameters, then restarts - 1 drawn from the Rng within the bounds. */
  restarts?: number;
  maxIterations?: number;
}

export interface FitResult {
  hyperparameters: Hyperparameters;
  /** LML (standardised targets) before and after the fit. */
  lmlBefore: number;
  lmlAfter: number;
  starts: number;
  evaluations: number;
}

/** Posterior of the latent function at query points, in the targets' original units. */
export interface Prediction {
  mean: Float64Array;
  variance: Float64Array;
  sd: Float64Array;
}

const LOG_2PI = Math.log(2 * Math.PI);
const SQRT5 = Math.sqrt(5);

/** Matern 5/2 correlation of a squared scaled distance (inlined form of kernel.correlation). */
function matern52(r2: number): number {
  const r = Math.sqrt(r2);
  return (1 + SQRT5 * r + (5 / 3) * r2) * Math.exp(-SQRT5 * r);
}

/**
 * Exact Gaussian-process regression with an ARD Matern 5/2 or RBF kernel, on Float64Array.
 *
 * Inputs are normalised to the unit cube and targets standardised; both transforms and the
 * hyperparameters stay fixed between calls of `setData`/`fit`, so `addObservation` can extend the
 * Cholesky factor by one row in O(n^2) and give exactly the posterior a full refactorisation would.
 * `fit` re-standardises, maximises the log marginal likelihood (analytic gradients, L-BFGS on
 * bounded log-parameters, several starts) and refactorises.
 *
 * Every refactorisation bumps `version`, which tells a PosteriorPool to rebuild instead of extend.
 *
 * Noisy inputs: an observation may carry the variances of its input (a composition measured by
 * EDX is uncertain). To first order the target then varies by grad f . dx, whose variance, with the
 * prior's expected slope E[(df/dx_d)^2] = s2 kappa / l_d^2 (kernel.ts `curvature`), is
 * s2 kappa sum_d v_d / l_d^2. That goes on the observation's diagonal, so uncertain inputs weigh
 * less, and enters the marginal likelihood with the hyperparameters it depends on.
 */
export class GaussianProcess {
  readonly dims: number;
  readonly kernel: KernelName;
  readonly noiseFloor: number;
  readonly bounds: HyperparameterBounds;
  private readonly fixedBounds: Bounds | undefined;

  private hyper: Hyperparameters;
  private normaliser: InputNormaliser;
  private standardiser = new OutputStandardiser(0, 1);
  private count = 0;
  private capacity = 0;
  private Xraw = new Float64Array(0);
  private yRaw = new Float64Array(0);
  /** Input variances, original units, n x dims (0 for exact inputs). */
  private Vraw = new Float64Array(0);
  /** Inputs normalised and divided by the length scales. */
  private Xs = new Float64Array(0);
  private ys = new Float64Array(0);
  /** Packed lower Cholesky factor of K + (noise + jitter) I. */
  private L = new Float64Array(0);
  /** z = L^-1 ys. */
  private z = new Float64Array(0);
  private alpha = new Float64Array(0);
  private alphaStale = true;
  private jitterUsed = 0;
  private logDetHalf = 0;
  private zz = 0;
  private factorVersion = 0;
  private readonly scratch: { k: Float64Array; x: Float64Array } ;

  constructor(options: GpOptions) {
    const { dims } = options;
    if (!Number.isInteger(dims) || dims < 1) throw new RangeError(`dims: must be an integer >= 1, got ${dims}`);
    this.dims = dims;
    this.kernel = checkKernelName(options.kernel);
    const floor = options.noiseFloor ?? 1e-6;
    if (!(floor >= 0) || !Number.isFinite(floor)) throw new RangeError(`noiseFloor: must be a finite number >= 0, got ${floor}`);
    this.noiseFloor = floor;
    this.bounds = {
      lengthscale: options.bounds?.lengthscale ?? [0.02, 10],
      signalVariance: options.bounds?.signalVariance ?? [0.01, 100],
      noiseVariance: options.bounds?.noiseVariance ?? [Math.max(floor, 1e-10), 1],
    };
    for (const [name, [lo, hi]] of Object.entries(this.bounds) as [string, [number, number]][]) {
      if (!(lo > 0) || !(hi >= lo) || !Number.isFinite(hi)) throw new RangeError(`bounds.${name}: need 0 < lower <= upper < inf, got [${lo}, ${hi}]`);
    }
    this.fixedBounds = options.inputBounds;
    this.normaliser = options.inputBounds ? InputNormaliser.fromBounds(dims, options.inputBounds) : InputNormaliser.identity(dims);
    this.hyper = this.withFloor(
      options.initial
        ? checkHyperparameters(options.initial, dims, 'initial')
        : { lengthscales: new Float64Array(dims).fill(0.3), signalVariance: 1, noiseVariance: Math.max(floor, 1e-3) },
    );
    this.scratch = { k: new Float64Array(0), x: new Float64Array(dims) };
  }

  /** Number of observations conditioned on. */
  get n(): number {
    return this.count;
  }

  /** Increments on every full refactorisation (setData, fit, a fallback inside addObservation). */
  get version(): number {
    return this.factorVersion;
  }

  get hyperparameters(): Hyperparameters {
    return { lengthscales: Float64Array.from(this.hyper.lengthscales), signalVariance: this.hyper.signalVariance, noiseVariance: this.hyper.noiseVariance };
  }

  /** Prior variance of the latent function, standardised units. */
  get signalVariance(): number {
    return this.hyper.signalVariance;
  }

  /** Jitter added to the diagonal by the last factorisation (0 when none was needed). */
  get jitter(): number {
    return this.jitterUsed;
  }

  get outputMean(): number {
    return this.standardiser.mean;
  }

  get outputScale(): number {
    return this.standardiser.sd;
  }

  /** Largest observed target (original units); -Infinity without data. */
  bestObserved(): number {
    let best = -Infinity;
    for (let i = 0; i < this.count; i++) if (this.yRaw[i]! > best) best = this.yRaw[i]!;
    return best;
  }

  /** Copies of the observed inputs (n x dims, row-major), targets and input variances (n x dims). */
  data(): { X: Float64Array; y: Float64Array; inputVariance: Float64Array } {
    const nd = this.count * this.dims;
    return { X: this.Xraw.slice(0, nd), y: this.yRaw.slice(0, this.count), inputVariance: this.Vraw.slice(0, nd) };
  }

  /**
   * Replaces the data (X: n x dims row-major, y: n, optional input variances n x dims),
   * re-derives the transforms, optionally sets new hyperparameters, and refactorises from scratch.
   */
  setData(X: ArrayLike<number>, y: ArrayLike<number>, hyperparameters?: Hyperparameters, inputVariance?: ArrayLike<number>): void {
    const n = y.length;
    if (X.length !== n * this.dims) throw new RangeError(`setData: X has ${X.length} values, expected y.length x dims = ${n} x ${this.dims} = ${n * this.dims}`);
    this.checkFinite(X, 'X');
    this.checkFinite(y, 'y');
    if (inputVariance) {
      if (inputVariance.length !== X.length) throw new RangeError(`setData: inputVariance has ${inputVariance.length} values, expected the same as X (${X.length})`);
      this.checkVariance(inputVariance, 'inputVariance');
    }
    if (hyperparameters) this.hyper = this.withFloor(checkHyperparameters(hyperparameters, this.dims));
    this.ensureCapacity(n);
    this.Xraw.set(X as ArrayLike<number>);
    this.yRaw.set(y as ArrayLike<number>);
    this.Vraw.fill(0);
    if (inputVariance) this.Vraw.set(inputVariance as ArrayLike<number>);
    this.count = n;
    this.refreshTransforms();
    this.refactorise();
  }

  /** Maximises the log marginal likelihood over the hyperparameters on the current data, then refactorises. */
  fit(rng: Rng, options: FitOptions = {}): FitResult {
    const { restarts = 3, maxIterations = 60 } = options;
    if (!Number.isInteger(restarts) || restarts < 1) throw new RangeError(`fit: restarts must be an integer >= 1, got ${restarts}`);
    if (!Number.isInteger(maxIterations) || maxIterations < 1) throw new RangeError(`fit: maxIterations must be an integer >= 1, got ${maxIterations}`);
    const n = this.count;
    const D = this.dims;
    this.refreshTransforms();
    const Xn = new Float64Array(n * D);
    this.normaliser.scaleInto(this.Xraw, n, new Float64Array(D).fill(1), Xn);
    const ys = new Float64Array(n);
    for (let i = 0; i < n; i++) ys[i] = this.standardiser.forward(this.yRaw[i]!);
    // Input variances in normalised units (zeros for exact inputs: the term vanishes).
    const Vn = new Float64Array(n * D);
    const r = this.normaliser.invRange;
    for (let i = 0; i < n * D; i++) Vn[i] = this.Vraw[i]! * r[i % D]! * r[i % D]!;
    const ml = new MarginalLikelihood(this.kernel, D, n, Xn, ys, Vn);

    const lo = new Float64Array(D + 2);
    const hi = new Float64Array(D + 2);
    for (let d = 0; d < D; d++) [lo[d], hi[d]] = this.bounds.lengthscale.map(Math.log) as [number, number];
    [lo[D], hi[D]] = this.bounds.signalVariance.map(Math.log) as [number, number];
    [lo[D + 1], hi[D + 1]] = this.bounds.noiseVariance.map(Math.log) as [number, number];
    const P = D + 2;
    const theta = new Float64Array(P);
    const gTheta = new Float64Array(P);
    const sig = new Float64Array(P);
    const toTheta = (u: Float64Array) => {
      for (let k = 0; k < P; k++) {
        sig[k] = 1 / (1 + Math.exp(-u[k]!));
        theta[k] = lo[k]! + (hi[k]! - lo[k]!) * sig[k]!;
      }
    };
    const toU = (t: ArrayLike<number>) => {
      const u = new Float64Array(P);
      for (let k = 0; k < P; k++) {
        const range = hi[k]! - lo[k]!;
        const s = range > 0 ? Math.min(1 - 1e-9, Math.max(1e-9, (t[k]! - lo[k]!) / range)) : 0.5;
        u[k] = Math.log(s / (1 - s));
      }
      return u;
    };
    // The LML alone at every trial point; its gradient (the O(n^3) inverse) only where accepted.
    const objective = {
      value: (u: Float64Array) => {
        toTheta(u);
        const lml = ml.evaluate(theta);
        return Number.isFinite(lml) ? -lml : NaN;
      },
      gradient: (gu: Float64Array) => {
        ml.gradient(gTheta);
        for (let k = 0; k < P; k++) gu[k] = -gTheta[k]! * (hi[k]! - lo[k]!) * sig[k]! * (1 - sig[k]!);
      },
    };

    const current = toLogParams(this.hyper);
    const lmlBefore = ml.evaluate(current);
    let bestLml = -Infinity;
    let best: Float64Array = current;
    let evaluations = 1;
    for (let s = 0; s < restarts; s++) {
      const start = s === 0 ? current : Float64Array.from({ length: P }, (_, k) => rng.uniformIn(lo[k]!, hi[k]!));
      let result;
      try {
        result = minimizeLbfgs(objective, toU(start), { maxIterations, gradientTolerance: 1e-4, relativeTolerance: 1e-7 });
      } catch (e) {
        if (e instanceof RangeError) continue; // start point where K cannot be factorised
        throw e;
      }
      evaluations += result.evaluations;
      if (-result.f > bestLml) {
        bestLml = -result.f;
        toTheta(result.x);
        best = Float64Array.from(theta);
      }
    }
    if (bestLml > lmlBefore || !Number.isFinite(lmlBefore)) this.hyper = this.withFloor(fromLogParams(best, D));
    this.refactorise();
    return { hyperparameters: this.hyperparameters, lmlBefore, lmlAfter: this.logMarginalLikelihood(), starts: restarts, evaluations };
  }

  /**
   * Conditions on one more observation without refitting: extends the factor by one row
   * (l = L^-1 k, l_nn = sqrt(k** - |l|^2)) and z = L^-1 y by one entry, O(n^2). Falls back to a
   * full refactorisation (with jitter retries) when the new pivot is numerically not positive.
   */
  addObservation(x: ArrayLike<number>, y: number, inputVariance?: ArrayLike<number>): void {
    const D = this.dims;
    if (x.length !== D) throw new RangeError(`addObservation: x needs ${D} values, got ${x.length}`);
    this.checkFinite(x, 'x');
    if (!Number.isFinite(y)) throw new RangeError(`addObservation: y must be finite, got ${y}`);
    if (inputVariance) {
      if (inputVariance.length !== D) throw new RangeError(`addObservation: inputVariance needs ${D} values, got ${inputVariance.length}`);
      this.checkVariance(inputVariance, 'inputVariance');
    }
    const n = this.count;
    this.ensureCapacity(n + 1);
    for (let d = 0; d < D; d++) {
      this.Xraw[n * D + d] = x[d]!;
      this.Vraw[n * D + d] = inputVariance?.[d] ?? 0;
    }
    this.yRaw[n] = y;
    this.normaliser.scaleInto(x, 1, this.hyper.lengthscales, this.Xs, n * D);
    this.ys[n] = this.standardiser.forward(y);
    this.count = n + 1;
    this.alphaStale = true;

    const s2 = this.hyper.signalVariance;
    const on = rowOffset(n);
    const L = this.L;
    // Row n of L: solve L_{n x n} l = k(X, x) in place.
    let ll = 0;
    let lz = 0;
    for (let i = 0; i < n; i++) {
      const oi = rowOffset(i);
      let r2 = 0;
      for (let d = 0; d < D; d++) {
        const t = this.Xs[i * D + d]! - this.Xs[n * D + d]!;
        r2 += t * t;
      }
      let s = s2 * correlation(this.kernel, r2);
      for (let k = 0; k < i; k++) s -= L[oi + k]! * L[on + k]!;
      const li = s / L[oi + i]!;
      L[on + i] = li;
      ll += li * li;
      lz += li * this.z[i]!;
    }
    const kss = s2 * (1 + this.inputTerm(n)) + this.hyper.noiseVariance + this.jitterUsed;
    const d2 = kss - ll;
    if (!(d2 > 1e-12 * kss)) {
      this.refactorise();
      return;
    }
    const lnn = Math.sqrt(d2);
    L[on + n] = lnn;
    const zn = (this.ys[n]! - lz) / lnn;
    this.z[n] = zn;
    this.zz += zn * zn;
    this.logDetHalf += Math.log(lnn);
  }

  /**
   * Posterior mean, variance and sd of the latent function at `count` points (row-major, dims
   * each), original units. `includeNoise` adds the observation noise to the variance.
   */
  predict(Xq: ArrayLike<number>, out?: Prediction, options: { includeNoise?: boolean } = {}): Prediction {
    const D = this.dims;
    if (Xq.length % D !== 0) throw new RangeError(`predict: Xq has ${Xq.length} values, not a multiple of dims = ${D}`);
    const q = Xq.length / D;
    const res = out ?? { mean: new Float64Array(q), variance: new Float64Array(q), sd: new Float64Array(q) };
    if (res.mean.length < q || res.variance.length < q || res.sd.length < q) throw new RangeError(`predict: out arrays need at least ${q} entries`);
    const n = this.count;
    const s2 = this.hyper.signalVariance;
    const addNoise = options.includeNoise ? this.hyper.noiseVariance : 0;
    const { mean: m0, sd: scale } = this.standardiser;
    const { lower, invRange } = this.normaliser;
    const ls = this.hyper.lengthscales;
    const L = this.L;
    const Xs = this.Xs;
    const z = this.z;
    const matern = this.kernel === 'matern52';
    // Four query points at a time: v = L^-1 k for each by row-wise dot products, interleaved so
    // that each factor entry is loaded once for four points and the sums stay in registers.
    const V = new Float64Array(n * 4);
    const Qs = new Float64Array(4 * D);
    for (let start = 0; start < q; start += 4) {
      const w = Math.min(4, q - start);
      for (let j = 0; j < 4; j++) {
        const src = start + Math.min(j, w - 1); // pad a short block with its last point
        for (let d = 0; d < D; d++) Qs[j * D + d] = ((Xq[src * D + d]! - lower[d]!) * invRange[d]!) / ls[d]!;
      }
      let mu0 = 0, mu1 = 0, mu2 = 0, mu3 = 0;
      let vv0 = 0, vv1 = 0, vv2 = 0, vv3 = 0;
      for (let i = 0; i < n; i++) {
        const xo = i * D;
        let r0 = 0, r1 = 0, r2 = 0, r3 = 0;
        for (let d = 0; d < D; d++) {
          const x = Xs[xo + d]!;
          const t0 = x - Qs[d]!;
          const t1 = x - Qs[D + d]!;
          const t2 = x - Qs[2 * D + d]!;
          const t3 = x - Qs[3 * D + d]!;
          r0 += t0 * t0;
          r1 += t1 * t1;
          r2 += t2 * t2;
          r3 += t3 * t3;
        }
        let k0 = s2 * (matern ? matern52(r0) : Math.exp(-0.5 * r0));
        let k1 = s2 * (matern ? matern52(r1) : Math.exp(-0.5 * r1));
        let k2 = s2 * (matern ? matern52(r2) : Math.exp(-0.5 * r2));
        let k3 = s2 * (matern ? matern52(r3) : Math.exp(-0.5 * r3));
        const oi = rowOffset(i);
        for (let k = 0; k < i; k++) {
          const l = L[oi + k]!;
          const b = 4 * k;
          k0 -= l * V[b]!;
          k1 -= l * V[b + 1]!;
          k2 -= l * V[b + 2]!;
          k3 -= l * V[b + 3]!;
        }
        const inv = 1 / L[oi + i]!;
        k0 *= inv;
        k1 *= inv;
        k2 *= inv;
        k3 *= inv;
        const b = 4 * i;
        V[b] = k0;
        V[b + 1] = k1;
        V[b + 2] = k2;
        V[b + 3] = k3;
        const zi = z[i]!;
        mu0 += k0 * zi;
        mu1 += k1 * zi;
        mu2 += k2 * zi;
        mu3 += k3 * zi;
        vv0 += k0 * k0;
        vv1 += k1 * k1;
        vv2 += k2 * k2;
        vv3 += k3 * k3;
      }
      const mus = [mu0, mu1, mu2, mu3];
      const vvs = [vv0, vv1, vv2, vv3];
      for (let j = 0; j < w; j++) {
        const varStd = Math.max(0, s2 - vvs[j]!) + addNoise;
        res.mean[start + j] = m0 + scale * mus[j]!;
        res.variance[start + j] = scale * scale * varStd;
        res.sd[start + j] = scale * Math.sqrt(varStd);
      }
    }
    return res;
  }

  /** Posterior mean only, O(n) per point through alpha = K^-1 y (recomputed lazily in O(n^2)). */
  predictMean(Xq: ArrayLike<number>, out?: Float64Array): Float64Array {
    const D = this.dims;
    if (Xq.length % D !== 0) throw new RangeError(`predictMean: Xq has ${Xq.length} values, not a multiple of dims = ${D}`);
    const q = Xq.length / D;
    const res = out ?? new Float64Array(q);
    const alpha = this.weights();
    const s2 = this.hyper.signalVariance;
    const x = this.scratch.x;
    for (let p = 0; p < q; p++) {
      for (let d = 0; d < D; d++) x[d] = ((Xq[p * D + d]! - this.normaliser.lower[d]!) * this.normaliser.invRange[d]!) / this.hyper.lengthscales[d]!;
      let m = 0;
      for (let i = 0; i < this.count; i++) {
        let r2 = 0;
        for (let d = 0; d < D; d++) {
          const t = this.Xs[i * D + d]! - x[d]!;
          r2 += t * t;
        }
        m += alpha[i]! * s2 * correlation(this.kernel, r2);
      }
      res[p] = this.standardiser.mean + this.standardiser.sd * m;
    }
    return res;
  }

  /** alpha = K^-1 y (standardised targets), length n; a view valid until the next change. */
  weights(): Float64Array {
    if (this.alphaStale) {
      const a = this.alpha.subarray(0, this.count);
      a.set(this.z.subarray(0, this.count));
      backSubstitute(this.L, this.count, a);
      this.alphaStale = false;
    }
    return this.alpha.subarray(0, this.count);
  }

  /** Log marginal likelihood of the standardised targets under the current hyperparameters. */
  logMarginalLikelihood(): number {
    return -0.5 * this.zz - this.logDetHalf - 0.5 * this.count * LOG_2PI;
  }

  // ---- read access for PosteriorPool (same package) ----

  /** Row i of the packed factor (entries 0..i); a view valid until the next refactorisation. */
  factorRow(i: number): Float64Array {
    return this.L.subarray(rowOffset(i), rowOffset(i) + i + 1);
  }

  /** z_i = (L^-1 y_std)_i. */
  whitenedTarget(i: number): number {
    return this.z[i]!;
  }

  /** Observation i's input, normalised and divided by the length scales (a view). */
  scaledInput(i: number): Float64Array {
    return this.Xs.subarray(i * this.dims, (i + 1) * this.dims);
  }

  /** Observation i's input in original units (a view). */
  rawInput(i: number): Float64Array {
    return this.Xraw.subarray(i * this.dims, (i + 1) * this.dims);
  }

  /** Writes the scaled coordinates (see scaledInput) of `count` raw points into out. */
  scaleInputsInto(X: ArrayLike<number>, count: number, out: Float64Array): Float64Array {
    return this.normaliser.scaleInto(X, count, this.hyper.lengthscales, out);
  }

  // ---- internals ----

  /** A fresh object of one shape (not a spread of h's): the hot paths that read it stay monomorphic. */
  private withFloor(h: Hyperparameters): Hyperparameters {
    return { lengthscales: h.lengthscales, signalVariance: h.signalVariance, noiseVariance: Math.max(h.noiseVariance, this.noiseFloor) };
  }

  /** kappa q_i = kappa sum_d v_id / l_d^2 in normalised units: observation i's input noise over s2. */
  private inputTerm(i: number): number {
    const D = this.dims;
    const r = this.normaliser.invRange;
    const ls = this.hyper.lengthscales;
    let q = 0;
    for (let d = 0; d < D; d++) q += (this.Vraw[i * D + d]! * r[d]! * r[d]!) / (ls[d]! * ls[d]!);
    return curvature(this.kernel) * q;
  }

  private checkVariance(v: ArrayLike<number>, name: string): void {
    for (let i = 0; i < v.length; i++) if (!(v[i]! >= 0) || !Number.isFinite(v[i]!)) throw new RangeError(`${name}[${i}]: must be a finite number >= 0, got ${v[i]}`);
  }

  private checkFinite(v: ArrayLike<number>, name: string): void {
    for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) throw new RangeError(`${name}[${i}]: must be finite, got ${v[i]}`);
  }

  private refreshTransforms(): void {
    if (!this.fixedBounds) this.normaliser = InputNormaliser.fromData(this.dims, this.Xraw, this.count);
    this.standardiser = OutputStandardiser.fromData(this.yRaw, this.count);
  }

  private ensureCapacity(n: number): void {
    if (n <= this.capacity) return;
    const cap = Math.max(16, n, this.capacity * 2);
    const D = this.dims;
    const grow = (a: Float64Array, len: number) => {
      const b = new Float64Array(len);
      b.set(a);
      return b;
    };
    this.Xraw = grow(this.Xraw, cap * D);
    this.yRaw = grow(this.yRaw, cap);
    this.Vraw = grow(this.Vraw, cap * D);
    this.Xs = grow(this.Xs, cap * D);
    this.ys = grow(this.ys, cap);
    this.L = grow(this.L, packedLength(cap));
    this.z = grow(this.z, cap);
    this.alpha = new Float64Array(cap);
    this.alphaStale = true;
    this.capacity = cap;
  }

  /**
   * Factorises the current data from scratch, O(n^3), keeping the transforms and hyperparameters:
   * the dense path that `addObservation` is exact against (tests, benchmark, recovery).
   */
  refactorise(): void {
    const n = this.count;
    const D = this.dims;
    const { signalVariance: s2, noiseVariance: noise, lengthscales } = this.hyper;
    this.normaliser.scaleInto(this.Xraw, n, lengthscales, this.Xs);
    for (let i = 0; i < n; i++) this.ys[i] = this.standardiser.forward(this.yRaw[i]!);
    const K = new Float64Array(packedLength(n));
    for (let i = 0; i < n; i++) {
      const oi = rowOffset(i);
      for (let j = 0; j < i; j++) {
        let r2 = 0;
        for (let d = 0; d < D; d++) {
          const t = this.Xs[i * D + d]! - this.Xs[j * D + d]!;
          r2 += t * t;
        }
        K[oi + j] = s2 * correlation(this.kernel, r2);
      }
      K[oi + i] = s2 * (1 + this.inputTerm(i)) + noise;
    }
    let result;
    try {
      result = choleskyWithJitter(K, n);
    } catch (e) {
      if (e instanceof CholeskyError) throw new CholeskyError(`GaussianProcess: cannot factorise the kernel matrix of ${n} observations: ${e.message}`, e.order, e.jitter);
      throw e;
    }
    this.L.set(result.factor);
    this.jitterUsed = result.jitter;
    const z = this.z.subarray(0, n);
    z.set(this.ys.subarray(0, n));
    forwardSubstitute(this.L, n, z);
    this.zz = 0;
    this.logDetHalf = 0;
    for (let i = 0; i < n; i++) {
      this.zz += z[i]! * z[i]!;
      this.logDetHalf += Math.log(this.L[rowOffset(i) + i]!);
    }
    this.alphaStale = true;
    this.factorVersion++;
  }
}
