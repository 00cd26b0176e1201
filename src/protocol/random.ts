import seedrandom from 'seedrandom';

/** 2^-32: the resolution of one Alea output. */
const TWO_POW_M32 = 2.3283064365386963e-10;
/** Alea's multiplier. */
const ALEA_A = 2091639;

/**
 * The one seeded random generator of a scenario. Every random draw in the twin and in the
 * policies goes through an Rng that was passed in explicitly; nothing calls Math.random.
 *
 * `fork(label)` derives an independent, reproducible stream, so that adding draws in one part
 * of the simulation (say, the EELS noise) does not shift the draws of another (the specimen).
 *
 * The stream is seedrandom's Alea, draw for draw: seeded by seedrandom, then stepped here (see
 * uniform()) on a state kept in a typed array, which the bulk samplers copy into locals.
 */
export class Rng {
  /** Alea's state s0, s1, s2, c: in a typed array, so that steps update doubles in place. */
  private readonly state: Float64Array;
  private spareNormal: number | undefined;

  constructor(readonly seed: string | number) {
    const { s0, s1, s2, c } = seedrandom.alea(String(seed), { state: true }).state();
    this.state = Float64Array.of(s0, s1, s2, c);
  }

  /** A new generator whose stream depends only on this seed and the label. */
  fork(label: string): Rng {
    return new Rng(`${this.seed}/${label}`);
  }

  /**
   * Uniform on [0, 1), in steps of 2^-32 (Alea). Alea's step is exact integer arithmetic in
   * doubles, x' = (a x + c) mod 2^32 and c' = floor((a x + c) / 2^32) with x = s0 2^32: here the
   * product's integer and fractional parts are split before c is added, so that c' is the
   * integer part plus a rare carry (the usual step, t = a s0 + c 2^-32, c' = t | 0, waits on c
   * through a multiply, an add and two conversions every draw). The results are the same.
   */
  uniform(): number {
    const st = this.state;
    const product = ALEA_A * st[0]!;
    const whole = product | 0;
    let next = product - whole + st[3]! * TWO_POW_M32;
    if (next >= 1) {
      next -= 1;
      st[3] = whole + 1;
    } else st[3] = whole;
    st[0] = st[1]!;
    st[1] = st[2]!;
    st[2] = next;
    return next;
  }

  /**
   * Fills `out` with the next out.length uniforms: the very values of as many uniform() calls,
   * with Alea stepped on local variables (for bulk draws: a specimen's million Gaussian centres).
   */
  fillUniform(out: Float64Array): Float64Array {
    const st = this.state;
    let s0 = st[0]!;
    let s1 = st[1]!;
    let s2 = st[2]!;
    let c = st[3]!;
    for (let i = 0; i < out.length; i++) {
      const product = ALEA_A * s0;
      const whole = product | 0;
      let next = product - whole + c * TWO_POW_M32;
      if (next >= 1) {
        next -= 1;
        c = whole + 1;
      } else c = whole;
      s0 = s1;
      s1 = s2;
      s2 = next;
      out[i] = next;
    }
    st[0] = s0;
    st[1] = s1;
    st[2] = s2;
    st[3] = c;
    return out;
  }

  /** Uniform on [lo, hi). */
  uniformIn(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** Uniform integer in 0..n-1. */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Normal by the polar Box-Muller method (one spare kept). */
  normal(mean = 0, sd = 1): number {
    if (this.spareNormal !== undefined) {
      const z = this.spareNormal;
      this.spareNormal = undefined;
      return mean + sd * z;
    }
    let u: number, v: number, s: number;
    do {
      u = 2 * this.uniform() - 1;
      v = 2 * this.uniform() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    this.spareNormal = v * f;
    return mean + sd * u * f;
  }

  /**
   * Fills `out` with standard normals: the very values of as many normal() calls (spare
   * included), with Alea stepped on local variables.
   */
  fillNormal(out: Float64Array): Float64Array {
    let i = 0;
    if (this.spareNormal !== undefined && out.length > 0) {
      out[i++] = this.spareNormal;
      this.spareNormal = undefined;
    }
    const st = this.state;
    let s0 = st[0]!;
    let s1 = st[1]!;
    let s2 = st[2]!;
    let c = st[3]!;
    while (i < out.length) {
      let u: number, v: number, s: number;
      do {
        // Two steps of uniform() (its arithmetic, on locals).
        let product = ALEA_A * s0;
        let whole = product | 0;
        let next = product - whole + c * TWO_POW_M32;
        if (next >= 1) {
          next -= 1;
          c = whole + 1;
        } else c = whole;
        s0 = s1;
        s1 = s2;
        s2 = next;
        u = 2 * next - 1;
        product = ALEA_A * s0;
        whole = product | 0;
        next = product - whole + c * TWO_POW_M32;
        if (next >= 1) {
          next -= 1;
          c = whole + 1;
        } else c = whole;
        s0 = s1;
        s1 = s2;
        s2 = next;
        v = 2 * next - 1;
        s = u * u + v * v;
      } while (s >= 1 || s === 0);
      const f = Math.sqrt((-2 * Math.log(s)) / s);
      out[i++] = u * f;
      if (i < out.length) out[i++] = v * f;
      else this.spareNormal = v * f;
    }
    st[0] = s0;
    st[1] = s1;
    st[2] = s2;
    st[3] = c;
    return out;
  }

  /** Normal truncated below at `min` (redrawn; falls back to `min` if the mass above is tiny). */
  truncatedNormal(mean: number, sd: number, min: number): number {
    for (let i = 0; i < 1000; i++) {
      const x = this.normal(mean, sd);
      if (x >= min) return x;
    }
    return min;
  }

  /**
   * Poisson. Knuth's product method for small means (cost grows with the mean); from 10 up the
   * PTRS transformed-rejection method of Hoermann (1993), exact and O(1).
   */
  poisson(lambda: number): number {
    if (!(lambda >= 0) || !Number.isFinite(lambda)) throw new RangeError(`poisson: mean must be a finite number >= 0, got ${lambda}`);
    if (lambda === 0) return 0;
    if (lambda < 10) return this.poissonKnuth(Math.exp(-lambda));
    const slam = Math.sqrt(lambda);
    const loglam = Math.log(lambda);
    const b = 0.931 + 2.53 * slam;
    const a = -0.059 + 0.02483 * b;
    const invalpha = 1.1239 + 1.1328 / (b - 3.4);
    const vr = 0.9277 - 3.6224 / (b - 2);
    for (;;) {
      const u = this.uniform() - 0.5;
      const v = this.uniform();
      const us = 0.5 - Math.abs(u);
      const k = Math.floor(((2 * a) / us + b) * u + lambda + 0.43);
      if (us >= 0.07 && v <= vr) return k;
      if (k < 0 || (us < 0.013 && v > us)) continue;
      if (Math.log(v) + Math.log(invalpha) - Math.log(a / (us * us) + b) <= -lambda + k * loglam - logFactorial(k)) return k;
    }
  }

  /**
   * Replaces each mean by one Poisson draw. Faster on images, whose pixels mostly share one
   * background mean: that mean is drawn by inverse-CDF lookup in a table built once per call
   * (poissonTable: one uniform per pixel, Alea stepped on local variables), the other entries by
   * poisson(), all in index order from this one stream. The draws are Poisson to the resolution of
   * the uniforms (see poissonTable), but not the values a loop of poisson() would give.
   */
  poissonInPlace(means: Float64Array): Float64Array {
    const common = commonValue(means);
    const table = common > 0 ? poissonTable(common, means.length) : null;
    if (table) this.tableDraws(means, common, table, false);
    else for (let i = 0; i < means.length; i++) means[i] = this.poisson(means[i]!);
    return means;
  }

  /**
   * Fills `out` with independent Poisson(mean) draws, in index order: as poissonInPlace on an
   * array of `mean`s, without reading one (an image's background, its objects added apart).
   */
  poissonFill(out: Float64Array, mean: number): Float64Array {
    if (!(mean >= 0) || !Number.isFinite(mean)) throw new RangeError(`poisson: mean must be a finite number >= 0, got ${mean}`);
    const table = mean > 0 ? poissonTable(mean, out.length) : null;
    if (table) this.tableDraws(out, mean, table, true);
    else for (let i = 0; i < out.length; i++) out[i] = this.poisson(mean);
    return out;
  }

  /**
   * Draws for poissonInPlace (entries equal to `common` by the table) or, with `fill`, poissonFill,
   * a chunk at a time: first every entry whose cell gives its value at once (tableChunk, one
   * uniform each), noting the others; then those, in index order: a search from the guide for a
   * cell that straddles values (with the uniform drawn for it), a refined draw for the first and
   * last cells, poisson() for another mean. The hot loop thus holds no call and no rare branch of
   * its own.
   */
  private tableDraws(means: Float64Array, common: number, t: PoissonTable, fill: boolean): void {
    const { cdf, cell, cells, kmin } = t;
    const last = cells - 1;
    const pending = new Int32Array(TABLE_CHUNK);
    const pendingU = new Float64Array(TABLE_CHUNK);
    for (let start = 0; start < means.length; start += TABLE_CHUNK) {
      const end = Math.min(means.length, start + TABLE_CHUNK);
      const np = this.tableChunk(means, start, end, common, cell, cells, fill, pending, pendingU);
      for (let q = 0; q < np; q++) {
        const i = pending[q]!;
        const m = fill ? common : means[i]!;
        if (m !== common) {
          means[i] = this.poisson(m);
          continue;
        }
        const u = pendingU[q]!;
        const j = (u * cells) | 0;
        if (j > 0 && j < last) {
          let k = ~cell[j]!;
          while (u >= cdf[k]!) k++;
          means[i] = kmin + k;
        } else means[i] = this.tableEdge(t, u);
      }
    }
  }

  /**
   * tableDraws' fast path over [start, end): one step of uniform() per entry of the common mean
   * (its arithmetic, on locals), its cell's value when the cell has one; the other entries' indices
   * (and uniforms) go to `pending`. Returns how many did.
   */
  private tableChunk(
    means: Float64Array,
    start: number,
    end: number,
    common: number,
    cell: Int32Array,
    cells: number,
    fill: boolean,
    pending: Int32Array,
    pendingU: Float64Array,
  ): number {
    const st = this.state;
    let s0 = st[0]!;
    let s1 = st[1]!;
    let s2 = st[2]!;
    let c = st[3]!;
    let np = 0;
    for (let i = start; i < end; i++) {
      if (!fill && means[i]! !== common) {
        pending[np] = i;
        pendingU[np] = 0;
        np++;
        continue;
      }
      const product = ALEA_A * s0;
      const whole = product | 0;
      let next = product - whole + c * TWO_POW_M32;
      if (next >= 1) {
        next -= 1;
        c = whole + 1;
      } else c = whole;
      s0 = s1;
      s1 = s2;
      s2 = next;
      const code = cell[(next * cells) | 0]!;
      if (code >= 0) means[i] = code;
      else {
        pending[np] = i;
        pendingU[np] = next;
        np++;
      }
    }
    st[0] = s0;
    st[1] = s1;
    st[2] = s2;
    st[3] = c;
    return np;
  }

  /**
   * The draw for a uniform `u` that fell in the table's first or last cell. Within a cell u is
   * uniform, so it is replaced by a fresh uniform on that cell with 64 bits (two draws) instead of
   * 32, and the tails are searched with that resolution: the lower one on the CDF, the upper one
   * on the survival function P(X > k), summed from the top so that masses far below 2^-32 stay
   * exact. Values whose whole probability is below 2^-32 can thus still be drawn.
   */
  private tableEdge(t: PoissonTable, u: number): number {
    const hi = this.uniform();
    const lo = this.uniform();
    if (u < 0.5) {
      // First cell: v uniform on [0, 1/cells); the least k with v < F(k).
      const v = (hi + lo * TWO_POW_M32) / t.cells;
      let k = 0;
      while (v >= t.cdf[k]!) k++;
      return t.kmin + k;
    }
    // Last cell: u = 1 - s with s uniform on (0, 1/cells]; u < F(k) <=> P(X > k) < s.
    const s = (1 - hi - lo * TWO_POW_M32) / t.cells;
    let k = t.tailFrom;
    while (t.survival[k - t.tailFrom]! >= s) k++;
    return t.kmin + k;
  }

  /** Knuth: the number of uniforms multiplied in before the product falls to exp(-lambda). */
  private poissonKnuth(limit: number): number {
    let k = 0;
    let p = this.uniform();
    while (p > limit) {
      k++;
      p *= this.uniform();
    }
    return k;
  }

  /** Gamma(shape, 1) by Marsaglia and Tsang. */
  gamma(shape: number): number {
    if (!(shape > 0)) throw new RangeError(`gamma: shape must be > 0, got ${shape}`);
    if (shape < 1) return this.gamma(shape + 1) * Math.pow(this.uniform(), 1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number, v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.uniform();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v;
      if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /** A point of the simplex from Dirichlet(alpha). */
  dirichlet(alpha: ArrayLike<number>): Float64Array {
    const out = new Float64Array(alpha.length);
    let sum = 0;
    for (let i = 0; i < alpha.length; i++) {
      out[i] = this.gamma(alpha[i]!);
      sum += out[i]!;
    }
    for (let i = 0; i < out.length; i++) out[i]! /= sum;
    return out;
  }

  /** Uniform on the simplex of `d` components: Dirichlet(1, ..., 1) from normalised exponentials. */
  simplexUniform(d: number): Float64Array {
    const out = new Float64Array(d);
    let sum = 0;
    for (let i = 0; i < d; i++) {
      out[i] = -Math.log(1 - this.uniform());
      sum += out[i]!;
    }
    for (let i = 0; i < d; i++) out[i]! /= sum;
    return out;
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = items[i]!;
      items[i] = items[j]!;
      items[j] = t;
    }
    return items;
  }
}

const LOG_FACT_TABLE: number[] = [0];
function logFactorial(k: number): number {
  if (k < 256) {
    while (LOG_FACT_TABLE.length <= k) LOG_FACT_TABLE.push(LOG_FACT_TABLE[LOG_FACT_TABLE.length - 1]! + Math.log(LOG_FACT_TABLE.length));
    return LOG_FACT_TABLE[k]!;
  }
  // Stirling series, accurate to double precision for k >= 256.
  return (k + 0.5) * Math.log(k) - k + 0.5 * Math.log(2 * Math.PI) + 1 / (12 * k) - 1 / (360 * k * k * k);
}

/** Entries sampled to find an image's background mean; it must hold at least this share of them. */
const COMMON_SAMPLES = 64;
const COMMON_MIN_SHARE = 0.25;

/**
 * The value most entries share (the background of an image), judged on evenly spaced samples;
 * NaN when no value is common enough or the array is too short to be worth it.
 */
function commonValue(values: Float64Array): number {
  const n = values.length;
  if (n < 4 * COMMON_SAMPLES) return NaN;
  const samples = new Float64Array(COMMON_SAMPLES);
  for (let s = 0; s < COMMON_SAMPLES; s++) samples[s] = values[Math.floor(((s + 0.5) * n) / COMMON_SAMPLES)]!;
  samples.sort();
  let best = NaN;
  let bestRun = 0;
  for (let s = 0; s < COMMON_SAMPLES; ) {
    let e = s + 1;
    while (e < COMMON_SAMPLES && samples[e] === samples[s]) e++;
    if (e - s > bestRun) {
      bestRun = e - s;
      best = samples[s]!;
    }
    s = e;
  }
  return bestRun >= COMMON_MIN_SHARE * COMMON_SAMPLES && Number.isFinite(best) ? best : NaN;
}

/**
 * Inverse-CDF table of Poisson(lambda) for poissonInPlace, with a guide table (Chen and Asau
 * 1974): cell j of `cells` holds the least k with F(k) > j / cells, so a uniform u in that cell
 * starts its search there; most cells lie inside one value's interval and give it at once.
 *
 * The pmf is tabulated over [kmin, kmax], where it is at least TABLE_TINY (outside, less than
 * ~1e-24 of mass in all: below the resolution of every uniform used here), by the ratios
 * p(k + 1) / p(k) = lambda / (k + 1) outwards from the mode, then normalised. With 32-bit uniforms
 * each probability is met to within 2^-32; the first and last cells are refined to 64 bits
 * (Rng.tableEdge), so the tails are not cut at 2^-32.
 */
export interface PoissonTable {
  /** The value of index 0. */
  kmin: number;
  /** F(kmin + i), the last entry exactly 1. */
  cdf: Float64Array;
  /** A power of two. */
  cells: number;
  /** Per cell, the least index i with cdf[i] > cell / cells. */
  guide: Int32Array;
  /**
   * Per cell, the value itself (kmin + guide) when the whole cell maps to it, else ~guide (< 0):
   * search from there. Always ~guide in the first and last cells, which are refined.
   */
  cell: Int32Array;
  /** Index of the least k with P(X > k) < 1 / cells. */
  tailFrom: number;
  /** P(X > kmin + tailFrom + i), summed from the top; the last entry 0. */
  survival: Float64Array;
}

const TABLE_TINY = 1e-26;
const TABLE_MIN_CELLS = 1024;
/** Entries per pass of Rng.tableDraws. */
const TABLE_CHUNK = 4096;
/** A table is built only for arrays at least this many times its length (else poisson() per entry). */
const TABLE_MIN_USES = 16;

export function poissonTable(lambda: number, uses: number): PoissonTable | null {
  if (!(lambda > 0) || !Number.isFinite(lambda)) return null;
  // Width ~ 2 x 10.7 sd (pmf >= 1e-26 in the normal approximation) plus the small-mean tail.
  if (21.5 * Math.sqrt(lambda) + 40 > uses / TABLE_MIN_USES) return null;
  const mode = Math.floor(lambda);
  const pMode = Math.exp(-lambda + mode * Math.log(lambda) - logFactorial(mode));
  const below: number[] = [];
  for (let k = mode, p = pMode; k > 0; k--) {
    p *= k / lambda;
    if (!(p >= TABLE_TINY)) break;
    below.push(p);
  }
  const above: number[] = [];
  for (let k = mode, p = pMode; ; k++) {
    p *= lambda / (k + 1);
    if (!(p >= TABLE_TINY)) break;
    above.push(p);
  }
  const kmin = mode - below.length;
  const size = below.length + 1 + above.length;
  if (size * TABLE_MIN_USES > uses) return null;
  const pmf = new Float64Array(size);
  for (let i = 0; i < below.length; i++) pmf[below.length - 1 - i] = below[i]!;
  pmf[below.length] = pMode;
  pmf.set(above, below.length + 1);
  let total = 0;
  for (let i = 0; i < size; i++) total += pmf[i]!;
  for (let i = 0; i < size; i++) pmf[i]! /= total;

  const cdf = new Float64Array(size);
  let acc = 0;
  for (let i = 0; i < size; i++) cdf[i] = acc += pmf[i]!;
  cdf[size - 1] = 1;

  let cells = TABLE_MIN_CELLS;
  while (cells < 4 * size) cells *= 2;
  const guide = new Int32Array(cells);
  const cell = new Int32Array(cells);
  for (let j = 0, k = 0; j < cells; j++) {
    while (cdf[k]! <= j / cells) k++;
    guide[j] = k;
    // Every u in [j, j + 1) / cells has u < cdf[k] when cdf[k] >= (j + 1) / cells.
    const whole = j > 0 && j < cells - 1 && cdf[k]! >= (j + 1) / cells;
    cell[j] = whole ? kmin + k : ~k;
  }

  const tail = new Float64Array(size);
  for (let i = size - 2; i >= 0; i--) tail[i] = tail[i + 1]! + pmf[i + 1]!;
  let tailFrom = 0;
  while (!(tail[tailFrom]! < 1 / cells)) tailFrom++;
  return { kmin, cdf, cells, guide, cell, tailFrom, survival: tail.slice(tailFrom) };
}
