import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { createAcquisition, logExpectedImprovement } from '../../src/policy/acquisition.js';
import { CostModel, type CostParams } from '../../src/policy/cost.js';
import { GaussianProcess } from '../../src/policy/gp/gp.js';
import { PosteriorPool } from '../../src/policy/gp/pool.js';
import { binomial, nearestDistances, samplePrior, simplexBounds, simplexGrid, simplexGridSize } from '../../src/policy/simplex.js';
import {
  bestRemaining,
  createPriorPool,
  decideSwitch,
  densityEstimate,
  expectedGainExact,
  expectedGainMonteCarlo,
  novelty,
  noveltyWeighted,
  noveltyWeightedPool,
  PoissonQuantiles,
  stayValue,
  switchCost,
  switchValue,
  unmeasuredShare,
  type CandidateRegion,
  type SwitchInputs,
} from '../../src/policy/switching.js';
import { Rng } from '../../src/protocol/random.js';

const COST: CostParams = { t_bs_s: 0.025, t_st_s: 18, v_um_per_s: 10, d_bs_um: 15, alpha: 1, c_local: 1, t_meas_s: 1.1, range: 'square' };

/** A GP over 3-component compositions with a few observations, and a prior pool following it. */
function setup(seed: string, observations = 12, poolSize = 512) {
  const rng = new Rng(seed);
  const gp = new GaussianProcess({
    dims: 3,
    kernel: 'matern52',
    inputBounds: simplexBounds(3),
    initial: { lengthscales: Float64Array.of(0.2, 0.2, 0.2), signalVariance: 1, noiseVariance: 1e-4 },
  });
  const X = samplePrior(rng, 3, observations);
  const y = Float64Array.from({ length: observations }, (_, i) => 15 + Math.sin(6 * X[3 * i]!) + X[3 * i + 1]!);
  gp.setData(X, y);
  const pool = createPriorPool(gp, rng.fork('pool'), poolSize);
  return { gp, pool, X, y };
}

/** A 10 x 10 grid of 30 um regions around the current one at (0, 0); the current region is excluded. */
function gridCandidates(visited: (id: string) => boolean = () => false): CandidateRegion[] {
  const out: CandidateRegion[] = [];
  for (let ix = -4; ix <= 5; ix++) {
    for (let iy = -4; iy <= 5; iy++) {
      if (ix === 0 && iy === 0) continue;
      const id = `r${ix}_${iy}`;
      out.push({ id, distance_um: 30 * Math.hypot(ix, iy), area_um2: 900, visited: visited(id) });
    }
  }
  return out;
}

function inputs(overrides: Partial<SwitchInputs> & Pick<SwitchInputs, 'pool'>): SwitchInputs {
  return {
    current: { measured: 5, total: 18, unmeasuredScores: Float64Array.from({ length: 13 }, (_, i) => 0.001 * (i + 1)) },
    explored: [{ found: 18, area_um2: 900 }],
    candidates: gridCandidates(),
    acquisition: createAcquisition('max-variance'),
    novelty: { lambda: 0, d0: 0.1 },
    cost: new CostModel(COST),
    mcSamples: 256,
    rng: new Rng('decide'),
    ...overrides,
  };
}

describe('equations (7)-(17) by hand', () => {
  it('R, G, V_stay', () => {
    expect(unmeasuredShare(5, 20)).toBe(0.75);
    expect(unmeasuredShare(20, 20)).toBe(0);
    expect(unmeasuredShare(0, 0)).toBe(0);
    expect(bestRemaining([0.2, 0.9, 0.4])).toBe(0.9);
    expect(bestRemaining([])).toBe(0);
    expect(stayValue(0.75, 0.9)).toBeCloseTo(0.675, 15);
  });

  it('rho, novelty, a~, C_switch, V_switch', () => {
    expect(densityEstimate([{ found: 18, area_um2: 900 }, { found: 0, area_um2: 900 }, { found: 36, area_um2: 900 }])).toBeCloseTo(54 / 2700, 15);
    expect(novelty(0, 0.1)).toBe(0);
    expect(novelty(0.1, 0.1)).toBeCloseTo(1 - Math.exp(-1), 15);
    expect(novelty(Infinity, 0.1)).toBe(1);
    expect(noveltyWeighted(2, 0.5, 3)).toBe(5);
    expect(switchCost(20, 0.5, 1.25)).toBe(8);
    expect(switchValue(10, 8)).toBe(2);
  });

  it('names bad counts and areas', () => {
    expect(() => unmeasuredShare(6, 5)).toThrow(/current.measured: must be an integer in \[0, total = 5\]/);
    expect(() => unmeasuredShare(0, -1)).toThrow(/current.total/);
    expect(() => densityEstimate([])).toThrow(/explored: needs at least one/);
    expect(() => densityEstimate([{ found: 1, area_um2: 0 }])).toThrow(/explored\[0\].area_um2/);
  });
});

describe('Poisson quantiles', () => {
  it.each([0.3, 4, 18, 250])('the table is the Poisson(%d) distribution', (lambda) => {
    const table = new PoissonQuantiles(lambda);
    // P(N <= k) from the pmf recursion, and the quantile at just below / above it.
    let p = Math.exp(-lambda);
    let cdf = p;
    for (let k = 0; k < lambda + 5 * Math.sqrt(lambda) + 3; k++) {
      if (cdf > 1e-9 && cdf < 1 - 1e-9) {
        expect(table.quantile(cdf * (1 - 1e-9))).toBe(k);
        expect(table.quantile(Math.min(cdf * (1 + 1e-9), 1 - 1e-16))).toBe(k + 1);
      }
      p *= lambda / (k + 1);
      cdf += p;
    }
    expect(new PoissonQuantiles(0).quantile(0.99)).toBe(0);
  });

  test.prop([fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.double({ min: 0, max: 500, noNaN: true }), fc.double({ min: 0, max: 100, noNaN: true })])(
    'N is non-decreasing in lambda for a fixed uniform (common random numbers)',
    (u, lambda, extra) => {
      expect(new PoissonQuantiles(lambda + extra).quantile(u)).toBeGreaterThanOrEqual(new PoissonQuantiles(lambda).quantile(u));
    },
  );
});

describe('E_gain (eqs. 11-13)', () => {
  it('the closed form matches a direct sum over N for a two-point pool', () => {
    const lambda = 2.5;
    // Pool {1, 3}: G_new = 3 unless all N draws are the 1 (probability 2^-N); 0 when N = 0.
    let direct = 0;
    let p = Math.exp(-lambda);
    for (let N = 1; N < 80; N++) {
      p *= lambda / N;
      direct += p * (3 - 2 * 0.5 ** N);
    }
    expect(expectedGainExact([3, 1], [lambda])[0]).toBeCloseTo(direct, 13);
    // Constant utilities: c P(N >= 1).
    expect(expectedGainExact([2, 2, 2], [1.5])[0]).toBeCloseTo(2 * (1 - Math.exp(-1.5)), 14);
  });

  it('the Monte Carlo estimate converges to the closed form', () => {
    const rng = new Rng('mc');
    const a = Float64Array.from({ length: 300 }, () => rng.uniform() ** 3);
    const exact = expectedGainExact(a, [2, 18, 60]);
    const mc = expectedGainMonteCarlo(a, [2, 18, 60], 40000, new Rng('mc-draws'));
    // Standard errors are below 0.003 for these spreads.
    for (let k = 0; k < 3; k++) expect(Math.abs(mc[k]! - exact[k]!)).toBeLessThan(0.01);
  });

  test.prop([fc.integer(), fc.double({ min: 1e-4, max: 0.1, noNaN: true }), fc.double({ min: 1.01, max: 5, noNaN: true })], { numRuns: 30 })(
    'E_gain increases with rho (Monte Carlo with shared draws, and the closed form)',
    (seed, rho, factor) => {
      const rng = new Rng(seed);
      const a = Float64Array.from({ length: 200 }, () => rng.uniform());
      const A = 900;
      const [lo, hi] = expectedGainMonteCarlo(a, [rho * A, rho * factor * A], 64, rng.fork('mc'));
      expect(hi!).toBeGreaterThanOrEqual(lo!);
      const [elo, ehi] = expectedGainExact(a, [rho * A, rho * factor * A]);
      expect(ehi!).toBeGreaterThan(elo!);
    },
  );

  it('names bad arguments', () => {
    expect(() => expectedGainMonteCarlo([1], [1], 0, new Rng(1))).toThrow(/mc_samples/);
    expect(() => expectedGainMonteCarlo([], [1], 5, new Rng(1))).toThrow(/pool is empty/);
    expect(() => expectedGainExact([1], [-1])).toThrow(/lambda/);
  });
});

describe('decideSwitch', () => {
  const { pool, gp } = setup('decide');

  it('with uniform density every unexplored region has the same E_gain and the nearest wins', () => {
    const shuffled = new Rng('shuffle').shuffle(gridCandidates());
    const d = decideSwitch(inputs({ pool, candidates: shuffled, current: { measured: 17, total: 18, unmeasuredScores: [1e-4] } }));
    const gains = new Set(d.candidates.map((c) => c.E_gain));
    expect(gains.size).toBe(1);
    expect(d.candidates).toHaveLength(99);
    expect(d.best!.distance_um).toBe(30);
    expect(d.decision).toBe('switch');
    expect(['r1_0', 'r-1_0', 'r0_1', 'r0_-1']).toContain(d.target);
    // Nearest wins even when the stay value is zero (all C_switch = 0): ties go to the nearest.
    const exhausted = decideSwitch(inputs({ pool, candidates: shuffled, current: { measured: 18, total: 18, unmeasuredScores: [] } }));
    expect(exhausted.best!.distance_um).toBe(30);
  });

  it('switches when the region is exhausted (R = 0)', () => {
    const d = decideSwitch(inputs({ pool, current: { measured: 18, total: 18, unmeasuredScores: [] } }));
    expect(d.R).toBe(0);
    expect(d.V_stay).toBe(0);
    expect(d.decision).toBe('switch');
    expect(d.reason).toMatch(/region exhausted/);
    for (const c of d.candidates) expect(c.C_switch).toBe(0);
  });

  it('stays when V_stay is large', () => {
    const d = decideSwitch(inputs({ pool, current: { measured: 1, total: 18, unmeasuredScores: Float64Array.from({ length: 17 }, () => 5) } }));
    expect(d.V_stay).toBeCloseTo((17 / 18) * 5, 12);
    expect(d.decision).toBe('stay');
    expect(d.target).toBeNull();
    expect(d.best!.V_switch).toBeLessThan(0);
    expect(d.reason).toMatch(/V_switch <= 0/);
  });

  it('records every term as eqs. (7)-(17) compute them', () => {
    const scores = [0.02, 0.05, 0.01];
    const cost = new CostModel(COST);
    const d = decideSwitch(
      inputs({
        pool,
        estimator: 'exact',
        current: { measured: 7, total: 10, unmeasuredScores: scores },
        explored: [
          { found: 10, area_um2: 900 },
          { found: 26, area_um2: 900 },
        ],
        candidates: [
          { id: 'near', distance_um: 30, area_um2: 900, visited: false },
          { id: 'small', distance_um: 30, area_um2: 450, visited: false },
          { id: 'old', distance_um: 42, area_um2: 900, visited: true, knownUtilities: [0.01, 0.03] },
          { id: 'old-unknown', distance_um: 10, area_um2: 900, visited: true },
        ],
        cost,
      }),
    );
    const R = 0.3;
    const V_stay = R * 0.05;
    const rho = 36 / 1800;
    expect(d.R).toBeCloseTo(R, 15);
    expect(d.G).toBe(0.05);
    expect(d.V_stay).toBeCloseTo(V_stay, 15);
    expect(d.rho_per_um2).toBeCloseTo(rho, 15);
    expect(d.candidates.map((c) => c.region)).toEqual(['near', 'small', 'old']);
    const a = noveltyWeightedPool(pool, createAcquisition('max-variance'), 0, 0.1);
    const [gNear, gSmall] = expectedGainExact(a, [rho * 900, rho * 450]);
    const terms = (id: string, E_gain: number, dist: number, expected: number | null) => {
      const t_switch_s = 18 + dist / 10;
      const C_switch = (t_switch_s * V_stay) / 1.1;
      return { region: id, distance_um: dist, E_gain, t_switch_s, C_switch, V_switch: E_gain - C_switch, expected_particles: expected };
    };
    const want = [terms('near', gNear!, 30, rho * 900), terms('small', gSmall!, 30, rho * 450), terms('old', 0.03, 42, null)];
    d.candidates.forEach((c, i) => {
      const w = want[i]!;
      expect(c.region).toBe(w.region);
      expect(c.E_gain).toBeCloseTo(w.E_gain, 14);
      expect(c.t_switch_s).toBeCloseTo(w.t_switch_s, 12);
      expect(c.C_switch).toBeCloseTo(w.C_switch, 12);
      expect(c.V_switch).toBeCloseTo(w.V_switch, 12);
      if (w.expected_particles === null) expect(c.expected_particles).toBeNull();
      else expect(c.expected_particles).toBeCloseTo(w.expected_particles, 12);
    });
    expect(gNear!).toBeGreaterThan(gSmall!);
    const best = want.reduce((b, c) => (c.V_switch > b.V_switch ? c : b));
    expect(d.best!.region).toBe(best.region);
    expect(d.decision).toBe(best.V_switch > 0 ? 'switch' : 'stay');
  });

  it('log-EI values enter as EI (linear utility)', () => {
    const best = gp.bestObserved();
    const acq = createAcquisition('log-ei', { best_eV: best });
    const scores = [logExpectedImprovement(15, 0.5, best), logExpectedImprovement(16, 0.2, best)];
    const d = decideSwitch(inputs({ pool, acquisition: acq, current: { measured: 0, total: 2, unmeasuredScores: scores } }));
    expect(d.G).toBeCloseTo(Math.max(...scores.map(Math.exp)), 14);
    for (const c of d.candidates) expect(c.E_gain).toBeGreaterThanOrEqual(0);
  });

  it('novelty raises E_gain; a far-from-data pool point gets a (1 + lambda)', () => {
    const plain = decideSwitch(inputs({ pool, estimator: 'exact' }));
    const novel = decideSwitch(inputs({ pool, estimator: 'exact', novelty: { lambda: 2, d0: 0.1 } }));
    expect(novel.candidates[0]!.E_gain).toBeGreaterThan(plain.candidates[0]!.E_gain);
    const acq = createAcquisition('max-variance');
    const a0 = noveltyWeightedPool(pool, acq, 0, 0.1).slice();
    const a2 = noveltyWeightedPool(pool, acq, 2, 0.1);
    const near = pool.nearestObservedDistance();
    for (let p = 0; p < 20; p++) expect(a2[p]).toBeCloseTo(a0[p]! * (1 + 2 * (1 - Math.exp(-near[p]! / 0.1))), 14);
  });

  it('is deterministic by seed', () => {
    const a = decideSwitch(inputs({ pool, rng: new Rng(42) }));
    const b = decideSwitch(inputs({ pool, rng: new Rng(42) }));
    const c = decideSwitch(inputs({ pool, rng: new Rng(43) }));
    expect(a).toEqual(b);
    expect(c.candidates[0]!.E_gain).not.toBe(a.candidates[0]!.E_gain);
  });

  it('follows the GP: E_gain falls as observations shrink the pool variances', () => {
    const s = setup('shrink', 5, 256);
    const before = decideSwitch(inputs({ pool: s.pool, estimator: 'exact' })).candidates[0]!.E_gain;
    const rng = new Rng('more');
    for (let i = 0; i < 30; i++) s.gp.addObservation(rng.simplexUniform(3), 15 + rng.normal(0, 0.3));
    const after = decideSwitch(inputs({ pool: s.pool, estimator: 'exact' })).candidates[0]!.E_gain;
    expect(after).toBeLessThan(before);
  });

  it('stays with no candidate, and names bad inputs', () => {
    expect(decideSwitch(inputs({ pool, candidates: [] })).reason).toBe('no candidate region');
    expect(() => decideSwitch(inputs({ pool, current: { measured: 5, total: 18, unmeasuredScores: [1] } }))).toThrow(/unmeasuredScores: needs one score per unmeasured particle \(13\)/);
    expect(() => decideSwitch(inputs({ pool, novelty: { lambda: -1, d0: 0.1 } }))).toThrow(/novelty.lambda/);
    expect(() => decideSwitch(inputs({ pool, novelty: { lambda: 0, d0: 0 } }))).toThrow(/novelty.d0/);
    expect(() => decideSwitch(inputs({ pool, mcSamples: 0 }))).toThrow(/mc_samples/);
    expect(() => decideSwitch(inputs({ pool, candidates: [{ id: 'x', distance_um: -3, area_um2: 900, visited: false }] }))).toThrow(/candidates\[0\].distance_um/);
    expect(() => decideSwitch(inputs({ pool, explored: [] }))).toThrow(/explored/);
  });
});

describe('simplex helpers', () => {
  it.each([
    [3, 66],
    [4, 286],
    [5, 1001],
    [6, 3003],
    [7, 8008],
    [8, 19448],
  ])('the step-0.1 grid in %d components has C(D + 9, D - 1) = %d points, all on the simplex and distinct', (D, size) => {
    expect(simplexGridSize(D, 0.1)).toBe(size);
    expect(binomial(D + 9, D - 1)).toBe(size);
    const g = simplexGrid(D, 0.1);
    expect(g.length).toBe(size * D);
    const keys = new Set<string>();
    for (let i = 0; i < size; i++) {
      let sum = 0;
      for (let d = 0; d < D; d++) {
        const v = g[i * D + d]!;
        expect(Math.abs(v * 10 - Math.round(v * 10))).toBeLessThan(1e-9);
        sum += v;
      }
      expect(sum).toBeCloseTo(1, 12);
      keys.add(Array.from(g.subarray(i * D, (i + 1) * D), (v) => Math.round(v * 10)).join(','));
    }
    expect(keys.size).toBe(size);
  });

  it('prior samples are compositions, reproducible, and a sampler can replace the uniform prior', () => {
    const a = samplePrior(new Rng(1), 4, 100);
    expect(samplePrior(new Rng(1), 4, 100)).toEqual(a);
    for (let i = 0; i < 100; i++) expect(a[4 * i]! + a[4 * i + 1]! + a[4 * i + 2]! + a[4 * i + 3]!).toBeCloseTo(1, 12);
    const corner = samplePrior(new Rng(1), 3, 5, () => [1, 0, 0]);
    expect(Array.from(corner.subarray(0, 3))).toEqual([1, 0, 0]);
    expect(() => samplePrior(new Rng(1), 3, 5, () => [0.5, 0.2, 0.2])).toThrow(/fractions sum to 0\.(9|899)/);
    expect(() => samplePrior(new Rng(1), 3, 5, () => [1, 0])).toThrow(/returned 2 fractions, expected 3/);
    expect(() => simplexGrid(3, 0.3)).toThrow(/1 \/ step must be a whole number/);
  });

  it('nearestDistances is the brute-force minimum', () => {
    const pts = [0, 0, 1, 1, 0, 0];
    const seen = [0, 0.5, 0.5];
    expect(Array.from(nearestDistances(pts, seen, 3))).toEqual([Math.hypot(0, 0.5, 0.5), Math.hypot(1, 0.5, 0.5)]);
    expect(Array.from(nearestDistances(pts, [], 3))).toEqual([Infinity, Infinity]);
  });

  it('createPriorPool draws its points from the sampler', () => {
    const gp = new GaussianProcess({ dims: 3, kernel: 'rbf' });
    const pool = createPriorPool(gp, new Rng(2), 10, () => [0.2, 0.3, 0.5]);
    expect(pool).toBeInstanceOf(PosteriorPool);
    expect(Array.from(pool.points.subarray(27, 30))).toEqual([0.2, 0.3, 0.5]);
  });
});
