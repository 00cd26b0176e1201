/**
 * Stationary ARD kernels as functions of the squared scaled distance
 * r^2 = sum_d ((x_d - x'_d) / l_d)^2, with inputs already normalised to the unit cube and outputs
 * standardised (see transforms.ts), so the hyperparameters below are in those units.
 */

export type KernelName = 'matern52' | 'rbf';

export const KERNEL_NAMES: readonly KernelName[] = ['matern52', 'rbf'];

export interface Hyperparameters {
  /** One length scale per input dimension (normalised input units). */
  lengthscales: Float64Array;
  /** Prior variance of the latent function (standardised output units). */
  signalVariance: number;
  /** Observation noise variance (standardised output units). */
  noiseVariance: number;
}

const SQRT5 = Math.sqrt(5);

/** k(r^2) / signalVariance. */
export function correlation(kernel: KernelName, r2: number): number {
  if (kernel === 'rbf') return Math.exp(-0.5 * r2);
  const r = Math.sqrt(r2);
  return (1 + SQRT5 * r + (5 / 3) * r2) * Math.exp(-SQRT5 * r);
}

/**
 * g(r^2) / signalVariance with dk/d(log l_d) = g(r^2) * ((x_d - x'_d) / l_d)^2: the factor every
 * length-scale derivative shares (it has no 1/r, so it is finite at r = 0).
 */
export function lengthscaleGradientFactor(kernel: KernelName, r2: number): number {
  if (kernel === 'rbf') return Math.exp(-0.5 * r2);
  const r = Math.sqrt(r2);
  return (5 / 3) * (1 + SQRT5 * r) * Math.exp(-SQRT5 * r);
}

/**
 * -k''(0) / signalVariance per unit of (scaled) distance: the expected squared slope of a function
 * drawn from the kernel, E[(df/dx_d)^2] = signalVariance * curvature / l_d^2 (5/3 for Matern 5/2,
 * from k = 1 - 5 r^2 / 6 + ..., and 1 for the RBF).
 */
export function curvature(kernel: KernelName): number {
  return kernel === 'rbf' ? 1 : 5 / 3;
}

export function checkKernelName(kernel: string): KernelName {
  if (kernel !== 'matern52' && kernel !== 'rbf') throw new RangeError(`kernel: must be one of ${KERNEL_NAMES.join(', ')}, got "${kernel}"`);
  return kernel;
}

/** Validates hyperparameters against the input dimension; returns a defensive copy. */
export function checkHyperparameters(h: Hyperparameters, dims: number, field = 'hyperparameters'): Hyperparameters {
  if (h.lengthscales.length !== dims) throw new RangeError(`${field}.lengthscales: needs ${dims} entries (one per input), got ${h.lengthscales.length}`);
  for (let d = 0; d < dims; d++) {
    const l = h.lengthscales[d]!;
    if (!(l > 0) || !Number.isFinite(l)) throw new RangeError(`${field}.lengthscales[${d}]: must be a finite number > 0, got ${l}`);
  }
  if (!(h.signalVariance > 0) || !Number.isFinite(h.signalVariance))
    throw new RangeError(`${field}.signalVariance: must be a finite number > 0, got ${h.signalVariance}`);
  if (!(h.noiseVariance >= 0) || !Number.isFinite(h.noiseVariance))
    throw new RangeError(`${field}.noiseVariance: must be a finite number >= 0, got ${h.noiseVariance}`);
  return { lengthscales: Float64Array.from(h.lengthscales), signalVariance: h.signalVariance, noiseVariance: h.noiseVariance };
}

/**
 * Kernel matrix between two point sets given in scaled coordinates (already divided by the length
 * scales), row-major rows x cols; `a` and `b` are flat, `dims` values per point. For tests and
 * references: the GP itself builds packed triangles.
 */
export function kernelMatrix(kernel: KernelName, signalVariance: number, a: Float64Array, b: Float64Array, dims: number): Float64Array {
  const na = a.length / dims;
  const nb = b.length / dims;
  const out = new Float64Array(na * nb);
  for (let i = 0; i < na; i++) {
    for (let j = 0; j < nb; j++) {
      let r2 = 0;
      for (let d = 0; d < dims; d++) {
        const t = a[i * dims + d]! - b[j * dims + d]!;
        r2 += t * t;
      }
      out[i * nb + j] = signalVariance * correlation(kernel, r2);
    }
  }
  return out;
}
