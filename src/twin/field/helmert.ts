/**
 * Helmert coordinates of the composition simplex: an orthonormal basis of the plane
 * sum(c) = 1, so Euclidean distances between compositions are preserved in D - 1 coordinates
 * and an isotropic Gaussian over compositions factorises into one Gaussian per coordinate.
 *
 *   u_j = (c_1 + ... + c_j - j c_{j+1}) / sqrt(j (j + 1)),   j = 1 .. D-1
 *   z   = (c_1 + ... + c_D) / sqrt(D)                       (the offset normal to the plane)
 */

/** 1 / sqrt(j (j + 1)) for j = 0.., and 1 / sqrt(j), grown on demand. */
const INV_NORM: number[] = [0];
const INV_SQRT: number[] = [0];
function grow(D: number): void {
  for (let j = INV_NORM.length; j <= D; j++) {
    INV_NORM.push(1 / Math.sqrt(j * (j + 1)));
    INV_SQRT.push(1 / Math.sqrt(j));
  }
}

/** Writes the D-1 Helmert coordinates of `c` into `out`; returns z, the normal component. */
export function toHelmert(c: ArrayLike<number>, out: Float64Array): number {
  const D = c.length;
  if (D >= INV_NORM.length) grow(D);
  let prefix = 0;
  for (let j = 1; j < D; j++) {
    prefix += c[j - 1]!;
    out[j - 1] = (prefix - j * c[j]!) * INV_NORM[j]!;
  }
  return (prefix + c[D - 1]!) * INV_SQRT[D]!;
}

/**
 * Bounding box of the simplex's vertices in Helmert coordinates, per axis: vertex e_i has
 * u_j = 1/sqrt(j(j+1)) for i <= j, -j/sqrt(j(j+1)) for i = j+1, 0 beyond.
 */
export function simplexBox(D: number): { lo: Float64Array; hi: Float64Array } {
  const lo = new Float64Array(D - 1);
  const hi = new Float64Array(D - 1);
  for (let j = 1; j < D; j++) {
    const n = Math.sqrt(j * (j + 1));
    lo[j - 1] = -j / n;
    hi[j - 1] = 1 / n;
  }
  return { lo, hi };
}
