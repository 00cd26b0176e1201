import type { Rng } from '../../protocol/random.js';
import type { FieldGeometry } from './checks.js';
import { gaussianMass } from './math.js';

/**
 * Where a particle's signal lands in a scanned image, and how much of it the parked probe sees.
 *
 * A particle is a sphere of radius R; the signal it gives at a point is f(t), t the projected
 * thickness 2 sqrt(R^2 - r^2), with f(t) = t for X-rays (thin-film yield, absorption ignored)
 * and f(t) = 1 - exp(-mu t) for HAADF (fraction of the electrons scattered onto the annular
 * detector, saturating in thick particles). The scan is modelled as area-averaging: a pixel
 * records the mean of the probe-convolved signal over its area (a point-sampled scan at
 * 60-120 nm pixels would miss most 20 nm particles; real overview scans average or line-integrate).
 */

export interface Footprint {
  /** Row-major pixel indices inside the field. */
  index: Int32Array;
  /** Share of the particle's integrated signal landing in each pixel (sums to <= 1: less near the edges). */
  weight: Float64Array;
}

const EMPTY: Footprint = { index: new Int32Array(0), weight: new Float64Array(0) };

/** f(t): linear (mu = 0) or the saturating HAADF response. */
function response(t_m: number, mu_per_m: number): number {
  return mu_per_m > 0 ? -Math.expm1(-mu_per_m * t_m) : t_m;
}

/**
 * Integral of f(t) over the particle's projected disc: 4/3 pi R^3 (m^3) when linear; in closed
 * form pi R^2 - 2 pi (1 - e^{-aR}(1 + aR)) / a^2, a = 2 mu (m^2), when saturating (its series
 * below aR = 1e-2, where the closed form cancels).
 */
export function integratedResponse(radius_m: number, mu_per_m: number): number {
  const R = radius_m;
  if (!(mu_per_m > 0)) return (4 / 3) * Math.PI * R * R * R;
  const x = 2 * mu_per_m * R;
  if (x < 1e-2) return 2 * Math.PI * R * R * (x / 3 - (x * x) / 8 + (x * x * x) / 30);
  const a = 2 * mu_per_m;
  return Math.PI * R * R - (2 * Math.PI * (1 - Math.exp(-x) * (1 + x))) / (a * a);
}

/**
 * The footprint of one particle. Unresolved particles (R <= pixel) are a Gaussian whose variance
 * per axis is the probe's plus R^2/5 (the second moment of a sphere's projected volume),
 * integrated over each pixel (erf differences): the pixel, not the shape, sets the image there.
 * Resolved particles are drawn as the actual disc profile (sub-sampled at the edge) and then
 * convolved with the probe when the probe is wider than a third of a pixel.
 */
export function particleFootprint(field: FieldGeometry, x_m: number, y_m: number, radius_m: number, psf_sigma_m: number, mu_per_m: number): Footprint {
  const n = field.imsize;
  const px = field.fov_m / n;
  const left = field.center_m[0] - field.fov_m / 2;
  const top = field.center_m[1] - field.fov_m / 2;
  if (radius_m <= px) return gaussianFootprint(n, px, left, top, x_m, y_m, Math.sqrt(psf_sigma_m * psf_sigma_m + (radius_m * radius_m) / 5));
  return discFootprint(n, px, left, top, x_m, y_m, radius_m, psf_sigma_m, mu_per_m);
}

function gaussianFootprint(n: number, px: number, left: number, top: number, x: number, y: number, sigma: number): Footprint {
  const reach = 5 * sigma;
  const j0 = Math.max(0, Math.floor((x - reach - left) / px));
  const j1 = Math.min(n - 1, Math.floor((x + reach - left) / px));
  const i0 = Math.max(0, Math.floor((y - reach - top) / px));
  const i1 = Math.min(n - 1, Math.floor((y + reach - top) / px));
  if (j1 < j0 || i1 < i0) return EMPTY;
  const wx = new Float64Array(j1 - j0 + 1);
  const wy = new Float64Array(i1 - i0 + 1);
  for (let j = j0; j <= j1; j++) wx[j - j0] = gaussianMass(left + j * px, left + (j + 1) * px, x, sigma);
  for (let i = i0; i <= i1; i++) wy[i - i0] = gaussianMass(top + i * px, top + (i + 1) * px, y, sigma);
  return collect(n, i0, i1, j0, j1, (i, j) => wy[i - i0]! * wx[j - j0]!);
}

function discFootprint(n: number, px: number, left: number, top: number, x: number, y: number, R: number, sigma: number, mu: number): Footprint {
  const kr = sigma / px > 0.3 ? Math.ceil((4 * sigma) / px) : 0;
  // Disc pixels (limited to the field plus the kernel's reach: pixels further out cannot land inside).
  const j0 = Math.max(-kr, Math.floor((x - R - left) / px));
  const j1 = Math.min(n - 1 + kr, Math.floor((x + R - left) / px));
  const i0 = Math.max(-kr, Math.floor((y - R - top) / px));
  const i1 = Math.min(n - 1 + kr, Math.floor((y + R - top) / px));
  if (j1 < j0 || i1 < i0) return EMPTY;
  const w = j1 - j0 + 1;
  const h = i1 - i0 + 1;
  // Sub-samples per pixel axis: enough that the disc edge is resolved to ~1 % in mass.
  const sub = R / px > 8 ? 1 : R / px > 3 ? 4 : 8;
  const norm = (px * px) / (sub * sub) / integratedResponse(R, mu);
  const R2 = R * R;
  const disc = new Float64Array(w * h);
  for (let i = i0; i <= i1; i++) {
    for (let j = j0; j <= j1; j++) {
      let s = 0;
      for (let a = 0; a < sub; a++) {
        const dy = top + (i + (a + 0.5) / sub) * px - y;
        for (let b = 0; b < sub; b++) {
          const dx = left + (j + (b + 0.5) / sub) * px - x;
          const r2 = dx * dx + dy * dy;
          if (r2 < R2) s += response(2 * Math.sqrt(R2 - r2), mu);
        }
      }
      disc[(i - i0) * w + (j - j0)] = s * norm;
    }
  }
  if (kr === 0) return collect(n, i0, i1, j0, j1, (i, j) => disc[(i - i0) * w + (j - j0)]!);

  const kernel = new Float64Array(2 * kr + 1);
  let ksum = 0;
  for (let k = -kr; k <= kr; k++) ksum += kernel[k + kr] = gaussianMass((k - 0.5) * px, (k + 0.5) * px, 0, sigma);
  for (let k = 0; k < kernel.length; k++) kernel[k]! /= ksum;
  // Separable convolution onto the output range, clipped to the field.
  const oj0 = Math.max(0, j0 - kr);
  const oj1 = Math.min(n - 1, j1 + kr);
  const oi0 = Math.max(0, i0 - kr);
  const oi1 = Math.min(n - 1, i1 + kr);
  if (oj1 < oj0 || oi1 < oi0) return EMPTY;
  const ow = oj1 - oj0 + 1;
  const rowsConv = new Float64Array(h * ow);
  for (let i = 0; i < h; i++) {
    for (let oj = oj0; oj <= oj1; oj++) {
      let s = 0;
      const ja = Math.max(j0, oj - kr);
      const jb = Math.min(j1, oj + kr);
      for (let j = ja; j <= jb; j++) s += disc[i * w + (j - j0)]! * kernel[oj - j + kr]!;
      rowsConv[i * ow + (oj - oj0)] = s;
    }
  }
  return collect(n, oi0, oi1, oj0, oj1, (oi, oj) => {
    let s = 0;
    const ia = Math.max(i0, oi - kr);
    const ib = Math.min(i1, oi + kr);
    for (let i = ia; i <= ib; i++) s += rowsConv[(i - i0) * ow + (oj - oj0)]! * kernel[oi - i + kr]!;
    return s;
  });
}

/** Gathers the positive in-field weights of rows i0..i1, columns j0..j1. */
function collect(n: number, i0: number, i1: number, j0: number, j1: number, weightAt: (i: number, j: number) => number): Footprint {
  const a = Math.max(0, i0);
  const b = Math.min(n - 1, i1);
  const c = Math.max(0, j0);
  const d = Math.min(n - 1, j1);
  if (b < a || d < c) return EMPTY;
  const cap = (b - a + 1) * (d - c + 1);
  const index = new Int32Array(cap);
  const weight = new Float64Array(cap);
  let k = 0;
  for (let i = a; i <= b; i++) {
    for (let j = c; j <= d; j++) {
      const v = weightAt(i, j);
      if (v > 0) {
        index[k] = i * n + j;
        weight[k] = v;
        k++;
      }
    }
  }
  return { index: index.subarray(0, k), weight: weight.subarray(0, k) };
}

/** One particle's share of an image's mean: `amplitude` x its footprint. */
export interface ImageSource {
  fp: Footprint;
  amplitude: number;
}

/**
 * Poisson counts of a size-pixel image whose mean is a uniform `background` plus the sources:
 * the background drawn for every pixel at once (Rng.poissonFill), then each source's pixels added
 * as Poisson draws of their own means. A sum of independent Poisson counts is Poisson of the summed
 * means, so each pixel is Poisson(background + sum of sources), as one draw of the total would be.
 */
export function poissonImage(
  size: number,
  background: number,
  sources: readonly ImageSource[],
  rng: Pick<Rng, 'poisson'> & Partial<Pick<Rng, 'poissonFill'>>,
): Float64Array {
  const out = new Float64Array(size);
  if (typeof rng.poissonFill === 'function') rng.poissonFill(out, background);
  else for (let i = 0; i < size; i++) out[i] = rng.poisson(background);
  for (const { fp, amplitude } of sources) {
    const { index, weight } = fp;
    for (let k = 0; k < index.length; k++) {
      const m = amplitude * weight[k]!;
      if (m > 0) out[index[k]!]! += rng.poisson(m);
    }
  }
  return out;
}

/** Adds amplitude x footprint to an image. */
export function addFootprint(image: Float64Array, fp: Footprint, amplitude: number): void {
  const { index, weight } = fp;
  for (let k = 0; k < index.length; k++) image[index[k]!]! += amplitude * weight[k]!;
}

/** Grid points per axis of the probe-overlap quadrature (midpoint rule on the overlap box). */
const OVERLAP_GRID = 48;

/**
 * Probe-weighted response of one particle to a parked beam: the integral of g(r - beam) f(t(r))
 * over the plane, g the Gaussian probe (per m^2). Linear f gives the mean thickness the probe
 * electrons cross (m); the saturating f the fraction of them scattered. Midpoint rule on the box
 * where the disc and +-5 sigma of the probe overlap: the box is at most 2R and 10 sigma wide, so
 * 48 points resolve both the disc and the probe.
 */
export function probeOverlap(x_m: number, y_m: number, radius_m: number, beam_m: readonly [number, number], sigma_m: number, mu_per_m: number): number {
  const R = radius_m;
  const [bx, by] = beam_m;
  if (!(sigma_m > 0)) {
    const r2 = (bx - x_m) ** 2 + (by - y_m) ** 2;
    return r2 < R * R ? response(2 * Math.sqrt(R * R - r2), mu_per_m) : 0;
  }
  const x0 = Math.max(x_m - R, bx - 5 * sigma_m);
  const x1 = Math.min(x_m + R, bx + 5 * sigma_m);
  const y0 = Math.max(y_m - R, by - 5 * sigma_m);
  const y1 = Math.min(y_m + R, by + 5 * sigma_m);
  if (!(x1 > x0 && y1 > y0)) return 0;
  const dx = (x1 - x0) / OVERLAP_GRID;
  const dy = (y1 - y0) / OVERLAP_GRID;
  const inv2s2 = 1 / (2 * sigma_m * sigma_m);
  const R2 = R * R;
  let s = 0;
  for (let a = 0; a < OVERLAP_GRID; a++) {
    const y = y0 + (a + 0.5) * dy;
    const ey = (y - by) * (y - by);
    const py = (y - y_m) * (y - y_m);
    for (let b = 0; b < OVERLAP_GRID; b++) {
      const x = x0 + (b + 0.5) * dx;
      const r2 = (x - x_m) * (x - x_m) + py;
      if (r2 >= R2) continue;
      s += Math.exp(-((x - bx) * (x - bx) + ey) * inv2s2) * response(2 * Math.sqrt(R2 - r2), mu_per_m);
    }
  }
  return (s * dx * dy * inv2s2) / Math.PI;
}
