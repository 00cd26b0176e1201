/** Dense solves for the small normal equations of the analysis fits (n <= 10). Row-major n x n. */

/** Solves A x = b by Gaussian elimination with partial pivoting; undefined when A is singular. A and b are not modified. */
export function solve(A: Float64Array, b: Float64Array, n: number): Float64Array | undefined {
  const m = Float64Array.from(A);
  const x = Float64Array.from(b);
  for (let col = 0; col < n; col++) {
    let piv = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r * n + col]!) > Math.abs(m[piv * n + col]!)) piv = r;
    const p = m[piv * n + col]!;
    if (!(Math.abs(p) > 1e-300) || !Number.isFinite(p)) return undefined;
    if (piv !== col) {
      for (let c = 0; c < n; c++) {
        const t = m[col * n + c]!;
        m[col * n + c] = m[piv * n + c]!;
        m[piv * n + c] = t;
      }
      const t = x[col]!;
      x[col] = x[piv]!;
      x[piv] = t;
    }
    for (let r = col + 1; r < n; r++) {
      const f = m[r * n + col]! / p;
      if (f === 0) continue;
      for (let c = col; c < n; c++) m[r * n + c]! -= f * m[col * n + c]!;
      x[r]! -= f * x[col]!;
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = x[r]!;
    for (let c = r + 1; c < n; c++) s -= m[r * n + c]! * x[c]!;
    x[r] = s / m[r * n + r]!;
  }
  return x;
}

/** The inverse of A (column by column), or undefined when singular. */
export function invert(A: Float64Array, n: number): Float64Array | undefined {
  const inv = new Float64Array(n * n);
  const e = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    e.fill(0);
    e[c] = 1;
    const col = solve(A, e, n);
    if (!col) return undefined;
    for (let r = 0; r < n; r++) inv[r * n + c] = col[r]!;
  }
  return inv;
}

/**
 * Weighted linear least squares: minimises sum_i w_i (y_i - sum_k X_ik beta_k)^2 over rows i in
 * `rows` (indices into y, w); X given by `basis(i, out)` filling p values. Undefined when singular.
 */
export function weightedLeastSquares(rows: readonly number[], y: ArrayLike<number>, w: ArrayLike<number>, p: number, basis: (i: number, out: Float64Array) => void): Float64Array | undefined {
  const A = new Float64Array(p * p);
  const b = new Float64Array(p);
  const x = new Float64Array(p);
  for (const i of rows) {
    basis(i, x);
    const wi = w[i]!;
    for (let r = 0; r < p; r++) {
      b[r]! += wi * x[r]! * y[i]!;
      for (let c = 0; c < p; c++) A[r * p + c]! += wi * x[r]! * x[c]!;
    }
  }
  return solve(A, b, p);
}
