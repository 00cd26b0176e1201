import { fc, test } from '@fast-check/vitest';
import { CholeskyDecomposition, EigenvalueDecomposition, Matrix, inverse } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/protocol/random.js';
import {
  backSubstitute,
  CholeskyError,
  choleskyWithJitter,
  correlation,
  choleskySolve,
  forwardSubstitute,
  forwardSubstituteRows,
  invertLowerPacked,
  lengthscaleGradientFactor,
  GaussianProcess,
  inverseFromCholesky,
  kernelMatrix,
  MarginalLikelihood,
  minimizeLbfgs,
  packedLength,
  PosteriorPool,
  rowOffset,
  type Hyperparameters,
  type KernelName,
} from '../../src/policy/gp/index.js';

function toPacked(A: Matrix): Float64Array {
  const n = A.rows;
  const out = new Float64Array(packedLength(n));
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) out[rowOffset(i) + j] = A.get(i, j);
  return out;
}

function randomSpd(rng: Rng, n: number): Matrix {
  const B = Matrix.zeros(n, n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) B.set(i, j, rng.normal());
  return B.mmul(B.transpose()).add(Matrix.eye(n, n).mul(0.5));
}

function randomPoints(rng: Rng, n: number, dims: number): Float64Array {
  return Float64Array.from({ length: n * dims }, () => rng.uniform());
}

/** A smooth test function on the unit cube, in "eV". */
function target(x: ArrayLike<number>, dims: number, offset = 0): number {
  let s = 15;
  for (let d = 0; d < dims; d++) s += Math.sin(3 * x[offset + d]! + d) * (1 + 0.3 * d);
  return s;
}

function targets(X: Float64Array, dims: number): Float64Array {
  const n = X.length / dims;
  return Float64Array.from({ length: n }, (_, i) => target(X, dims, i * dims));
}

const HYPER3: Hyperparameters = { lengthscales: Float64Array.of(0.4, 0.7, 0.25), signalVariance: 1.3, noiseVariance: 1e-3 };

/** Dense reference posterior (ml-matrix), with the same transforms as the GP: unit bounds, standardised y. */
function densePosterior(
  kernel: KernelName,
  h: Hyperparameters,
  X: Float64Array,
  y: Float64Array,
  Q: Float64Array,
  dims: number,
  standardiser?: { mean: number; sd: number },
  inputVariance?: Float64Array,
) {
  const n = y.length;
  const scale = (P: Float64Array) => P.map((v, i) => v / h.lengthscales[i % dims]!);
  const Xs = scale(X);
  const Qs = scale(Q);
  const mean = standardiser?.mean ?? y.reduce((a, b) => a + b, 0) / n;
  const sd = standardiser?.sd ?? Math.sqrt(y.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  const ys = Matrix.columnVector(Array.from(y, (v) => (v - mean) / sd));
  const K = new Matrix(n, n);
  const kxx = kernelMatrix(kernel, h.signalVariance, Xs, Xs, dims);
  // Noisy inputs: s2 kappa sum_d v_d / l_d^2 on the diagonal (unit input bounds).
  const kappa = kernel === 'rbf' ? 1 : 5 / 3;
  const inputNoise = (i: number) => {
    let q = 0;
    for (let d = 0; d < dims; d++) q += (inputVariance?.[i * dims + d] ?? 0) / h.lengthscales[d]! ** 2;
    return h.signalVariance * kappa * q;
  };
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) K.set(i, j, kxx[i * n + j]! + (i === j ? h.noiseVariance + inputNoise(i) : 0));
  const q = Q.length / dims;
  const kq = kernelMatrix(kernel, h.signalVariance, Qs, Xs, dims);
  const Kq = new Matrix(q, n);
  for (let p = 0; p < q; p++) for (let i = 0; i < n; i++) Kq.set(p, i, kq[p * n + i]!);
  const Kinv = inverse(K);
  const alpha = Kinv.mmul(ys);
  const mu = Kq.mmul(alpha);
  const V = Kq.mmul(Kinv).mmul(Kq.transpose());
  const chol = new CholeskyDecomposition(K);
  let logDet = 0;
  for (let i = 0; i < n; i++) logDet += 2 * Math.log(chol.lowerTriangularMatrix.get(i, i));
  const lml = -0.5 * ys.transpose().mmul(alpha).get(0, 0) - 0.5 * logDet - 0.5 * n * Math.log(2 * Math.PI);
  return {
    mean: Array.from({ length: q }, (_, p) => mean + sd * mu.get(p, 0)),
    variance: Array.from({ length: q }, (_, p) => sd * sd * (h.signalVariance - V.get(p, p))),
    lml,
    alpha: alpha.to1DArray(),
  };
}

/** The analytic LML gradient at p against central finite differences. */
function expectGradientMatchesDifferences(ml: MarginalLikelihood, p: Float64Array): void {
  const g = new Float64Array(p.length);
  ml.evaluate(p, g);
  for (let k = 0; k < p.length; k++) {
    const h = 1e-5;
    const up = p.slice();
    const dn = p.slice();
    up[k]! += h;
    dn[k]! -= h;
    const fd = (ml.evaluate(up) - ml.evaluate(dn)) / (2 * h);
    expect(Math.abs(g[k]! - fd)).toBeLessThan(1e-5 * Math.max(1, Math.abs(fd)));
  }
}

function unitBounds(dims: number) {
  return { lower: new Float64Array(dims), upper: new Float64Array(dims).fill(1) };
}

function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, scaleFloor = 1): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    const err = Math.abs(a[i]! - b[i]!) / Math.max(scaleFloor, Math.abs(b[i]!));
    if (!(err <= tol)) throw new Error(`entry ${i}: ${a[i]} vs ${b[i]} (relative error ${err} > ${tol})`);
  }
}

describe('Cholesky and triangular solves (packed)', () => {
  it('match ml-matrix on random SPD matrices', () => {
    const rng = new Rng('chol');
    for (const n of [1, 2, 3, 4, 5, 8, 11, 17, 40, 63]) {
      const A = randomSpd(rng, n);
      const { factor, jitter } = choleskyWithJitter(toPacked(A), n);
      expect(jitter).toBe(0);
      expectClose(factor, toPacked(new CholeskyDecomposition(A).lowerTriangularMatrix), 1e-10);
      const b = Float64Array.from({ length: n }, () => rng.normal());
      const ref = new CholeskyDecomposition(A).solve(Matrix.columnVector(Array.from(b))).to1DArray();
      expectClose(backSubstitute(factor, n, forwardSubstitute(factor, n, b.slice())), ref, 1e-9);
      expectClose(choleskySolve(factor, n, b.slice()), ref, 1e-9);
      const Lm = new CholeskyDecomposition(A).lowerTriangularMatrix;
      expectClose(invertLowerPacked(factor, n), toPacked(inverse(Lm)), 1e-8);
      expectClose(inverseFromCholesky(factor, n), toPacked(inverse(A)), 1e-8);
    }
  });

  it('forwardSubstituteRows solves many right-hand sides like forwardSubstitute does one', () => {
    const rng = new Rng('rows');
    const n = 12;
    const q = 7;
    const { factor } = choleskyWithJitter(toPacked(randomSpd(rng, n)), n);
    const B = Float64Array.from({ length: n * q }, () => rng.normal());
    const solved = forwardSubstituteRows(factor, n, B.slice(), q);
    for (let p = 0; p < q; p++) {
      const col = Float64Array.from({ length: n }, (_, i) => B[i * q + p]!);
      expectClose(Float64Array.from({ length: n }, (_, i) => solved[i * q + p]!), forwardSubstitute(factor, n, col), 1e-12);
    }
  });

  it('adds growing jitter to a singular PSD matrix and reports it', () => {
    const n = 6;
    const ones = toPacked(Matrix.ones(n, n));
    const { factor, jitter } = choleskyWithJitter(ones, n);
    expect(jitter).toBeGreaterThan(0);
    expect(jitter).toBeLessThan(1e-2);
    for (let i = 0; i < n; i++) expect(factor[rowOffset(i) + i]).toBeGreaterThan(0);
  });

  it('throws a clear CholeskyError after the last retry', () => {
    const A = toPacked(Matrix.eye(3, 3).mul(-1));
    expect(() => choleskyWithJitter(A, 3)).toThrow(CholeskyError);
    expect(() => choleskyWithJitter(A, 3)).toThrow(/not positive definite even with jitter/);
  });
});

describe('kernels', () => {
  test.prop([fc.integer({ min: 1, max: 25 }), fc.integer({ min: 1, max: 5 }), fc.constantFrom<KernelName>('matern52', 'rbf'), fc.integer()])(
    'kernel matrices are symmetric and positive semi-definite',
    (n, dims, kernel, seed) => {
      const rng = new Rng(seed);
      const P = randomPoints(rng, n, dims).map((v) => v / 0.3);
      const K = kernelMatrix(kernel, 2, P, P, dims);
      for (let i = 0; i < n; i++) {
        expect(K[i * n + i]).toBeCloseTo(2, 12);
        for (let j = 0; j < n; j++) expect(K[i * n + j]).toBe(K[j * n + i]);
      }
      const eig = new EigenvalueDecomposition(new Matrix(Array.from({ length: n }, (_, i) => Array.from(K.subarray(i * n, (i + 1) * n)))));
      for (const ev of eig.realEigenvalues) expect(ev).toBeGreaterThan(-1e-9 * n);
    },
  );

  it('Matern 5/2 and RBF have their closed forms', () => {
    const r = 0.8;
    expect(correlation('matern52', r * r)).toBeCloseTo((1 + Math.sqrt(5) * r + (5 / 3) * r * r) * Math.exp(-Math.sqrt(5) * r), 14);
    expect(correlation('rbf', r * r)).toBeCloseTo(Math.exp(-0.32), 14);
    expect(correlation('matern52', 0)).toBe(1);
  });

  it('the length-scale gradient factor is -2 dk/d(r^2) (d r^2 / d log l = -2 r^2 in one dimension)', () => {
    for (const kernel of ['matern52', 'rbf'] as const) {
      for (const r2 of [0.01, 0.3, 2, 7]) {
        const h = 1e-6;
        const dk = (correlation(kernel, r2 + h) - correlation(kernel, r2 - h)) / (2 * h);
        expect(lengthscaleGradientFactor(kernel, r2)).toBeCloseTo(-2 * dk, 7);
      }
    }
  });
});

describe('GaussianProcess against a dense ml-matrix solve', () => {
  for (const kernel of ['matern52', 'rbf'] as const) {
    it(`${kernel}: posterior mean, variance and log marginal likelihood`, () => {
      const rng = new Rng(`dense-${kernel}`);
      const dims = 3;
      const X = randomPoints(rng, 30, dims);
      const y = targets(X, dims);
      const Q = randomPoints(rng, 15, dims);
      const gp = new GaussianProcess({ dims, kernel, inputBounds: unitBounds(dims), initial: HYPER3 });
      gp.setData(X, y);
      const ref = densePosterior(kernel, HYPER3, X, y, Q, dims);
      const pred = gp.predict(Q);
      expectClose(pred.mean, ref.mean, 1e-9);
      expectClose(pred.variance, ref.variance, 1e-8, 1e-3);
      expectClose(pred.sd, pred.variance.map(Math.sqrt), 1e-12);
      expect(gp.logMarginalLikelihood()).toBeCloseTo(ref.lml, 8);
      expectClose(gp.weights(), ref.alpha, 1e-8);
      expectClose(gp.predictMean(Q), ref.mean, 1e-9);
      expect(new MarginalLikelihood(kernel, dims, 30, X, Float64Array.from(y, (v) => (v - gp.outputMean) / gp.outputScale)).evaluate(
        [...Array.from(HYPER3.lengthscales, Math.log), Math.log(HYPER3.signalVariance), Math.log(HYPER3.noiseVariance)],
      )).toBeCloseTo(ref.lml, 8);
    });
  }
});

describe('GaussianProcess with noisy inputs', () => {
  const variances = (rng: Rng, n: number, dims: number) => Float64Array.from({ length: n * dims }, () => (0.02 * rng.uniform()) ** 2);

  for (const kernel of ['matern52', 'rbf'] as const) {
    it(`${kernel}: posterior and LML match a dense solve with each input's variance on the diagonal`, () => {
      const rng = new Rng(`noisy-${kernel}`);
      const dims = 3;
      const X = randomPoints(rng, 30, dims);
      const y = targets(X, dims);
      const V = variances(rng, 30, dims);
      const Q = randomPoints(rng, 12, dims);
      const gp = new GaussianProcess({ dims, kernel, inputBounds: unitBounds(dims), initial: HYPER3 });
      gp.setData(X, y, undefined, V);
      const ref = densePosterior(kernel, HYPER3, X, y, Q, dims, undefined, V);
      const plain = densePosterior(kernel, HYPER3, X, y, Q, dims);
      const pred = gp.predict(Q);
      expectClose(pred.mean, ref.mean, 1e-9);
      expectClose(pred.variance, ref.variance, 1e-8, 1e-3);
      expect(gp.logMarginalLikelihood()).toBeCloseTo(ref.lml, 8);
      // The input noise matters: the exact-input posterior is measurably different.
      expect(Math.max(...pred.mean.map((m, i) => Math.abs(m - plain.mean[i]!)))).toBeGreaterThan(1e-3);
      expect(gp.data().inputVariance).toEqual(V);
      // Rank-1 updates with input variances equal the full solve.
      const inc = new GaussianProcess({ dims, kernel, inputBounds: unitBounds(dims), initial: HYPER3 });
      inc.setData(X.subarray(0, 10 * dims), y.subarray(0, 10), undefined, V.subarray(0, 10 * dims));
      for (let i = 10; i < 30; i++) inc.addObservation(X.subarray(i * dims, (i + 1) * dims), y[i]!, V.subarray(i * dims, (i + 1) * dims));
      const refInc = densePosterior(kernel, HYPER3, X, y, Q, dims, { mean: inc.outputMean, sd: inc.outputScale }, V);
      const p = inc.predict(Q);
      expectClose(p.mean, refInc.mean, 1e-9);
      expectClose(p.variance, refInc.variance, 1e-9, 1e-2);
      expect(inc.logMarginalLikelihood()).toBeCloseTo(refInc.lml, 8);
    });
  }

  it('the LML gradient with input variances matches central finite differences', () => {
    const rng = new Rng('grad-noisy');
    for (const kernel of ['matern52', 'rbf'] as const) {
      const dims = 3;
      const X = randomPoints(rng, 25, dims);
      const y = targets(X, dims);
      const m = y.reduce((a, b) => a + b) / y.length;
      const V = variances(rng, 25, dims).map((v) => v * 20);
      const ml = new MarginalLikelihood(kernel, dims, 25, X, y.map((v) => v - m), V);
      const p = Float64Array.of(Math.log(0.4), Math.log(0.8), Math.log(0.3), Math.log(1.5), Math.log(0.01));
      expectGradientMatchesDifferences(ml, p);
      // ... and the input term changes the likelihood.
      expect(ml.evaluate(p)).not.toBeCloseTo(new MarginalLikelihood(kernel, dims, 25, X, y.map((v) => v - m)).evaluate(p), 3);
    }
  });

  it('names a bad input variance', () => {
    const gp = new GaussianProcess({ dims: 2, kernel: 'rbf', inputBounds: unitBounds(2) });
    expect(() => gp.setData([0.1, 0.2], [1], undefined, [0.01])).toThrow(/inputVariance has 1 values, expected the same as X \(2\)/);
    expect(() => gp.setData([0.1, 0.2], [1], undefined, [0.01, -1])).toThrow(/inputVariance\[1\]: must be a finite number >= 0/);
    gp.setData([0.1, 0.2], [1]);
    expect(() => gp.addObservation([0.3, 0.4], 2, [NaN, 0])).toThrow(/inputVariance\[0\]/);
    expect(gp.n).toBe(1);
  });
});

describe('GaussianProcess closed forms', () => {
  const h1: Hyperparameters = { lengthscales: Float64Array.of(0.5, 0.5), signalVariance: 2, noiseVariance: 0.1 };

  it('one observation: mean is the observation, variance s2 - k^2 / (s2 + noise)', () => {
    const gp = new GaussianProcess({ dims: 2, kernel: 'rbf', inputBounds: unitBounds(2), initial: h1 });
    gp.setData([0.2, 0.3], [7]);
    const q = [0.2, 0.3, 0.6, 0.1];
    const { mean, variance } = gp.predict(q);
    const k = 2 * Math.exp(-0.5 * ((0.4 / 0.5) ** 2 + (0.2 / 0.5) ** 2));
    expect(mean[0]).toBeCloseTo(7, 12);
    expect(mean[1]).toBeCloseTo(7, 12);
    expect(variance[0]).toBeCloseTo(2 - 4 / 2.1, 12);
    expect(variance[1]).toBeCloseTo(2 - (k * k) / 2.1, 12);
    expect(gp.logMarginalLikelihood()).toBeCloseTo(-0.5 * Math.log(2 * Math.PI * 2.1), 12);
  });

  it('two observations: mean from the 2 x 2 inverse', () => {
    const gp = new GaussianProcess({ dims: 2, kernel: 'rbf', inputBounds: unitBounds(2), initial: h1 });
    gp.setData([0.1, 0.1, 0.4, 0.2], [1, 3]);
    // Standardised targets are -1/sqrt(2) and +1/sqrt(2) (mean 2, sd sqrt(2)).
    const k12 = 2 * Math.exp(-0.5 * ((0.3 / 0.5) ** 2 + (0.1 / 0.5) ** 2));
    const a = 2.1;
    const det = a * a - k12 * k12;
    const ys = [-Math.SQRT1_2, Math.SQRT1_2];
    const alpha = [(a * ys[0]! - k12 * ys[1]!) / det, (-k12 * ys[0]! + a * ys[1]!) / det];
    const x = [0.3, 0.5];
    const k1 = 2 * Math.exp(-0.5 * ((0.2 / 0.5) ** 2 + (0.4 / 0.5) ** 2));
    const k2 = 2 * Math.exp(-0.5 * ((0.1 / 0.5) ** 2 + (0.3 / 0.5) ** 2));
    expect(gp.predict(x).mean[0]).toBeCloseTo(2 + Math.SQRT2 * (k1 * alpha[0]! + k2 * alpha[1]!), 12);
  });

  it('noise-free data are interpolated with (almost) zero variance', () => {
    const rng = new Rng('interp');
    const X = randomPoints(rng, 12, 2);
    const y = targets(X, 2);
    const gp = new GaussianProcess({ dims: 2, kernel: 'matern52', inputBounds: unitBounds(2), noiseFloor: 1e-10, initial: { ...h1, noiseVariance: 1e-10 } });
    gp.setData(X, y);
    const { mean, variance } = gp.predict(X);
    expectClose(mean, y, 1e-6);
    for (const v of variance) expect(v).toBeLessThan(1e-6);
  });

  it('far from the data the prediction is the prior: output mean and signal variance', () => {
    const rng = new Rng('far');
    const X = randomPoints(rng, 10, 2);
    const y = targets(X, 2);
    const gp = new GaussianProcess({ dims: 2, kernel: 'matern52', inputBounds: unitBounds(2), initial: { ...h1, lengthscales: Float64Array.of(0.05, 0.05) } });
    gp.setData(X, y);
    const { mean, variance } = gp.predict([50, -40]);
    expect(mean[0]).toBeCloseTo(gp.outputMean, 10);
    expect(variance[0]).toBeCloseTo(2 * gp.outputScale ** 2, 10);
    const empty = new GaussianProcess({ dims: 2, kernel: 'rbf', initial: h1 });
    expect(Array.from(empty.predict([0.5, 0.5]).variance)).toEqual([2]);
  });

  it('normalising inputs from the data makes predictions invariant to an affine change of units', () => {
    const rng = new Rng('affine');
    const X = randomPoints(rng, 15, 2);
    const y = targets(X, 2);
    const Q = randomPoints(rng, 5, 2);
    const a = new GaussianProcess({ dims: 2, kernel: 'matern52', initial: h1 });
    const b = new GaussianProcess({ dims: 2, kernel: 'matern52', initial: h1 });
    a.setData(X, y);
    b.setData(
      X.map((v) => 10 * v - 3),
      y,
    );
    expectClose(b.predict(Q.map((v) => 10 * v - 3)).mean, a.predict(Q).mean, 1e-10);
  });
});

describe('rank-1 updates', () => {
  test.prop([fc.integer(), fc.integer({ min: 0, max: 12 }), fc.integer({ min: 1, max: 25 }), fc.constantFrom<KernelName>('matern52', 'rbf')], { numRuns: 25 })(
    'the updated posterior equals a full refactorisation (1e-9)',
    (seed, n0, adds, kernel) => {
      const rng = new Rng(seed);
      const dims = 3;
      const X = randomPoints(rng, n0 + adds, dims);
      const y = targets(X, dims).map((v) => v + 0.05 * rng.normal());
      const Q = randomPoints(rng, 9, dims);
      const inc = new GaussianProcess({ dims, kernel, inputBounds: unitBounds(dims), initial: HYPER3 });
      inc.setData(X.subarray(0, n0 * dims), y.subarray(0, n0));
      for (let i = n0; i < n0 + adds; i++) inc.addObservation(X.subarray(i * dims, (i + 1) * dims), y[i]!);
      expect(inc.version).toBe(1);
      const p = inc.predict(Q);
      const lml = inc.logMarginalLikelihood();
      const alpha = inc.weights().slice();
      // Against a direct dense solve with the same (frozen) transforms and hyperparameters...
      const ref = densePosterior(kernel, HYPER3, X, y, Q, dims, { mean: inc.outputMean, sd: inc.outputScale });
      expectClose(p.mean, ref.mean, 1e-9);
      expectClose(p.variance, ref.variance, 1e-9, 1e-2);
      expect(Math.abs(lml - ref.lml)).toBeLessThan(1e-9 * Math.max(1, Math.abs(ref.lml)));
      // ...and against our own full refactorisation.
      inc.refactorise();
      const r = inc.predict(Q);
      expectClose(p.mean, r.mean, 1e-9);
      expectClose(p.variance, r.variance, 1e-9, 1e-2);
      expectClose(alpha, inc.weights(), 1e-9);
      expect(Math.abs(lml - inc.logMarginalLikelihood())).toBeLessThan(1e-9 * Math.max(1, Math.abs(lml)));
    },
  );

  it('falls back to a refactorisation for a duplicate noise-free point instead of failing', () => {
    const gp = new GaussianProcess({ dims: 1, kernel: 'rbf', noiseFloor: 0, inputBounds: unitBounds(1), initial: { lengthscales: Float64Array.of(0.3), signalVariance: 1, noiseVariance: 0 } });
    gp.setData([0.1, 0.5], [1, 2]);
    const v = gp.version;
    gp.addObservation([0.5], 2);
    expect(gp.version).toBe(v + 1);
    expect(gp.jitter).toBeGreaterThan(0);
    expect(gp.predict([0.5]).mean[0]).toBeCloseTo(2, 6);
  });
});

describe('PosteriorPool', () => {
  it('tracks the GP posterior and nearest distances through updates and refits', () => {
    const rng = new Rng('pool');
    const dims = 3;
    const X = randomPoints(rng, 40, dims);
    const y = targets(X, dims);
    const gp = new GaussianProcess({ dims, kernel: 'matern52', inputBounds: unitBounds(dims), initial: HYPER3 });
    const points = randomPoints(rng, 50, dims);
    const pool = new PosteriorPool(gp, points);
    expect(Array.from(pool.nearestObservedDistance()).every((d) => d === Infinity)).toBe(true);
    gp.setData(X.subarray(0, 10 * dims), y.subarray(0, 10));
    const check = () => {
      const { mean, variance } = pool.posterior();
      const ref = gp.predict(points);
      expectClose(mean, ref.mean, 1e-10);
      expectClose(variance, ref.variance, 1e-9, 1e-2);
      const { X: seen } = gp.data();
      const near = pool.nearestObservedDistance();
      for (let p = 0; p < 50; p++) {
        let best = Infinity;
        for (let i = 0; i < gp.n; i++) best = Math.min(best, Math.hypot(...Array.from({ length: dims }, (_, d) => points[p * dims + d]! - seen[i * dims + d]!)));
        expect(near[p]).toBeCloseTo(best, 12);
      }
    };
    check();
    for (let i = 10; i < 25; i++) {
      gp.addObservation(X.subarray(i * dims, (i + 1) * dims), y[i]!);
      if (i % 4 === 0) check();
    }
    expect(pool.observations).toBe(25);
    gp.fit(new Rng(3), { restarts: 2, maxIterations: 20 });
    check();
    for (let i = 25; i < 40; i++) gp.addObservation(X.subarray(i * dims, (i + 1) * dims), y[i]!);
    check();
    // Data replaced by other inputs (fewer, and not a prefix): the distances start afresh.
    gp.setData(X.subarray(30 * dims, 38 * dims), y.subarray(30, 38));
    check();
    gp.setData(X.subarray(0, 12 * dims), y.subarray(0, 12));
    check();
  });

  it('rejects points that do not match the GP dimension', () => {
    const gp = new GaussianProcess({ dims: 3, kernel: 'rbf' });
    expect(() => new PosteriorPool(gp, [0.1, 0.2])).toThrow(/multiple of dims = 3/);
  });
});

describe('hyperparameter fitting', () => {
  it('the analytic LML gradient matches central finite differences', () => {
    const rng = new Rng('grad');
    for (const kernel of ['matern52', 'rbf'] as const) {
      const dims = 3;
      const X = randomPoints(rng, 25, dims);
      const y = targets(X, dims);
      const m = y.reduce((a, b) => a + b) / y.length;
      const ml = new MarginalLikelihood(kernel, dims, 25, X, y.map((v) => v - m));
      const p = Float64Array.of(Math.log(0.4), Math.log(0.8), Math.log(0.3), Math.log(1.5), Math.log(0.01));
      expectGradientMatchesDifferences(ml, p);
    }
  });

  it('fitting raises the log marginal likelihood and keeps hyperparameters within bounds', () => {
    const rng = new Rng('fit');
    const dims = 3;
    const X = randomPoints(rng, 40, dims);
    const y = targets(X, dims).map((v) => v + 0.02 * rng.normal());
    const gp = new GaussianProcess({ dims, kernel: 'matern52', inputBounds: unitBounds(dims), initial: { lengthscales: Float64Array.of(5, 5, 5), signalVariance: 0.05, noiseVariance: 0.5 } });
    gp.setData(X, y);
    const before = gp.logMarginalLikelihood();
    const res = gp.fit(new Rng(11), { restarts: 3 });
    expect(res.lmlBefore).toBeCloseTo(before, 9);
    expect(res.lmlAfter).toBeGreaterThan(before + 10);
    expect(gp.logMarginalLikelihood()).toBeCloseTo(res.lmlAfter, 12);
    const h = gp.hyperparameters;
    for (const l of h.lengthscales) expect(l).toBeGreaterThanOrEqual(0.02 * (1 - 1e-9));
    expect(h.noiseVariance).toBeLessThan(0.05);
    expect(h.noiseVariance).toBeGreaterThanOrEqual(1e-6);
  });

  it('is deterministic by seed', () => {
    const rng = new Rng('det');
    const dims = 2;
    const X = randomPoints(rng, 30, dims);
    const y = targets(X, dims);
    const run = (seed: number) => {
      const gp = new GaussianProcess({ dims, kernel: 'rbf', inputBounds: unitBounds(dims) });
      gp.setData(X, y);
      gp.fit(new Rng(seed), { restarts: 4 });
      return gp.hyperparameters;
    };
    const a = run(5);
    const b = run(5);
    expect(Array.from(a.lengthscales)).toEqual(Array.from(b.lengthscales));
    expect(a.signalVariance).toBe(b.signalVariance);
    expect(a.noiseVariance).toBe(b.noiseVariance);
  });

  it('L-BFGS minimises the Rosenbrock function', () => {
    const res = minimizeLbfgs(
      (x, g) => {
        const [a, b] = [x[0]!, x[1]!];
        g[0] = -2 * (1 - a) - 400 * a * (b - a * a);
        g[1] = 200 * (b - a * a);
        return (1 - a) ** 2 + 100 * (b - a * a) ** 2;
      },
      [-1.2, 1],
      { maxIterations: 200, gradientTolerance: 1e-8, relativeTolerance: 0 },
    );
    expect(res.x[0]).toBeCloseTo(1, 5);
    expect(res.x[1]).toBeCloseTo(1, 5);
  });

  it('L-BFGS with a split objective takes the same steps, asking for gradients only at accepted points', () => {
    const f = (x: Float64Array) => (1 - x[0]!) ** 2 + 100 * (x[1]! - x[0]! ** 2) ** 2;
    const grad = (x: Float64Array, g: Float64Array) => {
      const [a, b] = [x[0]!, x[1]!];
      g[0] = -2 * (1 - a) - 400 * a * (b - a * a);
      g[1] = 200 * (b - a * a);
    };
    const options = { maxIterations: 200, gradientTolerance: 1e-8, relativeTolerance: 0 };
    const plain = minimizeLbfgs((x, g) => (grad(x, g), f(x)), [-1.2, 1], options);
    let at = new Float64Array(2);
    let gradients = 0;
    const split = minimizeLbfgs(
      {
        value: (x) => ((at = Float64Array.from(x)), f(x)),
        gradient: (g) => (gradients++, grad(at, g)),
      },
      [-1.2, 1],
      options,
    );
    expect(Array.from(split.x)).toEqual(Array.from(plain.x));
    expect(split.evaluations).toBe(plain.evaluations);
    // One gradient at the start, then one per accepted step: fewer than the evaluations here.
    expect(gradients).toBe(split.iterations + 1);
    expect(gradients).toBeLessThan(split.evaluations);
  });
});

describe('GaussianProcess properties and input checks', () => {
  test.prop([fc.integer(), fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 4 }), fc.constantFrom<KernelName>('matern52', 'rbf')], { numRuns: 40 })(
    'predictive variance is >= 0 and <= the prior variance',
    (seed, n, dims, kernel) => {
      const rng = new Rng(seed);
      const X = randomPoints(rng, n, dims);
      const y = Float64Array.from({ length: n }, () => rng.normal(10, 2));
      const h: Hyperparameters = { lengthscales: Float64Array.from({ length: dims }, () => rng.uniformIn(0.05, 2)), signalVariance: rng.uniformIn(0.1, 3), noiseVariance: rng.uniformIn(1e-6, 0.1) };
      const gp = new GaussianProcess({ dims, kernel, initial: h });
      gp.setData(X, y);
      const { variance } = gp.predict(randomPoints(rng, 20, dims));
      const prior = h.signalVariance * gp.outputScale ** 2;
      for (const v of variance) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(prior * (1 + 1e-12));
      }
    },
  );

  it('names the bad argument', () => {
    expect(() => new GaussianProcess({ dims: 0, kernel: 'rbf' })).toThrow(/dims/);
    expect(() => new GaussianProcess({ dims: 2, kernel: 'cubic' as KernelName })).toThrow(/kernel: must be one of/);
    expect(() => new GaussianProcess({ dims: 2, kernel: 'rbf', noiseFloor: -1 })).toThrow(/noiseFloor/);
    expect(() => new GaussianProcess({ dims: 2, kernel: 'rbf', initial: { ...HYPER3 } })).toThrow(/initial.lengthscales: needs 2/);
    const gp = new GaussianProcess({ dims: 2, kernel: 'rbf' });
    expect(() => gp.setData([0, 0, 1], [1, 2])).toThrow(/setData: X has 3 values/);
    expect(() => gp.setData([0, 0], [NaN])).toThrow(/y\[0\]: must be finite/);
    expect(() => gp.addObservation([0.5], 1)).toThrow(/addObservation: x needs 2/);
    expect(() => gp.predict([0.1, 0.2, 0.3])).toThrow(/not a multiple of dims/);
    expect(() => gp.fit(new Rng(1), { restarts: 0 })).toThrow(/restarts/);
    expect(() => new GaussianProcess({ dims: 1, kernel: 'rbf', inputBounds: { lower: [1], upper: [1] } })).toThrow(/inputBounds\[0\]/);
  });
});
