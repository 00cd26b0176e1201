/**
 * Input normalisation to the unit cube and output standardisation. Both are frozen between refits:
 * a rank-1 update must see the same transforms as the factor it extends.
 */

export interface Bounds {
  lower: ArrayLike<number>;
  upper: ArrayLike<number>;
}

/** x -> (x - lower) / (upper - lower) per dimension. */
export class InputNormaliser {
  readonly lower: Float64Array;
  readonly invRange: Float64Array;

  private constructor(
    readonly dims: number,
    lower: Float64Array,
    invRange: Float64Array,
  ) {
    this.lower = lower;
    this.invRange = invRange;
  }

  static fromBounds(dims: number, bounds: Bounds): InputNormaliser {
    if (bounds.lower.length !== dims || bounds.upper.length !== dims)
      throw new RangeError(`inputBounds: lower and upper need ${dims} entries each, got ${bounds.lower.length} and ${bounds.upper.length}`);
    const lower = new Float64Array(dims);
    const invRange = new Float64Array(dims);
    for (let d = 0; d < dims; d++) {
      const lo = bounds.lower[d]!;
      const hi = bounds.upper[d]!;
      if (!Number.isFinite(lo) || !Number.isFinite(hi) || !(hi > lo))
        throw new RangeError(`inputBounds[${d}]: need finite lower < upper, got [${lo}, ${hi}]`);
      lower[d] = lo;
      invRange[d] = 1 / (hi - lo);
    }
    return new InputNormaliser(dims, lower, invRange);
  }

  /** Bounds from the data's per-dimension range; a dimension with no spread keeps unit range. */
  static fromData(dims: number, X: Float64Array, n: number): InputNormaliser {
    const lower = new Float64Array(dims);
    const invRange = new Float64Array(dims).fill(1);
    for (let d = 0; d < dims; d++) {
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = 0; i < n; i++) {
        const v = X[i * dims + d]!;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      if (n === 0) lo = hi = 0;
      lower[d] = lo;
      if (hi > lo) invRange[d] = 1 / (hi - lo);
    }
    return new InputNormaliser(dims, lower, invRange);
  }

  static identity(dims: number): InputNormaliser {
    return new InputNormaliser(dims, new Float64Array(dims), new Float64Array(dims).fill(1));
  }

  /** Writes the normalised, then length-scale-divided, coordinates of `count` points into out. */
  scaleInto(X: ArrayLike<number>, count: number, lengthscales: Float64Array, out: Float64Array, outOffset = 0): Float64Array {
    const D = this.dims;
    for (let i = 0; i < count; i++) {
      for (let d = 0; d < D; d++) out[outOffset + i * D + d] = ((X[i * D + d]! - this.lower[d]!) * this.invRange[d]!) / lengthscales[d]!;
    }
    return out;
  }
}

/** y -> (y - mean) / sd, with sd = 1 when the data have no spread (n < 2 or constant y). */
export class OutputStandardiser {
  constructor(
    readonly mean: number,
    readonly sd: number,
  ) {}

  static fromData(y: Float64Array, n: number): OutputStandardiser {
    if (n === 0) return new OutputStandardiser(0, 1);
    let m = 0;
    for (let i = 0; i < n; i++) m += y[i]!;
    m /= n;
    let ss = 0;
    for (let i = 0; i < n; i++) ss += (y[i]! - m) ** 2;
    const sd = n > 1 ? Math.sqrt(ss / (n - 1)) : 0;
    return new OutputStandardiser(m, sd > 1e-12 * Math.max(1, Math.abs(m)) ? sd : 1);
  }

  forward(y: number): number {
    return (y - this.mean) / this.sd;
  }
}
