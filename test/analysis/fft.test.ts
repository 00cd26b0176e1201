import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { matchedFilterPeak } from '../../src/policy/analysis/eels.js';
import { fft, fftSize } from '../../src/policy/analysis/fft.js';
import { Rng } from '../../src/protocol/random.js';

/** The DFT by its definition, O(n^2). */
function naiveDft(re: number[], im: number[], inverse: boolean): { re: number[]; im: number[] } {
  const n = re.length;
  const sign = inverse ? 1 : -1;
  const outRe: number[] = [];
  const outIm: number[] = [];
  for (let k = 0; k < n; k++) {
    let sr = 0;
    let si = 0;
    for (let j = 0; j < n; j++) {
      const a = (sign * 2 * Math.PI * ((j * k) % n)) / n;
      sr += re[j]! * Math.cos(a) - im[j]! * Math.sin(a);
      si += re[j]! * Math.sin(a) + im[j]! * Math.cos(a);
    }
    outRe.push(sr);
    outIm.push(si);
  }
  return { re: outRe, im: outIm };
}

/** The matched filter as a plain loop over every centre. */
function directPeak(r: Float64Array, v: Float64Array, kernel: Float64Array, kr: number, c0: number, c1: number): { bestAt: number; best: number } {
  let best = -Infinity;
  let bestAt = -1;
  for (let c = c0; c < c1; c++) {
    let s = 0;
    let vs = 0;
    for (let k = -kr; k <= kr; k++) {
      const w = kernel[k + kr]!;
      s += r[c + k]! * w;
      vs += v[c + k]! * w * w;
    }
    const z = s / Math.sqrt(vs);
    if (z > best) {
      best = z;
      bestAt = c;
    }
  }
  return { bestAt, best };
}

describe('fft', () => {
  test.prop([fc.integer({ min: 0, max: 6 }).chain((p) => fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 2 * 2 ** p, maxLength: 2 * 2 ** p }))])(
    'matches the DFT by definition, forward and inverse',
    (values) => {
      const n = values.length / 2;
      const re = values.slice(0, n);
      const im = values.slice(n);
      const scale = 1 + Math.max(...values.map(Math.abs));
      for (const inverse of [false, true]) {
        const a = Float64Array.from(re);
        const b = Float64Array.from(im);
        fft(a, b, inverse);
        const want = naiveDft(re, im, inverse);
        for (let k = 0; k < n; k++) {
          expect(Math.abs(a[k]! - want.re[k]!)).toBeLessThan(1e-9 * n * scale);
          expect(Math.abs(b[k]! - want.im[k]!)).toBeLessThan(1e-9 * n * scale);
        }
      }
    },
  );

  it('forward then inverse gives n times the input', () => {
    const rng = new Rng('fft-roundtrip');
    const re = Float64Array.from({ length: 4096 }, () => rng.normal());
    const im = Float64Array.from({ length: 4096 }, () => rng.normal());
    const a = Float64Array.from(re);
    const b = Float64Array.from(im);
    fft(a, b);
    fft(a, b, true);
    for (let i = 0; i < 4096; i++) {
      expect(a[i]! / 4096).toBeCloseTo(re[i]!, 12);
      expect(b[i]! / 4096).toBeCloseTo(im[i]!, 12);
    }
  });

  it('fftSize is the next power of two; bad lengths are refused by name', () => {
    expect([1, 2, 3, 1888, 2048, 2049].map(fftSize)).toEqual([1, 2, 4, 2048, 2048, 4096]);
    expect(() => fftSize(0)).toThrow(/fftSize: n must be an integer >= 1/);
    expect(() => fft(new Float64Array(6), new Float64Array(6))).toThrow(/fft: length must be a power of two, got 6/);
    expect(() => fft(new Float64Array(4), new Float64Array(8))).toThrow(/fft: re has 4 values, im 8/);
  });
});

describe('matchedFilterPeak (FFT screening, direct sums for the finalists)', () => {
  const kernelOf = (kr: number, ratio: number) => Float64Array.from({ length: 2 * kr + 1 }, (_, i) => Math.exp(-0.5 * ((i - kr) * ratio) ** 2));

  test.prop([fc.integer(), fc.integer({ min: 1, max: 60 }), fc.integer({ min: 40, max: 700 }), fc.boolean()])(
    'the same centre and z, bit for bit, as the plain loop',
    (seed, kr, length, peaked) => {
      const rng = new Rng(seed);
      const n = length + 2 * kr;
      const v = Float64Array.from({ length: n }, (_, i) => (i % 17 === 0 ? 1e-3 : 1 + 1000 * rng.uniform()));
      const r = Float64Array.from({ length: n }, (_, i) => Math.sqrt(v[i]!) * rng.normal());
      if (peaked) for (let i = 0; i < n; i++) r[i]! += 400 * Math.exp(-0.5 * ((i - n / 3) / (kr + 1)) ** 2);
      const kernel = kernelOf(kr, 1 / Math.max(1, kr / 3));
      expect(matchedFilterPeak(r, v, kernel, kr, kr, n - kr)).toEqual(directPeak(r, v, kernel, kr, kr, n - kr));
    },
  );

  it('a variance that reaches 0 (no bound on the screening error): the answer of the plain loop, Infinity included', () => {
    const kr = 4;
    const kernel = kernelOf(kr, 0.4);
    const rng = new Rng('zero-variance');
    const n = 200;
    const v = Float64Array.from({ length: n }, (_, i) => (i < 100 ? 0 : 5));
    const r = Float64Array.from({ length: n }, (_, i) => (i === 50 ? 3 : rng.normal()));
    const got = matchedFilterPeak(r, v, kernel, kr, kr, n - kr);
    expect(got).toEqual(directPeak(r, v, kernel, kr, kr, n - kr));
    expect(got.best).toBe(Infinity);
  });

  it('ties go to the first centre, as in the plain loop', () => {
    const kr = 3;
    const kernel = kernelOf(kr, 0.5);
    const n = 64;
    const v = new Float64Array(n).fill(4);
    const r = new Float64Array(n);
    // Two identical bumps: equal z at both centres.
    for (const c of [20, 40]) for (let k = -1; k <= 1; k++) r[c + k] = 10;
    const got = matchedFilterPeak(r, v, kernel, kr, kr, n - kr);
    expect(got).toEqual(directPeak(r, v, kernel, kr, kr, n - kr));
    expect(got.bestAt).toBe(20);
  });
});
