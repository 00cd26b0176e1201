/**
 * The defining sum, term by term: sum_k amplitudes[k] exp(-|c - centres_k|^2 / (2 sd^2)),
 * with `centres` holding K compositions of D components, row after row. O(K D) per point; the
 * reference the lattice is checked against, and the fallback where no lattice fits.
 */
export function directSum(centres: Float64Array, amplitudes: Float64Array, D: number, sd: number, c: ArrayLike<number>): number {
  const inv2var = 1 / (2 * sd * sd);
  const K = amplitudes.length;
  let sum = 0;
  if (D === 3) {
    const c0 = c[0]!, c1 = c[1]!, c2 = c[2]!;
    for (let k = 0, o = 0; k < K; k++, o += 3) {
      const d0 = c0 - centres[o]!, d1 = c1 - centres[o + 1]!, d2 = c2 - centres[o + 2]!;
      sum += amplitudes[k]! * Math.exp(-(d0 * d0 + d1 * d1 + d2 * d2) * inv2var);
    }
    return sum;
  }
  for (let k = 0, o = 0; k < K; k++, o += D) {
    let r2 = 0;
    for (let i = 0; i < D; i++) {
      const d = c[i]! - centres[o + i]!;
      r2 += d * d;
    }
    sum += amplitudes[k]! * Math.exp(-r2 * inv2var);
  }
  return sum;
}
