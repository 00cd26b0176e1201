import seedrandom from 'seedrandom';

/**
 * The one seeded random generator of a scenario. Every random draw in the twin and in the
 * policies goes through an Rng that was passed in explicitly; nothing calls Math.random.
 *
 * `fork(label)` derives an independent, reproducible stream, so that adding draws in one part
 * of the simulation (say, the EELS noise) does not shift the draws of another (the specimen).
 */
export class Rng {
  private readonly next: () => number;
  private spareNormal: number | undefined;

  constructor(readonly seed: string | number) {
    this.next = seedrandom.alea(String(seed));
  }

  /** A new generator whose stream depends only on this seed and the label. */
  fork(label: string): Rng {
    return new Rng(`${this.seed}/${label}`);
  }

  /** Uniform on [0, 1). */
  uniform(): number {
    return this.next();
  }

  /** Uniform on [lo, hi). */
  uniformIn(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in 0..n-1. */
  int(n: number): number {
    return Math.floor(this.next() * n);
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
      u = 2 * this.next() - 1;
      v = 2 * this.next() - 1;
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
    if (lambda < 10) {
      const limit = Math.exp(-lambda);
      let k = 0;
      let p = this.next();
      while (p > limit) {
        k++;
        p *= this.next();
      }
      return k;
    }
    const slam = Math.sqrt(lambda);
    const loglam = Math.log(lambda);
    const b = 0.931 + 2.53 * slam;
    const a = -0.059 + 0.02483 * b;
    const invalpha = 1.1239 + 1.1328 / (b - 3.4);
    const vr = 0.9277 - 3.6224 / (b - 2);
    for (;;) {
      const u = this.next() - 0.5;
      const v = this.next();
      const us = 0.5 - Math.abs(u);
      const k = Math.floor(((2 * a) / us + b) * u + lambda + 0.43);
      if (us >= 0.07 && v <= vr) return k;
      if (k < 0 || (us < 0.013 && v > us)) continue;
      if (Math.log(v) + Math.log(invalpha) - Math.log(a / (us * us) + b) <= -lambda + k * loglam - logFactorial(k)) return k;
    }
  }

  /** Gamma(shape, 1) by Marsaglia and Tsang. */
  gamma(shape: number): number {
    if (!(shape > 0)) throw new RangeError(`gamma: shape must be > 0, got ${shape}`);
    if (shape < 1) return this.gamma(shape + 1) * Math.pow(this.next(), 1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number, v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.next();
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
      out[i] = -Math.log(1 - this.next());
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
