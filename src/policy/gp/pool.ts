import type { GaussianProcess } from './gp.js';

/**
 * The posterior of a GP at a fixed set of points (the Monte Carlo prior samples of the switching
 * rule, or a region's particles), kept up to date cheaply.
 *
 * Per pool point p the pool holds v_p = L^-1 k(X, x_p), stored column by column (one Float64Array
 * of length m per observation). When the GP gains observation n by a rank-1 update, the new entry
 * is v_p[n] = (k(x_n, x_p) - L[n, :n] . v_p[:n]) / L[n, n], so an update costs O(n) per point
 * instead of O(n^2); mean = v . z and variance = k** - |v|^2 follow in O(1). When the GP was
 * refactorised (its `version` changed), the pool rebuilds from scratch.
 *
 * Also tracks, per point, the Euclidean distance (original input units) to the nearest observed
 * input: the d(c, C_seen) of the novelty term (eq. 14). Only when asked for, and apart from the
 * posterior: a refactorisation leaves the observed inputs as they were, so their distances stand.
 *
 * Reading `posterior()` or `nearestObservedDistance()` syncs first; the arrays returned are the
 * pool's own buffers, valid until the next sync.
 */
export class PosteriorPool {
  readonly size: number;
  readonly dims: number;
  /** Pool points in original units, size x dims row-major. */
  readonly points: Float64Array;
  private readonly scaledByDim: Float64Array;
  private columns: Float64Array[] = [];
  private readonly spare: Float64Array[] = [];
  private readonly meanStd: Float64Array;
  private readonly varSum: Float64Array;
  private readonly nearest: Float64Array;
  /** Observations whose inputs `nearest` holds, and a copy of those inputs. */
  private nearestN = 0;
  private nearestInputs = new Float64Array(0);
  private readonly mean: Float64Array;
  private readonly variance: Float64Array;
  private readonly r2: Float64Array;
  private syncedVersion = -1;
  private syncedN = 0;
  private outputsFresh = false;

  constructor(
    private readonly gp: GaussianProcess,
    points: ArrayLike<number>,
  ) {
    const D = gp.dims;
    if (points.length === 0 || points.length % D !== 0) throw new RangeError(`PosteriorPool: points must be a non-empty multiple of dims = ${D} values, got ${points.length}`);
    for (let i = 0; i < points.length; i++) if (!Number.isFinite(points[i]!)) throw new RangeError(`PosteriorPool: points[${i}] must be finite, got ${points[i]}`);
    this.dims = D;
    this.size = points.length / D;
    this.points = Float64Array.from(points);
    const m = this.size;
    this.scaledByDim = new Float64Array(m * D);
    this.meanStd = new Float64Array(m);
    this.varSum = new Float64Array(m);
    this.nearest = new Float64Array(m).fill(Infinity);
    this.mean = new Float64Array(m);
    this.variance = new Float64Array(m);
    this.r2 = new Float64Array(m);
  }

  /** Observations the pool currently reflects. */
  get observations(): number {
    return this.syncedN;
  }

  /** Brings the pool up to the GP's current state: extends by new observations, or rebuilds after a refactorisation. */
  sync(): void {
    const gp = this.gp;
    if (gp.version !== this.syncedVersion) this.reset();
    if (this.syncedN === gp.n && this.outputsFresh) return;
    // After a refactorisation every column is new: two at a time, then one.
    let j = this.syncedN;
    for (; j + 1 < gp.n; j += 2) this.extendPair(j);
    for (; j < gp.n; j++) this.extend(j);
    const s2 = gp.signalVariance;
    const m0 = gp.outputMean;
    const scale = gp.outputScale;
    for (let p = 0; p < this.size; p++) {
      this.mean[p] = m0 + scale * this.meanStd[p]!;
      this.variance[p] = scale * scale * Math.max(0, s2 - this.varSum[p]!);
    }
    this.outputsFresh = true;
  }

  /** Posterior mean and latent variance at the pool points, original units. */
  posterior(): { mean: Float64Array; variance: Float64Array } {
    this.sync();
    return { mean: this.mean, variance: this.variance };
  }

  /** Distance from each pool point to the nearest observed input (Infinity without observations). */
  nearestObservedDistance(): Float64Array {
    this.sync();
    const gp = this.gp;
    const D = this.dims;
    // Inputs folded in so far, unless the data was replaced by other inputs (setData): then afresh.
    let same = this.nearestN <= gp.n;
    for (let j = 0; same && j < this.nearestN; j++) {
      const raw = gp.rawInput(j);
      for (let d = 0; d < D; d++) if (raw[d] !== this.nearestInputs[j * D + d]) same = false;
    }
    if (!same) {
      this.nearest.fill(Infinity);
      this.nearestN = 0;
    }
    if (this.nearestInputs.length < gp.n * D) {
      const grown = new Float64Array(Math.max(gp.n * D, 2 * this.nearestInputs.length));
      grown.set(this.nearestInputs);
      this.nearestInputs = grown;
    }
    const m = this.size;
    for (let j = this.nearestN; j < gp.n; j++) {
      const raw = gp.rawInput(j);
      this.nearestInputs.set(raw, j * D);
      for (let p = 0; p < m; p++) {
        let dd = 0;
        for (let d = 0; d < D; d++) {
          const t = this.points[p * D + d]! - raw[d]!;
          dd += t * t;
        }
        const dist = Math.sqrt(dd);
        if (dist < this.nearest[p]!) this.nearest[p] = dist;
      }
    }
    this.nearestN = gp.n;
    return this.nearest;
  }

  private reset(): void {
    const gp = this.gp;
    const m = this.size;
    const D = this.dims;
    const pointMajor = gp.scaleInputsInto(this.points, m, new Float64Array(m * D));
    for (let p = 0; p < m; p++) for (let d = 0; d < D; d++) this.scaledByDim[d * m + p] = pointMajor[p * D + d]!;
    for (const c of this.columns) this.spare.push(c);
    this.columns = [];
    this.meanStd.fill(0);
    this.varSum.fill(0);
    this.syncedN = 0;
    this.syncedVersion = gp.version;
    this.outputsFresh = false;
  }

  /** Adds the column of observation j (all earlier columns present). */
  private extend(j: number): void {
    const col = this.kernelColumn(j);
    this.reduce(col, this.gp.factorRow(j), 0, j);
    this.finish(col, j);
  }

  /**
   * Adds the columns of observations j and j + 1 (all earlier columns present): both reduced in
   * one pass over the earlier columns, each load of those feeding both. Each column's arithmetic,
   * and its order, is extend's: j + 1's last group of four, if it has one, includes column j.
   */
  private extendPair(j: number): void {
    const m = this.size;
    const a = this.kernelColumn(j);
    const b = this.kernelColumn(j + 1);
    const rowA = this.gp.factorRow(j);
    const rowB = this.gp.factorRow(j + 1);
    const cols = this.columns;
    let i = 0;
    for (; i + 3 < j; i += 4) {
      const a0 = rowA[i]!, a1 = rowA[i + 1]!, a2 = rowA[i + 2]!, a3 = rowA[i + 3]!;
      const b0 = rowB[i]!, b1 = rowB[i + 1]!, b2 = rowB[i + 2]!, b3 = rowB[i + 3]!;
      const v0 = cols[i]!, v1 = cols[i + 1]!, v2 = cols[i + 2]!, v3 = cols[i + 3]!;
      for (let p = 0; p < m; p++) {
        const w0 = v0[p]!, w1 = v1[p]!, w2 = v2[p]!, w3 = v3[p]!;
        a[p]! -= a0 * w0 + a1 * w1 + a2 * w2 + a3 * w3;
        b[p]! -= b0 * w0 + b1 * w1 + b2 * w2 + b3 * w3;
      }
    }
    this.reduce(a, rowA, i, j);
    this.finish(a, j);
    this.reduce(b, rowB, i, j + 1);
    this.finish(b, j + 1);
  }

  /** The kernel column of observation j over the pool. */
  private kernelColumn(j: number): Float64Array {
    const gp = this.gp;
    const m = this.size;
    const D = this.dims;
    const col = this.spare.pop() ?? new Float64Array(m);
    const r2 = this.r2;
    r2.fill(0);
    const xj = gp.scaledInput(j);
    for (let d = 0; d < D; d++) {
      const xd = xj[d]!;
      const o = d * m;
      for (let p = 0; p < m; p++) {
        const t = this.scaledByDim[o + p]! - xd;
        r2[p]! += t * t;
      }
    }
    const s2 = gp.signalVariance;
    if (gp.kernel === 'matern52') {
      const SQRT5 = Math.sqrt(5);
      for (let p = 0; p < m; p++) {
        const r = Math.sqrt(r2[p]!);
        col[p] = s2 * (1 + SQRT5 * r + (5 / 3) * r2[p]!) * Math.exp(-SQRT5 * r);
      }
    } else {
      for (let p = 0; p < m; p++) col[p] = s2 * Math.exp(-0.5 * r2[p]!);
    }
    return col;
  }

  /** col -= sum over i in [from, to) of row[i] v_i, four columns per pass from `from` (then one by one). */
  private reduce(col: Float64Array, row: Float64Array, from: number, to: number): void {
    const m = this.size;
    const cols = this.columns;
    let i = from;
    // Four columns per pass: a quarter of the loads and stores of col.
    for (; i + 3 < to; i += 4) {
      const c0 = row[i]!, c1 = row[i + 1]!, c2 = row[i + 2]!, c3 = row[i + 3]!;
      const v0 = cols[i]!, v1 = cols[i + 1]!, v2 = cols[i + 2]!, v3 = cols[i + 3]!;
      for (let p = 0; p < m; p++) col[p]! -= c0 * v0[p]! + c1 * v1[p]! + c2 * v2[p]! + c3 * v3[p]!;
    }
    for (; i < to; i++) {
      const c = row[i]!;
      const vi = cols[i]!;
      for (let p = 0; p < m; p++) col[p]! -= c * vi[p]!;
    }
  }

  /** Divides the reduced column j by L[j][j] and adds it to the means and variances. */
  private finish(col: Float64Array, j: number): void {
    const m = this.size;
    const inv = 1 / this.gp.factorRow(j)[j]!;
    const zj = this.gp.whitenedTarget(j);
    for (let p = 0; p < m; p++) {
      const v = col[p]! * inv;
      col[p] = v;
      this.meanStd[p]! += v * zj;
      this.varSum[p]! += v * v;
    }
    this.columns.push(col);
    this.syncedN = j + 1;
    this.outputsFresh = false;
  }
}
