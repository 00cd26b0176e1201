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
   * Replaces each mean by one Poisson draw, in index order: the very draws a loop of poisson()
   * would give (same stream, same values). Faster on images, whose pixels mostly share one
   * background mean: that mean's constants are computed once, and its draws step Alea on local
   * variables (uniform()'s arithmetic, inlined), the state stored back around the other
   * entries' poisson(). One loop per method, so that each is compiled for its own work.
   */
  poissonInPlace(means: Float64Array): Float64Array {
    const common = commonValue(means);
    if (!(common > 0)) {
      for (let i = 0; i < means.length; i++) means[i] = this.poisson(means[i]!);
    } else if (common < 10) this.knuthInPlace(means, common);
    else this.ptrsInPlace(means, common);
    return means;
  }

  private knuthInPlace(means: Float64Array, common: number): void {
    const limit = Math.exp(-common);
    const st = this.state;
    let s0 = st[0]!;
    let s1 = st[1]!;
    let s2 = st[2]!;
    let c = st[3]!;
    for (let i = 0; i < means.length; i++) {
      const m = means[i]!;
      if (m !== common) {
        st[0] = s0;
        st[1] = s1;
        st[2] = s2;
        st[3] = c;
        means[i] = this.poisson(m);
        s0 = st[0]!;
        s1 = st[1]!;
        s2 = st[2]!;
        c = st[3]!;
        continue;
      }
      // Knuth as poissonKnuth; each block ending in `s2 = next` is one step of uniform().
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
      let k = 0;
      let p = s2;
      while (p > limit) {
        k++;
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
        p *= s2;
      }
      means[i] = k;
    }
    st[0] = s0;
    st[1] = s1;
    st[2] = s2;
    st[3] = c;
  }

  private ptrsInPlace(means: Float64Array, common: number): void {
    const { lambda, loglam, a, b, lnInvalpha, vr } = ptrsConstants(common);
    const st = this.state;
    let s0 = st[0]!;
    let s1 = st[1]!;
    let s2 = st[2]!;
    let c = st[3]!;
    for (let i = 0; i < means.length; i++) {
      const m = means[i]!;
      if (m !== common) {
        st[0] = s0;
        st[1] = s1;
        st[2] = s2;
        st[3] = c;
        means[i] = this.poisson(m);
        s0 = st[0]!;
        s1 = st[1]!;
        s2 = st[2]!;
        c = st[3]!;
        continue;
      }
      // PTRS as in poisson(), with the constants computed once; two steps of uniform() per trial.
      for (;;) {
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
        const u = s2 - 0.5;
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
        const v = s2;
        const us = 0.5 - Math.abs(u);
        const k = Math.floor(((2 * a) / us + b) * u + lambda + 0.43);
        if (us >= 0.07 && v <= vr) {
          means[i] = k;
          break;
        }
        if (k < 0 || (us < 0.013 && v > us)) continue;
        if (Math.log(v) + lnInvalpha - Math.log(a / (us * us) + b) <= -lambda + k * loglam - logFactorial(k)) {
          means[i] = k;
          break;
        }
      }
    }
    st[0] = s0;
    st[1] = s1;
    st[2] = s2;
    st[3] = c;
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

/** The constants of PTRS for one mean (Hoermann 1993), as poisson() computes them. */
interface PtrsConstants {
  lambda: number;
  loglam: number;
  a: number;
  b: number;
  lnInvalpha: number;
  vr: number;
}

function ptrsConstants(lambda: number): PtrsConstants {
  const slam = Math.sqrt(lambda);
  const b = 0.931 + 2.53 * slam;
  const a = -0.059 + 0.02483 * b;
  const invalpha = 1.1239 + 1.1328 / (b - 3.4);
  return { lambda, loglam: Math.log(lambda), a, b, lnInvalpha: Math.log(invalpha), vr: 0.9277 - 3.6224 / (b - 2) };
}
