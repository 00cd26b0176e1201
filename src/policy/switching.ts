import type { Rng } from '../protocol/random.js';
import { toUtility, type Acquisition } from './acquisition.js';
import type { CostModel } from './cost.js';
import type { GaussianProcess } from './gp/gp.js';
import { PosteriorPool } from './gp/pool.js';
import { samplePrior, uniformSimplex, type CompositionSampler } from './simplex.js';

/**
 * The stay-or-switch rule after each measurement (eqs. 7-17). Pure functions for each equation,
 * and `decideSwitch`, which evaluates them all and returns every term for the campaign record.
 *
 * Acquisition values enter on a linear utility scale (`toUtility`: log-EI becomes EI), since V_stay
 * and E_gain are compared by difference. G_new of a region drawn empty (N = 0) is 0.
 */

/** Eq. (7): R = 1 - N_meas / N_tot; 0 for a region with no particles. */
export function unmeasuredShare(measured: number, total: number): number {
  if (!Number.isInteger(total) || total < 0) throw new RangeError(`current.total: must be an integer >= 0, got ${total}`);
  if (!Number.isInteger(measured) || measured < 0 || measured > total) throw new RangeError(`current.measured: must be an integer in [0, total = ${total}], got ${measured}`);
  return total === 0 ? 0 : 1 - measured / total;
}

/** Eq. (8): G = max over the unmeasured particles of a(c_j); 0 when none is left. */
export function bestRemaining(utilities: ArrayLike<number>): number {
  if (utilities.length === 0) return 0;
  let g = -Infinity;
  for (let i = 0; i < utilities.length; i++) if (utilities[i]! > g) g = utilities[i]!;
  return g;
}

/** Eq. (9). */
export function stayValue(R: number, G: number): number {
  return R * G;
}

export interface ExploredRegion {
  /** Particles found there (the overview's count). */
  found: number;
  area_um2: number;
}

/** rho = particles found / area explored, per um^2 (the estimate behind eq. 11). */
export function densityEstimate(explored: readonly ExploredRegion[]): number {
  let found = 0;
  let area = 0;
  explored.forEach((r, i) => {
    if (!(r.found >= 0) || !Number.isFinite(r.found)) throw new RangeError(`explored[${i}].found: must be a finite number >= 0, got ${r.found}`);
    if (!(r.area_um2 > 0) || !Number.isFinite(r.area_um2)) throw new RangeError(`explored[${i}].area_um2: must be a finite number > 0, got ${r.area_um2}`);
    found += r.found;
    area += r.area_um2;
  });
  if (!(area > 0)) throw new RangeError('explored: needs at least one explored region to estimate the density');
  return found / area;
}

/** Eq. (14): n(c) = 1 - exp(-d / d0), d the distance to the nearest measured composition. */
export function novelty(distance: number, d0: number): number {
  return 1 - Math.exp(-distance / d0);
}

/** Eq. (15): a~ = a (1 + lambda n). */
export function noveltyWeighted(a: number, n: number, lambda: number): number {
  return a * (1 + lambda * n);
}

/** Eq. (16): C_switch = t_switch V_stay / t_meas, the measurements' worth of V_stay the trip forgoes. */
export function switchCost(t_switch_s: number, V_stay: number, t_meas_s: number): number {
  return (t_switch_s * V_stay) / t_meas_s;
}

/** Eq. (17). */
export function switchValue(E_gain: number, C_switch: number): number {
  return E_gain - C_switch;
}

/**
 * Inverse CDF of Poisson(lambda) as a table, so that one uniform gives N for several lambdas at
 * once with N non-decreasing in lambda (common random numbers: E_gain estimates of candidates
 * with different expected counts are then ordered like their expectations).
 */
export class PoissonQuantiles {
  private readonly first: number;
  private readonly cdf: Float64Array;

  constructor(readonly lambda: number) {
    if (!(lambda >= 0) || !Number.isFinite(lambda)) throw new RangeError(`lambda: Poisson mean must be a finite number >= 0, got ${lambda}`);
    if (lambda === 0) {
      this.first = 0;
      this.cdf = Float64Array.of(1);
      return;
    }
    // Weights relative to the mode, walked out until negligible: no factorials, no underflow.
    const mode = Math.floor(lambda);
    const up: number[] = [1];
    for (let k = mode, w = 1; ; k++) {
      w *= lambda / (k + 1);
      if (w < 1e-25) break;
      up.push(w);
    }
    const down: number[] = [];
    for (let k = mode, w = 1; k > 0; k--) {
      w *= k / lambda;
      if (w < 1e-25) break;
      down.push(w);
    }
    this.first = mode - down.length;
    const weights = [...down.reverse(), ...up];
    let total = 0;
    for (const w of weights) total += w;
    this.cdf = new Float64Array(weights.length);
    let acc = 0;
    weights.forEach((w, i) => {
      acc += w / total;
      this.cdf[i] = acc;
    });
    this.cdf[this.cdf.length - 1] = 1;
  }

  /** The smallest N with P(N' <= N) > u, for u in [0, 1). */
  quantile(u: number): number {
    let lo = 0;
    let hi = this.cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cdf[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    return this.first + lo;
  }
}

/**
 * Eqs. (11)-(13) by Monte Carlo: for each of `samples` draws, N ~ Poisson(lambda) and
 * G_new = max of a~ over N pool points drawn uniformly with replacement (the pool holds samples of
 * the prior p(c), so these are draws from p(c)). Returns the mean G_new per lambda. All lambdas
 * share each sample's uniform and index draws, so the estimates are non-decreasing in lambda for
 * non-negative a~. Cost O(samples x max lambda).
 */
export function expectedGainMonteCarlo(utilities: ArrayLike<number>, lambdas: readonly number[], samples: number, rng: Rng): Float64Array {
  if (!Number.isInteger(samples) || samples < 1) throw new RangeError(`mc_samples: must be an integer >= 1, got ${samples}`);
  const m = utilities.length;
  if (m === 0) throw new RangeError('utilities: the prior pool is empty');
  const L = lambdas.length;
  const tables = lambdas.map((l) => new PoissonQuantiles(l));
  const order = Array.from({ length: L }, (_, i) => i).sort((a, b) => lambdas[a]! - lambdas[b]!);
  const sums = new Float64Array(L);
  const counts = new Int32Array(L);
  for (let s = 0; s < samples; s++) {
    const u = rng.uniform();
    for (let l = 0; l < L; l++) counts[l] = tables[l]!.quantile(u);
    let drawn = 0;
    let runMax = -Infinity;
    for (const l of order) {
      const N = counts[l]!;
      for (; drawn < N; drawn++) {
        const v = utilities[rng.int(m)]!;
        if (v > runMax) runMax = v;
      }
      sums[l]! += N === 0 ? 0 : runMax;
    }
  }
  for (let l = 0; l < L; l++) sums[l]! /= samples;
  return sums;
}

/**
 * The limit of expectedGainMonteCarlo as samples -> infinity, in closed form: with the pool's a~
 * sorted, a_(1) <= ... <= a_(m), P(max <= a_(k) | N) = (k/m)^N and E[t^N] = exp(-lambda (1 - t)),
 * so E_gain = sum_k a_(k) (exp(-lambda (1 - k/m)) - exp(-lambda (1 - (k-1)/m))).
 */
export function expectedGainExact(utilities: ArrayLike<number>, lambdas: readonly number[]): Float64Array {
  const m = utilities.length;
  if (m === 0) throw new RangeError('utilities: the prior pool is empty');
  const sorted = Float64Array.from(utilities).sort();
  return Float64Array.from(lambdas, (lambda) => {
    if (!(lambda >= 0) || !Number.isFinite(lambda)) throw new RangeError(`lambda: Poisson mean must be a finite number >= 0, got ${lambda}`);
    let e = 0;
    let prev = Math.exp(-lambda);
    for (let k = 1; k <= m; k++) {
      const cur = Math.exp(-lambda * (1 - k / m));
      e += sorted[k - 1]! * (cur - prev);
      prev = cur;
    }
    return e;
  });
}

/** A pool of `size` compositions drawn from the prior, whose posterior follows `gp` (see PosteriorPool). */
export function createPriorPool(gp: GaussianProcess, rng: Rng, size: number, sampler: CompositionSampler = uniformSimplex): PosteriorPool {
  return new PosteriorPool(gp, samplePrior(rng, gp.dims, size, sampler));
}

export interface CandidateRegion {
  id: string;
  /** Stage distance from the current region's centre. */
  distance_um: number;
  area_um2: number;
  visited: boolean;
  /**
   * For a visited region: the a~ utilities of its particles still unmeasured, known from its
   * overview; E_gain is then their maximum, with no Monte Carlo. Visited regions without it are skipped.
   */
  knownUtilities?: ArrayLike<number>;
  /** Overrides cost.tSwitch_s(distance_um), e.g. when a revisit needs no new EDX frame. */
  t_switch_s?: number;
}

export interface SwitchInputs {
  current: {
    measured: number;
    total: number;
    /** a(c_j) of the region's unmeasured particles, as the acquisition returned them (not cost-weighted). */
    unmeasuredScores: ArrayLike<number>;
  };
  /** Regions explored so far (the current one included): their counts and areas give rho. */
  explored: readonly ExploredRegion[];
  candidates: readonly CandidateRegion[];
  /** Prior samples with the GP posterior kept current. */
  pool: PosteriorPool;
  acquisition: Acquisition;
  novelty: { lambda: number; d0: number };
  /** t_switch(d) and t_meas. */
  cost: CostModel;
  mcSamples: number;
  rng: Rng;
  /** 'monte-carlo' (eqs. 11-13 as written, the default) or 'exact' (its closed-form limit). */
  estimator?: 'monte-carlo' | 'exact';
  /** Overrides cost.params.t_meas_s. */
  t_meas_s?: number;
}

/** One candidate's terms; the shape of DecisionRecord.target. */
export interface CandidateTerms {
  region: string;
  distance_um: number;
  visited: boolean;
  /** rho A: particles expected there (eq. 11); null for a visited region with known particles. */
  expected_particles: number | null;
  E_gain: number;
  t_switch_s: number;
  C_switch: number;
  V_switch: number;
}

export interface SwitchDecision {
  decision: 'stay' | 'switch';
  reason: string;
  /** Unmeasured share of the current region (eq. 7). */
  R: number;
  /** Best acquisition value left in the current region (eq. 8). */
  G: number;
  V_stay: number;
  /** Density estimate, particles per um^2, from the regions explored so far. */
  rho_per_um2: number;
  t_meas_s: number;
  /** Every candidate's terms, in input order (visited regions without known utilities left out). */
  candidates: CandidateTerms[];
  /** The candidate with the largest V_switch (nearest on ties), reported whether or not the rule switches. */
  best: CandidateTerms | null;
  /** The region to move to, when switching. */
  target: string | null;
}

/**
 * Evaluates eqs. (7)-(17) and decides: switch to the candidate with the largest V_switch when it
 * is > 0, or when the current region is exhausted (R = 0) and any candidate exists.
 */
export function decideSwitch(inputs: SwitchInputs): SwitchDecision {
  const { current, acquisition, cost, pool } = inputs;
  const { lambda, d0 } = inputs.novelty;
  if (!(lambda >= 0) || !Number.isFinite(lambda)) throw new RangeError(`novelty.lambda: must be a finite number >= 0, got ${lambda}`);
  if (!(d0 > 0) || !Number.isFinite(d0)) throw new RangeError(`novelty.d0: must be a finite number > 0, got ${d0}`);
  const t_meas_s = inputs.t_meas_s ?? cost.params.t_meas_s;
  if (!(t_meas_s > 0) || !Number.isFinite(t_meas_s)) throw new RangeError(`t_meas_s: must be a finite number > 0, got ${t_meas_s}`);
  if (current.unmeasuredScores.length !== current.total - current.measured)
    throw new RangeError(`current.unmeasuredScores: needs one score per unmeasured particle (${current.total - current.measured}), got ${current.unmeasuredScores.length}`);

  const R = unmeasuredShare(current.measured, current.total);
  const G = bestRemaining(toUtility(acquisition, current.unmeasuredScores));
  const V_stay = stayValue(R, G);
  const rho = densityEstimate(inputs.explored);

  const fresh: number[] = [];
  inputs.candidates.forEach((c, i) => {
    if (!(c.distance_um >= 0) || !Number.isFinite(c.distance_um)) throw new RangeError(`candidates[${i}].distance_um: must be a finite number >= 0, got ${c.distance_um}`);
    if (!(c.area_um2 > 0) || !Number.isFinite(c.area_um2)) throw new RangeError(`candidates[${i}].area_um2: must be a finite number > 0, got ${c.area_um2}`);
    if (c.t_switch_s !== undefined && !(c.t_switch_s >= 0)) throw new RangeError(`candidates[${i}].t_switch_s: must be >= 0, got ${c.t_switch_s}`);
    if (!c.visited) fresh.push(i);
  });

  // E_gain per distinct expected count: equal areas share one estimate, so they tie exactly.
  const lambdas = [...new Set(fresh.map((i) => rho * inputs.candidates[i]!.area_um2))];
  const gainByLambda = new Map<number, number>();
  if (lambdas.length > 0) {
    const a = noveltyWeightedPool(pool, acquisition, lambda, d0);
    const gains = inputs.estimator === 'exact' ? expectedGainExact(a, lambdas) : expectedGainMonteCarlo(a, lambdas, inputs.mcSamples, inputs.rng);
    lambdas.forEach((l, k) => gainByLambda.set(l, gains[k]!));
  } else if (!Number.isInteger(inputs.mcSamples) || inputs.mcSamples < 1) {
    throw new RangeError(`mc_samples: must be an integer >= 1, got ${inputs.mcSamples}`);
  }

  const candidates: CandidateTerms[] = [];
  for (const c of inputs.candidates) {
    let E_gain: number;
    let expected: number | null = null;
    if (!c.visited) {
      expected = rho * c.area_um2;
      E_gain = gainByLambda.get(expected)!;
    } else if (c.knownUtilities) {
      E_gain = bestRemaining(c.knownUtilities);
    } else continue;
    const t_switch_s = c.t_switch_s ?? cost.tSwitch_s(c.distance_um);
    const C_switch = switchCost(t_switch_s, V_stay, t_meas_s);
    candidates.push({ region: c.id, distance_um: c.distance_um, visited: c.visited, expected_particles: expected, E_gain, t_switch_s, C_switch, V_switch: switchValue(E_gain, C_switch) });
  }

  let best: CandidateTerms | null = null;
  for (const c of candidates) {
    if (!best || c.V_switch > best.V_switch || (c.V_switch === best.V_switch && c.distance_um < best.distance_um)) best = c;
  }

  const base = { R, G, V_stay, rho_per_um2: rho, t_meas_s, candidates, best };
  if (!best) return { ...base, decision: 'stay', reason: 'no candidate region', target: null };
  if (R === 0) return { ...base, decision: 'switch', reason: `region exhausted (R = 0): move to ${best.region}`, target: best.region };
  if (best.V_switch > 0)
    return { ...base, decision: 'switch', reason: `V_switch = ${fmt(best.V_switch)} > 0 for ${best.region} (E_gain ${fmt(best.E_gain)} > C_switch ${fmt(best.C_switch)})`, target: best.region };
  return { ...base, decision: 'stay', reason: `V_switch <= 0 for every candidate (best ${best.region}: ${fmt(best.V_switch)}); V_stay = ${fmt(V_stay)}`, target: null };
}

function fmt(v: number): string {
  return Number.isFinite(v) ? v.toPrecision(4) : String(v);
}

/** a~ (eq. 15) over the pool: the acquisition of its posterior, as utility, times the novelty factor. */
export function noveltyWeightedPool(pool: PosteriorPool, acquisition: Acquisition, lambda: number, d0: number, out?: Float64Array): Float64Array {
  const { mean, variance } = pool.posterior();
  const scores = acquisition.evaluate(mean, variance, out);
  const a = toUtility(acquisition, scores, scores);
  if (lambda > 0) {
    const near = pool.nearestObservedDistance();
    for (let p = 0; p < a.length; p++) a[p] = noveltyWeighted(a[p]!, novelty(near[p]!, d0), lambda);
  }
  return a;
}
