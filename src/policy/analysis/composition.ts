import { EDX_WINDOW_HALF_eV, elementData } from '../../protocol/elements.js';
import type { DataRecord, DatasetRecord } from '../../protocol/instrument.js';
import { imageDataset, imageGeometry, spectrumDataset } from './data.js';
import type { FoundParticle } from './particles.js';

/**
 * EDX quantification (Cliff-Lorimer): per element, net counts in its quant-line window divided by
 * its k-factor, normalised to atomic fractions; per-element uncertainties from counting
 * statistics propagated through the normalisation; then eqs. (2)-(3) of model.md section 3.
 */

export interface Composition {
  fractions: Float64Array;
  sigma: Float64Array;
  /** sigma_k of the component eq. (2) replaced (or would have replaced): model.md section 3. */
  total_sigma: number;
}

/**
 * Eqs. (2)-(3): the component k with the largest sigma is replaced by 1 - sum of the others, with
 * sigma_k = sqrt(sum of the others' sigma^2), only when that lowers sigma_k. total_sigma is the
 * resulting sigma_k. The fractions then sum to 1 whenever the replacement applied or they already did.
 */
export function simplexReestimate(fractions: ArrayLike<number>, sigma: ArrayLike<number>): Composition {
  const D = fractions?.length;
  if (!(D >= 2)) throw new RangeError(`simplexReestimate: need at least 2 fractions, got ${D}`);
  if (sigma?.length !== D) throw new RangeError(`simplexReestimate: sigma has ${sigma?.length} entries, fractions ${D}`);
  let k = 0;
  for (let i = 0; i < D; i++) {
    if (!Number.isFinite(fractions[i])) throw new RangeError(`simplexReestimate: fractions[${i}] must be finite, got ${fractions[i]}`);
    if (!(sigma[i]! >= 0)) throw new RangeError(`simplexReestimate: sigma[${i}] must be >= 0, got ${sigma[i]}`);
    if (sigma[i]! > sigma[k]!) k = i;
  }
  const c = Float64Array.from(fractions);
  const s = Float64Array.from(sigma);
  let others = 0;
  let others2 = 0;
  for (let i = 0; i < D; i++) {
    if (i === k) continue;
    others += c[i]!;
    others2 += s[i]! * s[i]!;
  }
  const replaced = Math.sqrt(others2);
  if (replaced < s[k]!) {
    c[k] = 1 - others;
    s[k] = replaced;
  }
  return { fractions: c, sigma: s, total_sigma: s[k]! };
}

/** Fractions from net counts and their variances per element (k-factor corrected, normalised); null when too weak. */
function normalise(net: Float64Array, variance: Float64Array, kFactors: Float64Array, minNetCounts: number, minSignificance: number): Composition | null {
  const D = net.length;
  let netTotal = 0;
  let T = 0;
  let varT = 0;
  const N = new Float64Array(D);
  const varN = new Float64Array(D);
  for (let i = 0; i < D; i++) {
    netTotal += net[i]!;
    N[i] = net[i]! / kFactors[i]!;
    varN[i] = variance[i]! / (kFactors[i]! * kFactors[i]!);
    T += N[i]!;
    varT += varN[i]!;
  }
  if (!(netTotal >= minNetCounts) || !(T > minSignificance * Math.sqrt(varT))) return null;
  const c = new Float64Array(D);
  const s = new Float64Array(D);
  for (let i = 0; i < D; i++) c[i] = N[i]! / T;
  for (let i = 0; i < D; i++) {
    // dc_i/dN_j = (delta_ij - c_i) / T.
    const v = ((1 - c[i]!) ** 2 * varN[i]! + c[i]! ** 2 * (varT - varN[i]!)) / (T * T);
    s[i] = Math.sqrt(v);
  }
  return simplexReestimate(c, s);
}

export interface QuantifyOptions {
  /** Footprint radius around each particle beyond its radius, px (default 1.5: the pixel holding an unresolved particle and its neighbours). */
  footprint_px?: number;
  /** Particles with fewer net counts over all elements give null (default 50). */
  minNetCounts?: number;
  /** ... or whose total net signal is below this many standard deviations (default 5). */
  minSignificance?: number;
}

function kFactorOf(d: DatasetRecord, element: string): number {
  const k = d.attrs.k_factor;
  if (k === undefined) return elementData(element).kFactor;
  if (typeof k !== 'number' || !(k > 0)) throw new Error(`dataset "${d.name}": attr k_factor must be a number > 0, got ${JSON.stringify(k)}`);
  return k;
}

/** Beam energy assumed by the Kramers fallback for the background scale. */
const BEAM_ENERGY_eV = 200_000;

function windowCentre(d: DatasetRecord): number | undefined {
  const w = d.attrs.window_eV;
  return Array.isArray(w) && w.length === 2 && typeof w[0] === 'number' && typeof w[1] === 'number' ? (w[0] + w[1]) / 2 : undefined;
}

/**
 * The continuum under an element's window over that in the background window: the map's
 * background_scale attr when present; otherwise Kramers' law (E0/E - 1) at the two window
 * centres; 1 when the windows are not recorded.
 */
function backgroundScale(map: DatasetRecord, background: DatasetRecord): number {
  const s = map.attrs.background_scale;
  if (typeof s === 'number' && s > 0 && Number.isFinite(s)) return s;
  const e = windowCentre(map);
  const eb = windowCentre(background);
  if (e === undefined || eb === undefined || !(e > 0 && eb > 0)) return 1;
  return (BEAM_ENERGY_eV / e - 1) / (BEAM_ENERGY_eV / eb - 1);
}

function checkElements(elements: string[]): void {
  if (!Array.isArray(elements) || elements.length < 2) throw new RangeError(`elements: need at least 2 element symbols, got ${JSON.stringify(elements)}`);
  for (const e of elements) elementData(e);
}

/**
 * Quantifies each found particle from an EDX frame ('image/EDS_<El>' per element and
 * 'image/EDS_background'). Each particle sums the pixels whose centres lie within its radius plus
 * `footprint_px` of its centre; a pixel within reach of several particles goes to the nearest.
 * net = gross - background_scale x background, variance = gross + background_scale^2 x background.
 * null for particles outside the frame or with too few counts.
 */
export function quantifyFromFrame(frame: DataRecord, particles: FoundParticle[], elements: string[], opts: QuantifyOptions = {}): (Composition | null)[] {
  checkElements(elements);
  if (!Array.isArray(particles)) throw new TypeError(`particles: expected an array of FoundParticle, got ${String(particles)}`);
  const background = imageDataset(frame, 'image/EDS_background');
  const maps = elements.map((e) => imageDataset(frame, `image/EDS_${e}`));
  for (const m of maps) {
    if (m.shape[0] !== background.shape[0] || m.shape[1] !== background.shape[1])
      throw new Error(`data ${frame.key}: dataset "${m.name}" is [${m.shape.join(', ')}], the background map [${background.shape.join(', ')}]`);
  }
  const g = imageGeometry(frame, background);
  const fp_px = opts.footprint_px ?? 1.5;
  if (!(fp_px > 0)) throw new RangeError(`footprint_px: must be > 0, got ${fp_px}`);
  const minNet = opts.minNetCounts ?? 50;
  const minSig = opts.minSignificance ?? 5;
  const kFactors = Float64Array.from(elements.map((e, i) => kFactorOf(maps[i]!, e)));
  const scales = Float64Array.from(maps.map((m) => backgroundScale(m, background)));
  const { rows, cols, pixel_m: px } = g;

  // Each pixel within reach goes to the nearest particle.
  const owner = new Int32Array(rows * cols).fill(-1);
  const ownerDist = new Float64Array(rows * cols).fill(Infinity);
  particles.forEach((p, a) => {
    const cx = (p.x_m - g.left_m) / px;
    const cy = (p.y_m - g.top_m) / px;
    const reach = fp_px + Math.max(0, p.radius_m) / px;
    const j0 = Math.max(0, Math.floor(cx - reach));
    const j1 = Math.min(cols - 1, Math.ceil(cx + reach));
    const i0 = Math.max(0, Math.floor(cy - reach));
    const i1 = Math.min(rows - 1, Math.ceil(cy + reach));
    for (let i = i0; i <= i1; i++) {
      for (let j = j0; j <= j1; j++) {
        const dist = Math.hypot(j + 0.5 - cx, i + 0.5 - cy);
        const k = i * cols + j;
        if (dist <= reach && dist < ownerDist[k]!) {
          ownerDist[k] = dist;
          owner[k] = a;
        }
      }
    }
  });

  const D = elements.length;
  const P = particles.length;
  const gross = new Float64Array(P * D);
  const bgSum = new Float64Array(P);
  const pixels = new Int32Array(P);
  const bv = background.values;
  // The maps' arrays, not the dataset records (whose shapes vary), inside the loop over pixels.
  const mv = maps.map((m) => m.values);
  for (let k = 0; k < owner.length; k++) {
    const a = owner[k]!;
    if (a < 0) continue;
    pixels[a]!++;
    bgSum[a]! += bv[k]!;
    for (let e = 0; e < D; e++) gross[a * D + e]! += mv[e]![k]!;
  }
  const net = new Float64Array(D);
  const variance = new Float64Array(D);
  return particles.map((_, a) => {
    if (pixels[a] === 0) return null;
    for (let e = 0; e < D; e++) {
      const gr = gross[a * D + e]!;
      const s = scales[e]!;
      net[e] = gr - s * bgSum[a]!;
      variance[e] = gr + s * s * bgSum[a]!;
    }
    return normalise(net, variance, kFactors, minNet, minSig);
  });
}

/**
 * Detector resolution assumed for choosing background windows in point spectra: a silicon drift
 * detector, FWHM 130 eV at Mn Ka with Fano broadening (F = 0.115, 3.8 eV per pair).
 */
function detectorFwhm_eV(energy_eV: number): number {
  const k = 2.3548 ** 2 * 0.115 * 3.8;
  return Math.sqrt(130 ** 2 - k * 5899 + k * Math.max(0, energy_eV));
}

/** Counts in [lo, hi] eV, with fractional edge channels (channel i spans centre +- dispersion / 2). */
function windowSum(values: Float64Array, offset: number, disp: number, lo: number, hi: number): number {
  const c0 = Math.max(0, Math.floor((lo - offset) / disp - 0.5));
  const c1 = Math.min(values.length - 1, Math.ceil((hi - offset) / disp + 0.5));
  let s = 0;
  for (let c = c0; c <= c1; c++) {
    const a = offset + (c - 0.5) * disp;
    const b = a + disp;
    const overlap = Math.min(b, hi) - Math.max(a, lo);
    if (overlap > 0) s += (values[c]! * overlap) / disp;
  }
  return s;
}

/** Side windows for the continuum: this wide, searched outward this far, clear of every line by this many FWHM. */
const SIDE_WIDTH_eV = 100;
const SIDE_SEARCH_eV = 2000;
const LINE_CLEARANCE_FWHM = 2.5;
/** Below this the detector window bends the continuum too much for a linear interpolation. */
const SIDE_MIN_eV = 1000;

/**
 * Composition from an EDX point spectrum. Per element: counts in its quant window (line +- 100 eV)
 * minus the continuum under it, interpolated as a power law (Kramers: ~1/E) from the nearest 100 eV side windows on
 * either side that are clear of every line of the listed elements (2.5 FWHM); then as for the
 * frame. Lines of other elements overlapping a quant window are not deconvolved. When the net
 * signal is too weak (no particle under the beam), the fractions are 1/D with infinite sigma.
 */
export function quantifyPointSpectrum(spectrum: DataRecord, elements: string[], opts: Pick<QuantifyOptions, 'minNetCounts' | 'minSignificance'> = {}): Composition {
  checkElements(elements);
  const { d, offset_eV: off, dispersion_eV: disp } = spectrumDataset(spectrum, 'eds');
  const v = d.values;
  const eMax = off + (v.length - 0.5) * disp;
  const eMin = Math.max(off - 0.5 * disp, SIDE_MIN_eV);
  const lines = elements.flatMap((s) => {
    const el = elementData(s);
    return [el.quantLine, ...el.otherLines].map((l) => {
      const e = l.energy_keV * 1000;
      const half = LINE_CLEARANCE_FWHM * detectorFwhm_eV(e);
      return [e - half, e + half] as const;
    });
  });
  const clear = (lo: number, hi: number) => lo >= eMin && hi <= eMax && lines.every(([a, b]) => hi <= a || lo >= b);
  const D = elements.length;
  const net = new Float64Array(D);
  const variance = new Float64Array(D);
  const kFactors = new Float64Array(D);
  elements.forEach((s, i) => {
    const el = elementData(s);
    kFactors[i] = el.kFactor;
    const centre = el.quantLine.energy_keV * 1000;
    const lo = centre - EDX_WINDOW_HALF_eV;
    const hi = centre + EDX_WINDOW_HALF_eV;
    if (lo < off - 0.5 * disp || hi > eMax) throw new Error(`quantifyPointSpectrum: the ${s} window [${lo}, ${hi}] eV lies outside the spectrum [${off}, ${eMax}] eV`);
    const gross = windowSum(v, off, disp, lo, hi);
    let left: number | undefined;
    let right: number | undefined;
    for (let gap = 0; gap <= SIDE_SEARCH_eV && (left === undefined || right === undefined); gap += 10) {
      if (left === undefined && clear(lo - gap - SIDE_WIDTH_eV, lo - gap)) left = lo - gap - SIDE_WIDTH_eV / 2;
      if (right === undefined && clear(hi + gap, hi + gap + SIDE_WIDTH_eV)) right = hi + gap + SIDE_WIDTH_eV / 2;
    }
    // Continuum per eV at the side windows, interpolated (or carried flat from one side) to the centre.
    const perEv = (c: number) => windowSum(v, off, disp, c - SIDE_WIDTH_eV / 2, c + SIDE_WIDTH_eV / 2) / SIDE_WIDTH_eV;
    let bg = 0;
    let bgVar = 0;
    const width = 2 * EDX_WINDOW_HALF_eV;
    if (left !== undefined && right !== undefined) {
      const mL = perEv(left);
      const mR = perEv(right);
      if (mL > 0 && mR > 0) {
        // Power law through the two sides (Kramers' continuum falls as ~1/E: a straight line would overshoot).
        const t = Math.log(centre / left) / Math.log(right / left);
        bg = width * Math.pow(mL, 1 - t) * Math.pow(mR, t);
        bgVar = bg * bg * (((1 - t) ** 2 / mL + t * t / mR) / SIDE_WIDTH_eV);
      } else {
        const wR = (centre - left) / (right - left);
        bg = width * ((1 - wR) * mL + wR * mR);
        bgVar = width * width * (((1 - wR) ** 2 * Math.max(mL, 0) + wR * wR * Math.max(mR, 0)) / SIDE_WIDTH_eV);
      }
    } else if (left !== undefined || right !== undefined) {
      const m = perEv((left ?? right)!);
      bg = width * m;
      bgVar = (width * width * m) / SIDE_WIDTH_eV;
    }
    net[i] = gross - bg;
    variance[i] = gross + bgVar;
  });
  const c = normalise(net, variance, kFactors, opts.minNetCounts ?? 50, opts.minSignificance ?? 5);
  if (c) return c;
  return { fractions: new Float64Array(D).fill(1 / D), sigma: new Float64Array(D).fill(Infinity), total_sigma: Infinity };
}
