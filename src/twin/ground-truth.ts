import type { Rng } from '../protocol/random.js';
import type { SpecimenSpec } from '../protocol/scenario.js';
import { directSum } from './field/direct.js';
import { GaussianLattice, latticeNodeCount } from './field/lattice.js';
import type { GroundTruth } from './types.js';

/**
 * The target property over composition space (model.md section 6): a superposition of K
 * isotropic Gaussians of standard deviation sd,
 *
 *   f(c) = sum_k a_k exp(-|c - mu_k|^2 / (2 sd^2)),   mu_k uniform on the simplex, a_k ~ Normal(0, 1),
 *
 * reported as value_eV(c) = base_eV + scale_eV (f(c) - m) / s.
 *
 * Signed amplitudes make f, for large K, a zero-mean Gaussian random field with a squared-
 * exponential covariance of length sd sqrt(2): peaks and valleys everywhere, the "multimodal"
 * target of the paper. Positive amplitudes would instead give a near-constant density of centres
 * whose only structure is the dome left by the simplex's edges.
 *
 * The lattice (field/lattice.ts) makes an evaluation cost O(4^(D-1)) instead of O(K). At the
 * paper's sd = 0.1 it fits for D = 2..5 (D = 5: 3.8e6 nodes); from D = 6 it would need more than
 * 4e7 nodes, and the field is the direct sum: exact, about K x 20 ns per evaluation.
 *
 * m and s are the mean and standard deviation of f over the uniform distribution on the simplex,
 * estimated by Monte Carlo from the generator's own stream (fork 'standardise'), never from
 * anything a policy measures: 16384 points with the lattice (standard error ~0.008 s), 256 with
 * the direct sum (~0.06 s). They define the affine map to eV; their sampling error changes the
 * map, not the accuracy of the field.
 */

export interface GroundTruthOptions {
  /** 'auto' (default): the lattice when one fits the node budgets below, otherwise the direct sum. */
  method?: 'auto' | 'lattice' | 'direct';
  /** Force this lattice step (composition units) instead of choosing one. */
  step?: number;
  /** Preferred lattice size: the step is refined down to sd/4 while the lattice fits (default 4e6 nodes). */
  latticeNodes?: number;
  /** Hard cap when even a step of 0.45 sd needs more than `latticeNodes` (default 1.2e7 nodes, ~96 MB). */
  maxLatticeNodes?: number;
  /** Monte Carlo points for m and s (default 16384 with the lattice, 256 without). */
  standardisationSamples?: number;
}

export interface GaussianSuperpositionTruth extends GroundTruth {
  readonly dims: number;
  readonly gaussians: number;
  readonly sd: number;
  /** The K centres mu_k, D fractions each, row after row (the definition, for inspection). */
  readonly centres: Float64Array;
  /** The K amplitudes a_k. */
  readonly amplitudes: Float64Array;
  /** How `field` is evaluated: 'lattice' (fast) or 'direct' (O(K) per point). */
  readonly method: 'lattice' | 'direct';
  readonly lattice: { step: number; shape: number[]; nodes: number } | undefined;
  /** m and s of the raw field over the simplex, and the number of points they were estimated from. */
  readonly standardisation: { mean: number; sd: number; samples: number };
  /** Raw f(c), fast (the lattice; the direct sum outside it or without one). */
  field(c: ArrayLike<number>): number;
  /** Raw f(c), summed exactly over all K Gaussians: the reference. */
  evaluateDirect(c: ArrayLike<number>): number;
  /** (f(c) - m) / s, fast. */
  standardised(c: ArrayLike<number>): number;
  /** base_eV + scale_eV (f(c) - m) / s, fast. */
  value_eV(c: ArrayLike<number>): number;
  /** The same from the exact sum. */
  valueDirect_eV(c: ArrayLike<number>): number;
}

/**
 * Lattice steps, in units of sd, and what they achieve against the direct sum at K = 2e4,
 * D = 5 (40 random points): sd/4: max 4e-4 s; sd/3: 1.5e-3 s; 0.45 sd: 5e-3 s; 0.6 sd: 1.5e-2 s.
 * The finest is what a lattice gets when it fits the budget (every D <= 4 at sd 0.1, and wide
 * Gaussians, whose field over the simplex is flat enough that sd/3 leaves 3e-2 s); the coarsest is
 * the least accuracy accepted before falling back to the direct sum.
 */
const FINE_STEP_SD = 1 / 4;
const COARSE_STEP_SD = 0.45;

export function buildGroundTruth(
  spec: SpecimenSpec['response'],
  dims: number,
  rng: Rng,
  options: GroundTruthOptions = {},
): GaussianSuperpositionTruth {
  const { gaussians: K, sd, base_eV, scale_eV } = validated(spec, dims);
  const D = dims;
  // The definition's arrays (24 + 8 MB at the paper's 10^6 Gaussians in 3D) are drawn again, the
  // same values from the same forks, only when asked for (the direct sum, inspection); the lattice
  // takes them a chunk at a time.
  let definition: { centres: Float64Array; amplitudes: Float64Array } | undefined;
  const defined = () => (definition ??= { centres: drawCentres(K, D, rng.fork('centres')), amplitudes: rng.fork('amplitudes').fillNormal(new Float64Array(K)) });

  const step = chooseStep(D, sd, options);
  let lattice: GaussianLattice | undefined;
  if (step !== undefined) {
    const centreRng = rng.fork('centres');
    const amplitudeRng = rng.fork('amplitudes');
    const size = Math.min(K, CHUNK);
    const chunk = { centres: new Float64Array(size * D), amplitudes: new Float64Array(size) };
    let done = 0;
    lattice = GaussianLattice.buildStreamed(D, sd, step, () => {
      if (done >= K) return null;
      const count = Math.min(size, K - done);
      const part = count === size ? chunk : { centres: chunk.centres.subarray(0, count * D), amplitudes: chunk.amplitudes.subarray(0, count) };
      drawCentresInto(part.centres, count, D, centreRng);
      amplitudeRng.fillNormal(part.amplitudes);
      done += count;
      return part;
    });
  } else defined();

  const check = (c: ArrayLike<number>): void => {
    if (c === null || typeof c !== 'object' || c.length !== D) throw new RangeError(`composition: expected ${D} fractions, got ${c?.length ?? String(c)}`);
    for (let i = 0; i < D; i++) if (!Number.isFinite(c[i])) throw new RangeError(`composition[${i}]: must be a finite number, got ${c[i]}`);
  };
  const exact = (c: ArrayLike<number>): number => {
    const { centres, amplitudes } = defined();
    return directSum(centres, amplitudes, D, sd, c);
  };
  const fast = (c: ArrayLike<number>): number => {
    if (lattice) {
      const v = lattice.evaluate(c);
      if (!Number.isNaN(v)) return v;
    }
    return exact(c);
  };

  const samples = options.standardisationSamples ?? (lattice ? 16384 : 256);
  if (!Number.isInteger(samples) || samples < 2) throw new RangeError(`standardisationSamples: must be an integer >= 2, got ${samples}`);
  const { mean, sd: spread } = meanAndSd(fast, D, samples, rng.fork('standardise'));
  if (!(spread > 0)) throw new RangeError(`response: the field is constant over the simplex (sd ${spread}); cannot standardise`);

  return {
    dims: D,
    gaussians: K,
    sd,
    get centres() {
      return defined().centres;
    },
    get amplitudes() {
      return defined().amplitudes;
    },
    method: lattice ? 'lattice' : 'direct',
    lattice: lattice && { step: lattice.lattice.step, shape: Array.from(lattice.lattice.shape), nodes: lattice.lattice.nodes },
    standardisation: { mean, sd: spread, samples },
    field: (c) => (check(c), fast(c)),
    evaluateDirect: (c) => (check(c), exact(c)),
    standardised: (c) => (check(c), (fast(c) - mean) / spread),
    value_eV: (c) => (check(c), base_eV + (scale_eV * (fast(c) - mean)) / spread),
    valueDirect_eV: (c) => (check(c), base_eV + (scale_eV * (exact(c) - mean)) / spread),
  };
}

/** Centres and amplitudes per chunk of the streamed lattice build. */
const CHUNK = 4096;

/** K points uniform on the simplex of D components, row after row (drawCentresInto). */
function drawCentres(K: number, D: number, rng: Rng): Float64Array {
  const centres = new Float64Array(K * D);
  for (let k0 = 0; k0 < K; k0 += CHUNK) {
    const count = Math.min(CHUNK, K - k0);
    drawCentresInto(centres.subarray(k0 * D, (k0 + count) * D), count, D, rng);
  }
  return centres;
}

/**
 * The next `count` points uniform on the simplex of D components into `out`, row after row:
 * normalised exponentials, as Rng.simplexUniform, without allocating per point; the uniforms drawn
 * all at once into `out` (the same stream as one uniform() at a time), then transformed in place.
 * A function of its own, so that its loop is compiled as soon as it is hot.
 */
function drawCentresInto(out: Float64Array, count: number, D: number, rng: Rng): void {
  rng.fillUniform(out.subarray(0, count * D));
  for (let k = 0, j = 0; k < count; k++) {
    let sum = 0;
    for (let i = 0; i < D; i++, j++) {
      const e = -Math.log(1 - out[j]!);
      out[j] = e;
      sum += e;
    }
    for (let i = k * D; i < (k + 1) * D; i++) out[i]! /= sum;
  }
}

function validated(spec: SpecimenSpec['response'], dims: number): { gaussians: number; sd: number; base_eV: number; scale_eV: number } {
  if (!Number.isInteger(dims) || dims < 2) throw new RangeError(`dims: must be an integer >= 2 (one per element), got ${dims}`);
  if (!spec || typeof spec !== 'object') throw new RangeError(`response: expected an object, got ${String(spec)}`);
  const { gaussians, base_eV, scale_eV } = spec;
  const sd = spec.sd ?? 0.1;
  if (!Number.isInteger(gaussians) || gaussians < 1) throw new RangeError(`response.gaussians: must be an integer >= 1, got ${gaussians}`);
  if (!(Number.isFinite(sd) && sd > 0)) throw new RangeError(`response.sd: must be a number > 0, got ${sd}`);
  if (!Number.isFinite(base_eV)) throw new RangeError(`response.base_eV: must be a finite number, got ${base_eV}`);
  if (!Number.isFinite(scale_eV)) throw new RangeError(`response.scale_eV: must be a finite number, got ${scale_eV}`);
  return { gaussians, sd, base_eV, scale_eV };
}

/** The lattice step for these options, or undefined for the direct sum. */
function chooseStep(D: number, sd: number, options: GroundTruthOptions): number | undefined {
  const method = options.method ?? 'auto';
  if (method === 'direct') return undefined;
  const budget = options.latticeNodes ?? 4e6;
  const cap = options.maxLatticeNodes ?? 1.2e7;
  if (options.step !== undefined) {
    const nodes = latticeNodeCount(D, options.step);
    if (!(nodes <= cap)) throw new RangeError(`step: ${options.step} needs ${nodes} lattice nodes for ${D} elements, more than maxLatticeNodes (${cap})`);
    return options.step;
  }
  const fine = FINE_STEP_SD * sd;
  const coarse = COARSE_STEP_SD * sd;
  if (latticeNodeCount(D, fine) <= budget) return fine;
  if (latticeNodeCount(D, coarse) <= budget) {
    // Node count falls as the step grows: bisect for the finest step within budget.
    let lo = fine;
    let hi = coarse;
    for (let i = 0; i < 40; i++) {
      const mid = 0.5 * (lo + hi);
      if (latticeNodeCount(D, mid) <= budget) hi = mid;
      else lo = mid;
    }
    return hi;
  }
  if (latticeNodeCount(D, coarse) <= cap) return coarse;
  if (method === 'lattice') throw new RangeError(`response: a lattice for ${D} elements at sd ${sd} needs ${latticeNodeCount(D, coarse)} nodes (> ${cap}); use method 'direct' or raise maxLatticeNodes`);
  return undefined;
}

/** Mean and standard deviation of f over uniform points of the simplex (Welford). */
function meanAndSd(f: (c: Float64Array) => number, D: number, n: number, rng: Rng): { mean: number; sd: number } {
  let mean = 0;
  let m2 = 0;
  for (let i = 1; i <= n; i++) {
    const v = f(rng.simplexUniform(D));
    const delta = v - mean;
    mean += delta / i;
    m2 += delta * (v - mean);
  }
  return { mean, sd: Math.sqrt(m2 / (n - 1)) };
}
