import type { Rng } from '../protocol/random.js';

/**
 * Composition space: the simplex of D fractions summing to one. Grids for the error metric and
 * prior samples for the switching rule's Monte Carlo.
 */

/** Draws one composition (D fractions summing to 1) from a prior p(c). */
export type CompositionSampler = (rng: Rng, dims: number) => ArrayLike<number>;

/** The default prior: uniform on the simplex. */
export const uniformSimplex: CompositionSampler = (rng, dims) => rng.simplexUniform(dims);

function levelsOf(step: number): number {
  if (!(step > 0) || step > 1) throw new RangeError(`step: must be in (0, 1], got ${step}`);
  const levels = Math.round(1 / step);
  if (Math.abs(levels * step - 1) > 1e-9) throw new RangeError(`step: 1 / step must be a whole number, got step = ${step}`);
  return levels;
}

function checkDims(dims: number): void {
  if (!Number.isInteger(dims) || dims < 1) throw new RangeError(`dims: must be an integer >= 1, got ${dims}`);
}

/** Binomial coefficient C(n, k) for small arguments, exact in doubles up to about 2^53. */
export function binomial(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  let r = 1;
  for (let i = 1; i <= Math.min(k, n - k); i++) r = (r * (n - Math.min(k, n - k) + i)) / i;
  return Math.round(r);
}

/** Points of the simplex grid with the given step in D components: C(D + K - 1, D - 1), K = 1 / step. */
export function simplexGridSize(dims: number, step: number): number {
  checkDims(dims);
  const K = levelsOf(step);
  return binomial(dims + K - 1, dims - 1);
}

/**
 * Every composition whose fractions are multiples of `step`, in lexicographic order of the integer
 * levels, flat (size x dims, row-major).
 */
export function simplexGrid(dims: number, step: number): Float64Array {
  const size = simplexGridSize(dims, step);
  const K = levelsOf(step);
  const out = new Float64Array(size * dims);
  const level = new Int32Array(dims);
  let row = 0;
  // Odometer over the first D - 1 levels; the last one takes the remainder.
  const emit = () => {
    let used = 0;
    for (let d = 0; d < dims - 1; d++) {
      out[row * dims + d] = level[d]! / K;
      used += level[d]!;
    }
    out[row * dims + dims - 1] = (K - used) / K;
    row++;
  };
  const fill = (d: number, remaining: number) => {
    if (d === dims - 1) {
      emit();
      return;
    }
    for (let v = 0; v <= remaining; v++) {
      level[d] = v;
      fill(d + 1, remaining - v);
    }
  };
  fill(0, K);
  return out;
}

/** `count` draws from the prior, flat (count x dims); each draw is checked to be a composition. */
export function samplePrior(rng: Rng, dims: number, count: number, sampler: CompositionSampler = uniformSimplex): Float64Array {
  checkDims(dims);
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`count: must be an integer >= 1, got ${count}`);
  const out = new Float64Array(count * dims);
  for (let i = 0; i < count; i++) {
    const c = sampler(rng, dims);
    if (c.length !== dims) throw new RangeError(`prior sampler: returned ${c.length} fractions, expected ${dims}`);
    let sum = 0;
    for (let d = 0; d < dims; d++) {
      const v = c[d]!;
      if (!(v >= 0)) throw new RangeError(`prior sampler: fraction ${d} is ${v}, must be >= 0`);
      sum += v;
      out[i * dims + d] = v;
    }
    if (Math.abs(sum - 1) > 1e-6) throw new RangeError(`prior sampler: fractions sum to ${sum}, must sum to 1`);
  }
  return out;
}

/** Euclidean distance between compositions a[ia] and b[ib] of flat arrays. */
export function compositionDistance(a: ArrayLike<number>, ia: number, b: ArrayLike<number>, ib: number, dims: number): number {
  let s = 0;
  for (let d = 0; d < dims; d++) {
    const t = a[ia * dims + d]! - b[ib * dims + d]!;
    s += t * t;
  }
  return Math.sqrt(s);
}

/** For each point, the distance to the nearest of `seen` (Infinity when seen is empty). */
export function nearestDistances(points: ArrayLike<number>, seen: ArrayLike<number>, dims: number, out?: Float64Array): Float64Array {
  const m = points.length / dims;
  const n = seen.length / dims;
  const res = out ?? new Float64Array(m);
  for (let p = 0; p < m; p++) {
    let best = Infinity;
    for (let i = 0; i < n; i++) {
      const d = compositionDistance(points, p, seen, i, dims);
      if (d < best) best = d;
    }
    res[p] = best;
  }
  return res;
}

/** [0, 1]^D input bounds for a GP over all D fractions. */
export function simplexBounds(dims: number): { lower: Float64Array; upper: Float64Array } {
  checkDims(dims);
  return { lower: new Float64Array(dims), upper: new Float64Array(dims).fill(1) };
}
