import type { Rng } from '../../protocol/random.js';
import type { PolicySpec } from '../../protocol/scenario.js';
import { GaussianProcess, PosteriorPool } from '../gp/index.js';
import { simplexBounds, simplexGrid } from '../simplex.js';

/** Observations before the first hyperparameter fit. */
export const MIN_FIT = 8;

/**
 * The campaign's surrogate: one GP over (measured composition -> target eV), refitted on a
 * schedule and updated by exact rank-1 steps in between, plus the simplex grid on which the
 * campaign reports its uncertainty and error.
 */
export class CampaignModel {
  readonly gp: GaussianProcess;
  readonly grid: PosteriorPool;
  private readonly gridTruth: Float64Array | null;
  private lastFitN = 0;
  private fits = 0;

  constructor(
    readonly dims: number,
    private readonly spec: PolicySpec['gp'],
    gridStep: number,
    private readonly rng: Rng,
    truth?: (c: Float64Array) => number,
    /** Refactorise and rebuild every posterior pool at each observation: the benchmarks' dense peer. */
    private readonly dense = false,
  ) {
    this.gp = new GaussianProcess({ dims, kernel: spec.kernel, noiseFloor: spec.noise_floor, inputBounds: simplexBounds(dims) });
    const points = simplexGrid(dims, gridStep);
    this.grid = new PosteriorPool(this.gp, points);
    if (truth) {
      // The oracle is evaluated once per grid point: the ground truth does not change.
      this.gridTruth = new Float64Array(this.grid.size);
      for (let p = 0; p < this.grid.size; p++) this.gridTruth[p] = truth(points.subarray(p * dims, (p + 1) * dims));
    } else this.gridTruth = null;
  }

  get observations(): number {
    return this.gp.n;
  }

  /**
   * Adds one measurement. Below MIN_FIT points the hyperparameters stay at their neutral start
   * (a fit to three points is mostly noise) and the data is re-standardised at each point; from
   * then on they are refitted when the data has grown by refit_every points and by half since
   * the last fit (refits thin out as each gets dearer, O(n^3)); in between, an exact rank-1 update.
   */
  observe(composition: Float64Array, value_eV: number, compositionVariance?: Float64Array): void {
    const n = this.gp.n + 1;
    const due = n >= MIN_FIT && (this.fits === 0 || (n - this.lastFitN >= this.spec.refit_every && n >= 1.5 * this.lastFitN));
    // With input_noise, an uncertain composition counts as a noisier observation (GaussianProcess).
    const variance = this.spec.input_noise ? compositionVariance : undefined;
    if (n >= MIN_FIT && !due && !this.dense) {
      this.gp.addObservation(composition, value_eV, variance);
      return;
    }
    const { X, y, inputVariance } = this.gp.data();
    const grow = (a: Float64Array, tail: ArrayLike<number>) => {
      const out = new Float64Array(a.length + tail.length);
      out.set(a);
      out.set(tail, a.length);
      return out;
    };
    const Xn = grow(X, composition);
    const yn = grow(y, [value_eV]);
    const Vn = grow(inputVariance, variance ?? new Float64Array(this.dims));
    this.gp.setData(Xn, yn, n > 1 ? this.gp.hyperparameters : undefined, Vn);
    if (!due) return;
    // Later fits start from the current optimum; one extra random start guards against a poor basin.
    this.gp.fit(this.rng, { restarts: this.fits === 0 ? this.spec.restarts : Math.min(2, this.spec.restarts), maxIterations: 60 });
    this.lastFitN = n;
    this.fits++;
  }

  /** Mean predictive sd (eV) over the grid, and the mean absolute error against the truth. */
  gridMetrics(): { mean_sd: number; mean_abs_error: number | null } {
    const { mean, variance } = this.grid.posterior();
    let sd = 0;
    let err = 0;
    for (let p = 0; p < mean.length; p++) {
      sd += Math.sqrt(Math.max(0, variance[p]!));
      if (this.gridTruth) err += Math.abs(mean[p]! - this.gridTruth[p]!);
    }
    return { mean_sd: sd / mean.length, mean_abs_error: this.gridTruth ? err / mean.length : null };
  }

  /** A pool over a set of compositions (a region's particles), kept current with the GP. */
  poolOf(compositions: Float64Array[]): PosteriorPool | null {
    if (compositions.length === 0) return null;
    const flat = new Float64Array(compositions.length * this.dims);
    compositions.forEach((c, i) => flat.set(c, i * this.dims));
    return new PosteriorPool(this.gp, flat);
  }
}
