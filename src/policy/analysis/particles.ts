import { elementData } from '../../protocol/elements.js';
import type { DataRecord } from '../../protocol/instrument.js';
import { attrNumber, imageDataset, imageGeometry } from './data.js';
import { backgroundSample, clippedStatsOfSample, isCounts, lnNormalTail, lnPoissonTail } from './stats.js';

/**
 * Particle finding on a HAADF image, as a client would do it on data from any microscope.
 *
 * 1. Background: mean and variance of the pixels after clipping the bright outliers. Raw counts
 *    (all integers) are taken as Poisson; other data as Poisson counts times a gain
 *    (variance / mean), or as Gaussian noise when the background mean is not positive.
 * 2. Detection: every 2 x 2 box sum is tested against the background: a particle smaller than a
 *    pixel puts nearly all its signal in one such box. Boxes whose tail probability is below
 *    falseAlarms / boxes seed a detection (so an empty image gives `falseAlarms` false detections
 *    on average); connected boxes below `growProbability` form its region.
 * 3. Measurement over the region, background subtracted: intensity (net counts), centroid, and
 *    second moments.
 * 4. Size. Unresolved spots: from the intensity, inverting the physical relation
 *      counts = (dose per pixel / pixel area) x integral of (1 - exp(-mu t)) over the particle,
 *    t the sphere's projected thickness and mu the HAADF scattering per nm (about 2 % per nm for
 *    gold, growing as Z^1.7). mu depends on the composition, which an overview does not know:
 *    with the elements given, their equal mix is assumed, so the radius is biased by the
 *    composition (for Au-Co-Ni between ~0.8 and ~1.3 times; ~(mu_true/mu_assumed)^(1/3)).
 *    Extended spots (second moment above `extendedVariance_px2`): from the width, R^2 = 5 x
 *    variance (a sphere's projected volume has variance R^2 / 5 per axis), reliable once R spans
 *    a few pixels and the probe is small.
 * 5. Rejection, as the paper does: extended spots whose width-radius exceeds `maxBlurRatio` times
 *    the intensity-radius (blurred, defocused, or several particles merged), elongated spots
 *    (merged pairs), spots closer than `minSeparation_px` to another (their EDX footprints
 *    would mix) and spots within `borderMargin_px` of the edge (partly outside).
 */

export interface FoundParticle {
  x_m: number;
  y_m: number;
  radius_m: number;
  /** place_beam fractions of the image's field (attrs center_m, fov_m): the instrument's when the scan covered the whole field. */
  fx: number;
  fy: number;
  /** Net counts of the spot (background subtracted). */
  intensity: number;
  /** RMS width of the spot per axis, m (pixel quantisation included). */
  width_m: number;
}

export interface FindParticlesOptions {
  /** Expected false detections per image on pure background (default 0.02). */
  falseAlarms?: number;
  /** Tail probability below which a box joins a detection's region (default 1e-3). */
  growProbability?: number;
  /** Minimum centre distance between kept particles, px (default 3). */
  minSeparation_px?: number;
  /** Spots whose centre is closer to the edge are dropped, px (default 1). */
  borderMargin_px?: number;
  /** Second moment (px^2, larger axis) above which a spot is treated as extended (default 0.6). */
  extendedVariance_px2?: number;
  /** Extended spots whose width-radius exceeds this multiple of the intensity-radius are dropped (default 2.5). */
  maxBlurRatio?: number;
  /** Extended spots with a larger axis ratio of second moments are dropped as merged (default 3). */
  maxElongation?: number;
  /** Elements deposited on the specimen: their equal mix sets the assumed HAADF scattering. */
  elements?: string[];
  /** Assumed HAADF scattering per nm of thickness; overrides `elements` (default 0.01, a mid-Z metal). */
  haadfMu_per_nm?: number;
}

/** HAADF scattering per nm of gold thickness (quantitative HAADF: 1-3 % per nm) and the Z-contrast exponent. */
const MU_AU_PER_NM = 0.02;
const Z_EXPONENT = 1.7;
const DEFAULT_MU_PER_NM = 0.01;
const ELECTRON_C = 1.602176634e-19;

/** Integral of 1 - exp(-mu t) over a sphere's projected disc (m^2); series below 2 mu R = 1e-2. */
export function sphereScattering_m2(radius_m: number, mu_per_m: number): number {
  const R = radius_m;
  const x = 2 * mu_per_m * R;
  if (x < 1e-2) return 2 * Math.PI * R * R * (x / 3 - (x * x) / 8 + (x * x * x) / 30);
  return Math.PI * R * R - (2 * Math.PI * (1 - Math.exp(-x) * (1 + x))) / (x * x / (R * R));
}

/** The radius whose scattering integral is `s_m2` (bisection: the integral grows with R). */
export function radiusFromScattering_m(s_m2: number, mu_per_m: number): number {
  if (!(s_m2 > 0)) return 0;
  let lo = 0;
  let hi = 1e-9;
  while (sphereScattering_m2(hi, mu_per_m) < s_m2 && hi < 1) hi *= 2;
  for (let i = 0; i < 60; i++) {
    const mid = 0.5 * (lo + hi);
    if (sphereScattering_m2(mid, mu_per_m) < s_m2) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

function assumedMu_per_m(opts: FindParticlesOptions): number {
  if (opts.haadfMu_per_nm !== undefined) {
    if (!(opts.haadfMu_per_nm > 0)) throw new RangeError(`haadfMu_per_nm: must be > 0, got ${opts.haadfMu_per_nm}`);
    return opts.haadfMu_per_nm * 1e9;
  }
  if (opts.elements && opts.elements.length > 0) {
    let s = 0;
    for (const e of opts.elements) s += Math.pow(elementData(e).Z / 79, Z_EXPONENT);
    return (MU_AU_PER_NM * s * 1e9) / opts.elements.length;
  }
  return DEFAULT_MU_PER_NM * 1e9;
}

function positive(name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!(Number.isFinite(v) && v > 0)) throw new RangeError(`findParticles: ${name} must be a finite number > 0, got ${v}`);
  return v;
}

interface Candidate extends FoundParticle {
  keep: boolean;
}

export function findParticles(image: DataRecord, opts: FindParticlesOptions = {}): FoundParticle[] {
  const d = imageDataset(image, 'image/HAADF');
  const g = imageGeometry(image, d);
  const dwell_s = attrNumber(image, d, 'dwell_time_s');
  const current_pA = attrNumber(image, d, 'beam_current_pA');
  const falseAlarms = positive('falseAlarms', opts.falseAlarms, 0.02);
  const growP = positive('growProbability', opts.growProbability, 1e-3);
  const minSep_px = positive('minSeparation_px', opts.minSeparation_px, 3);
  const border_px = opts.borderMargin_px ?? 1;
  if (!(Number.isFinite(border_px) && border_px >= 0)) throw new RangeError(`findParticles: borderMargin_px must be a finite number >= 0, got ${border_px}`);
  const extendedVar = positive('extendedVariance_px2', opts.extendedVariance_px2, 0.6);
  const maxBlur = positive('maxBlurRatio', opts.maxBlurRatio, 2.5);
  const maxElong = positive('maxElongation', opts.maxElongation, 3);
  const mu = assumedMu_per_m(opts);
  const { rows, cols, pixel_m: px } = g;
  if (rows < 2 || cols < 2) throw new Error(`findParticles: image ${image.key} is ${rows} x ${cols} px; need at least 2 x 2`);
  const v = d.values;

  // 1. Background and noise model.
  const bg = clippedStatsOfSample(backgroundSample(v));
  const b = bg.mean;
  const bRows = rows - 1;
  const bCols = cols - 1;
  const lnSeed = Math.log(falseAlarms / (bRows * bCols));
  const levels = (counts: boolean): { seedSum: number; growSum: number } => {
    let lnTail: (sum: number, pixels: number) => number;
    if (counts && b > 0) lnTail = (s, n) => lnPoissonTail(s, n * b);
    else if (b > 0 && bg.variance > 0) {
      const gain = bg.variance / b;
      lnTail = (s, n) => lnPoissonTail(s / gain, (n * b) / gain);
    } else {
      const sd = Math.sqrt(bg.variance);
      lnTail = (s, n) => (sd > 0 ? lnNormalTail((s - n * b) / (2 * sd)) : s > n * b ? -Infinity : 0);
    }
    const seedSum = sumAtTail(lnTail, lnSeed, 4 * b, Math.sqrt(Math.max(bg.variance, 1e-12) * 4));
    return { seedSum, growSum: Math.min(seedSum, sumAtTail(lnTail, Math.log(growP), 4 * b, Math.sqrt(Math.max(bg.variance, 1e-12) * 4))) };
  };

  // 2. Every 2 x 2 box sum (anchored at its top-left pixel) against the sums whose tail
  //    probabilities are the seed and grow levels (the tail falls monotonically with the sum).
  //    Box sums are formed where needed (no image-sized buffers): almost every box is background.
  //    Raw counts are the usual data: one pass over the image checks that they are and notes the
  //    candidate seed boxes at the count model's level; other data take a second pass at theirs.
  const boxSum = (box: number): number => {
    const bi = Math.floor(box / bCols);
    const k = box + bi;
    return v[k]! + v[k + 1]! + v[k + cols]! + v[k + cols + 1]!;
  };
  let { seedSum, growSum } = levels(true);
  let scan = seedBoxes(v, rows, cols, seedSum, true);
  if (!scan.counts) {
    ({ seedSum, growSum } = levels(false));
    scan = seedBoxes(v, rows, cols, seedSum, false);
  }

  const visited = new Set<number>();
  const regionOwned = new Set<number>();
  const stack: number[] = [];
  const regionPixels: number[] = [];
  const candidates: Candidate[] = [];
  const claim = (k: number) => {
    if (!regionOwned.has(k)) {
      regionOwned.add(k);
      regionPixels.push(k);
    }
  };
  for (const seed of scan.boxes) {
    if (visited.has(seed) || !(boxSum(seed) >= seedSum)) continue;
    // Grow the region over connected significant boxes; collect their pixels once.
    regionPixels.length = 0;
    regionOwned.clear();
    stack.push(seed);
    visited.add(seed);
    while (stack.length) {
      const box = stack.pop()!;
      const bi = Math.floor(box / bCols);
      const bj = box - bi * bCols;
      const top = bi * cols + bj;
      claim(top);
      claim(top + 1);
      claim(top + cols);
      claim(top + cols + 1);
      for (let di = -1; di <= 1; di++) {
        for (let dj = -1; dj <= 1; dj++) {
          const ni = bi + di;
          const nj = bj + dj;
          if (ni < 0 || nj < 0 || ni >= bRows || nj >= bCols) continue;
          const nb = ni * bCols + nj;
          if (!visited.has(nb) && boxSum(nb) >= growSum) {
            visited.add(nb);
            stack.push(nb);
          }
        }
      }
    }
    const c = measure(regionPixels, v, b, cols);
    if (c) candidates.push(toCandidate(c, g, px, dwell_s, current_pA, mu, extendedVar, maxBlur, maxElong));
    else candidates.push({ x_m: 0, y_m: 0, radius_m: 0, fx: 0, fy: 0, intensity: 0, width_m: 0, keep: false });
  }

  // 5. Overlaps and borders.
  for (let a = 0; a < candidates.length; a++) {
    const p = candidates[a]!;
    if (!p.keep) continue;
    const cx = (p.x_m - g.left_m) / px;
    const cy = (p.y_m - g.top_m) / px;
    if (cx < border_px || cy < border_px || cx > cols - border_px || cy > rows - border_px) p.keep = false;
  }
  for (let a = 0; a < candidates.length; a++) {
    const p = candidates[a]!;
    if (p.intensity <= 0) continue;
    for (let c = a + 1; c < candidates.length; c++) {
      const q = candidates[c]!;
      if (q.intensity <= 0) continue;
      const dist = Math.hypot(p.x_m - q.x_m, p.y_m - q.y_m);
      if (dist < Math.max(minSep_px * px, 1.5 * (p.radius_m + q.radius_m))) p.keep = q.keep = false;
    }
  }
  return candidates
    .filter((c) => c.keep)
    .map(({ keep: _keep, ...p }) => p)
    .sort((p, q) => p.y_m - q.y_m || p.x_m - q.x_m);
}

/**
 * Boxes (indices, ascending) that may reach `seedSum`: those holding a pixel of at least a
 * quarter of it (four values cannot sum to more than four times their largest). One pass over
 * the pixels notes the bright ones per row (and, with `checkCounts`, whether every value is a
 * non-negative integer: `counts`, as isCounts); each row of boxes then takes the columns next to
 * the bright pixels of its two pixel rows (merged, so in order).
 */
function seedBoxes(v: Float64Array, rows: number, cols: number, seedSum: number, checkCounts: boolean): { counts: boolean; boxes: Int32Array } {
  const quarter = seedSum / 4;
  const bCols = cols - 1;
  const rowStart = new Int32Array(rows + 1);
  const bright: number[] = [];
  let counts = checkCounts;
  for (let i = 0; i < rows; i++) {
    rowStart[i] = bright.length;
    const base = i * cols;
    if (counts) {
      for (let j = 0; j < cols; j++) {
        const x = v[base + j]!;
        if (!(x >= 0) || x !== Math.floor(x)) counts = false;
        if (x >= quarter) bright.push(j);
      }
    } else {
      for (let j = 0; j < cols; j++) if (v[base + j]! >= quarter) bright.push(j);
    }
    // A threshold down in the background: test every box.
    if (bright.length > v.length / 4) {
      if (counts) counts = isCounts(v.subarray(base + cols));
      return { counts, boxes: Int32Array.from({ length: (rows - 1) * bCols }, (_, box) => box) };
    }
  }
  rowStart[rows] = bright.length;
  const boxes: number[] = [];
  for (let i = 0; i < rows - 1; i++) {
    let a = rowStart[i]!;
    const aEnd = rowStart[i + 1]!;
    let b = aEnd;
    const bEnd = rowStart[i + 2]!;
    let last = -1;
    while (a < aEnd || b < bEnd) {
      const c = b >= bEnd || (a < aEnd && bright[a]! <= bright[b]!) ? bright[a++]! : bright[b++]!;
      for (let j = Math.max(c - 1, last + 1); j <= Math.min(c, bCols - 1); j++) {
        boxes.push(i * bCols + j);
        last = j;
      }
    }
  }
  return { counts, boxes: Int32Array.from(boxes) };
}

/** The smallest box sum whose tail log-probability is below `lnTarget` (bisection; the tail falls with the sum). */
function sumAtTail(lnTail: (sum: number, pixels: number) => number, lnTarget: number, mean: number, sd: number): number {
  let lo = mean;
  let hi = mean + 10 * sd + 10;
  while (lnTail(hi, 4) >= lnTarget) hi = mean + 2 * (hi - mean);
  for (let i = 0; i < 60; i++) {
    const mid = 0.5 * (lo + hi);
    if (lnTail(mid, 4) < lnTarget) hi = mid;
    else lo = mid;
  }
  return hi;
}

interface Moments {
  intensity: number;
  /** Centroid in pixel units (pixel (i, j) centred at (j + 0.5, i + 0.5)). */
  cx: number;
  cy: number;
  vxx: number;
  vyy: number;
  vxy: number;
}

function measure(pixels: readonly number[], v: Float64Array, b: number, cols: number): Moments | undefined {
  let s = 0;
  let sx = 0;
  let sy = 0;
  for (const k of pixels) {
    const w = v[k]! - b;
    const i = Math.floor(k / cols);
    s += w;
    sx += w * (k - i * cols + 0.5);
    sy += w * (i + 0.5);
  }
  if (!(s > 0)) return undefined;
  const cx = sx / s;
  const cy = sy / s;
  let vxx = 0;
  let vyy = 0;
  let vxy = 0;
  for (const k of pixels) {
    const w = v[k]! - b;
    const i = Math.floor(k / cols);
    const dx = k - i * cols + 0.5 - cx;
    const dy = i + 0.5 - cy;
    vxx += w * dx * dx;
    vyy += w * dy * dy;
    vxy += w * dx * dy;
  }
  return { intensity: s, cx, cy, vxx: Math.max(0, vxx / s), vyy: Math.max(0, vyy / s), vxy: vxy / s };
}

function toCandidate(
  m: Moments,
  g: { left_m: number; top_m: number; fov_m: number },
  px: number,
  dwell_s: number,
  current_pA: number,
  mu: number,
  extendedVar: number,
  maxBlur: number,
  maxElong: number,
): Candidate {
  const x_m = g.left_m + m.cx * px;
  const y_m = g.top_m + m.cy * px;
  const electronsPerPixel = (current_pA * 1e-12 * dwell_s) / ELECTRON_C;
  const rIntensity = electronsPerPixel > 0 ? radiusFromScattering_m((m.intensity * px * px) / electronsPerPixel, mu) : 0;
  // Eigenvalues of the second-moment matrix (px^2).
  const mean = (m.vxx + m.vyy) / 2;
  const diff = Math.sqrt(((m.vxx - m.vyy) / 2) ** 2 + m.vxy * m.vxy);
  const major = mean + diff;
  const minor = Math.max(mean - diff, 1e-12);
  let keep = true;
  let radius_m = rIntensity;
  if (major > extendedVar) {
    // Pixel quantisation adds 1/12 px^2 per axis to a resolved profile.
    const rWidth = Math.sqrt(5 * Math.max(0, mean - 1 / 12)) * px;
    if (rWidth > maxBlur * rIntensity || major / minor > maxElong) keep = false;
    radius_m = rWidth;
  }
  return { x_m, y_m, radius_m, fx: (x_m - g.left_m) / g.fov_m, fy: (y_m - g.top_m) / g.fov_m, intensity: m.intensity, width_m: Math.sqrt(mean) * px, keep };
}
