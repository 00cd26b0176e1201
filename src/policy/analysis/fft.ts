/**
 * Radix-2 complex FFT for the analysis' convolutions (the EELS matched filter). Twiddles and the
 * bit-reversal permutation are computed once per size.
 */

interface FftPlan {
  /** Twiddles of every stage, concatenated: the stage of half-length h holds cos and sin of 2 pi k / 2h, k < h, from index h - 1. */
  cos: Float64Array;
  sin: Float64Array;
  /** The bit-reversal permutation as swap pairs (i, j), i < j. */
  swaps: Uint32Array;
}

const plans = new Map<number, FftPlan>();

function plan(n: number): FftPlan {
  let p = plans.get(n);
  if (p) return p;
  const cos = new Float64Array(Math.max(1, n - 1));
  const sin = new Float64Array(Math.max(1, n - 1));
  for (let h = 1; h < n; h *= 2) {
    for (let k = 0; k < h; k++) {
      cos[h - 1 + k] = Math.cos((Math.PI * k) / h);
      sin[h - 1 + k] = Math.sin((Math.PI * k) / h);
    }
  }
  const bits = Math.log2(n);
  const swaps: number[] = [];
  for (let i = 0; i < n; i++) {
    let r = 0;
    for (let b = 0, x = i; b < bits; b++, x >>= 1) r = (r << 1) | (x & 1);
    if (r > i) swaps.push(i, r);
  }
  p = { cos, sin, swaps: Uint32Array.from(swaps) };
  plans.set(n, p);
  return p;
}

/** The smallest power of two >= n. */
export function fftSize(n: number): number {
  if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`fftSize: n must be an integer >= 1, got ${n}`);
  let size = 1;
  while (size < n) size *= 2;
  return size;
}

/**
 * In place: (re, im) <- sum_j x_j exp(-+2 pi i jk / n), the forward transform (sign -) or the
 * inverse (sign +, not divided by n). n, the arrays' common length, must be a power of two.
 */
export function fft(re: Float64Array, im: Float64Array, inverse = false): void {
  const n = re.length;
  if (im.length !== n) throw new RangeError(`fft: re has ${n} values, im ${im.length}`);
  if (n < 1 || (n & (n - 1)) !== 0) throw new RangeError(`fft: length must be a power of two, got ${n}`);
  const { cos, sin, swaps } = plan(n);
  for (let s = 0; s < swaps.length; s += 2) {
    const i = swaps[s]!;
    const j = swaps[s + 1]!;
    const tr = re[i]!;
    re[i] = re[j]!;
    re[j] = tr;
    const ti = im[i]!;
    im[i] = im[j]!;
    im[j] = ti;
  }
  // Stage of half-length 1: twiddle 1.
  for (let a = 0; a + 1 < n; a += 2) {
    const xr = re[a + 1]!;
    const xi = im[a + 1]!;
    re[a + 1] = re[a]! - xr;
    im[a + 1] = im[a]! - xi;
    re[a]! += xr;
    im[a]! += xi;
  }
  const sign = inverse ? 1 : -1;
  for (let h = 2; h < n; h *= 2) {
    const len = 2 * h;
    for (let k = 0; k < h; k++) {
      const wr = cos[h - 1 + k]!;
      const wi = sign * sin[h - 1 + k]!;
      for (let a = k; a < n; a += len) {
        const b = a + h;
        const xr = re[b]! * wr - im[b]! * wi;
        const xi = re[b]! * wi + im[b]! * wr;
        re[b] = re[a]! - xr;
        im[b] = im[a]! - xi;
        re[a]! += xr;
        im[a]! += xi;
      }
    }
  }
}
