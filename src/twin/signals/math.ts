import type { Rng } from '../../protocol/random.js';
import { erfc } from '../../protocol/special-functions.js';


/** Small numeric helpers of the signal models. */

/** Mass of Normal(mean, sd) on [a, b], computed on the side of the mean that avoids cancellation; never negative. */
export function gaussianMass(a: number, b: number, mean: number, sd: number): number {
  if (!(b > a)) return 0;
  const s = sd * Math.SQRT2;
  let m: number;
  if (a >= mean) m = 0.5 * (erfc((a - mean) / s) - erfc((b - mean) / s));
  else if (b <= mean) m = 0.5 * (erfc((mean - b) / s) - erfc((mean - a) / s));
  else m = 1 - 0.5 * erfc((mean - a) / s) - 0.5 * erfc((b - mean) / s);
  return m > 0 ? m : 0;
}

/**
 * Draws Poisson counts in place: each expected value is replaced by one draw. With an Rng, its
 * bulk sampler (the background most pixels share is drawn from a table built once); any other
 * source of draws (a test's stand-in) one value at a time.
 */
export function poissonInPlace(expected: Float64Array, rng: Pick<Rng, 'poisson'> & Partial<Pick<Rng, 'poissonInPlace'>>): Float64Array {
  if (typeof rng.poissonInPlace === 'function') return rng.poissonInPlace(expected);
  for (let i = 0; i < expected.length; i++) expected[i] = rng.poisson(expected[i]!);
  return expected;
}
