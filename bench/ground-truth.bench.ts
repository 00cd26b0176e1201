import { Rng } from '../src/protocol/random.js';
import { buildGroundTruth } from '../src/twin/ground-truth.js';

/**
 * The ground truth at the paper's K = 1e6 Gaussians (sd 0.1) for D = 3, 4, 5: the lattice field
 * against its dense peer, the direct sum over all K Gaussians, both measured here.
 * Build: the whole buildGroundTruth (centres, lattice, standardisation) vs the direct sum's own
 * setup (centres only). Evaluation: mean time per point at random simplex points.
 */
const K = 1_000_000;
const FAST_EVALUATIONS = 20_000;
const DIRECT_EVALUATIONS = 10;

export default async function (): Promise<void> {
  for (const D of [3, 4, 5]) {
    const spec = { gaussians: K, sd: 0.1, base_eV: 15, scale_eV: 2 };
    let t = performance.now();
    const peer = buildGroundTruth(spec, D, new Rng(`bench-${D}`), { method: 'direct', standardisationSamples: 2 });
    const directBuild_s = (performance.now() - t) / 1e3;
    t = performance.now();
    const fast = buildGroundTruth(spec, D, new Rng(`bench-${D}`));
    const fastBuild_s = (performance.now() - t) / 1e3;

    const rng = new Rng(`points-${D}`);
    const points = Array.from({ length: 256 }, () => rng.simplexUniform(D));
    let sink = 0;
    t = performance.now();
    for (let i = 0; i < FAST_EVALUATIONS; i++) sink += fast.field(points[i % points.length]!);
    const fastEval_s = (performance.now() - t) / 1e3 / FAST_EVALUATIONS;
    let worst = 0;
    t = performance.now();
    for (let i = 0; i < DIRECT_EVALUATIONS; i++) {
      const exact = peer.evaluateDirect(points[i]!);
      sink += exact;
      worst = Math.max(worst, Math.abs(fast.field(points[i]!) - exact));
    }
    const directEval_s = (performance.now() - t) / 1e3 / DIRECT_EVALUATIONS;
    const payoff = Math.ceil((fastBuild_s - directBuild_s) / (directEval_s - fastEval_s));
    console.log(
      `ground-truth D=${D} K=1e6: build ${fastBuild_s.toFixed(2)} s = ${(fastBuild_s / directBuild_s).toFixed(1)}x the direct sum's setup (${directBuild_s.toFixed(2)} s); ` +
        `evaluation ${(fastEval_s * 1e6).toFixed(2)} us = 1/${Math.round(directEval_s / fastEval_s)} of the direct sum (${(directEval_s * 1e3).toFixed(1)} ms); ` +
        `lattice ${fast.lattice?.nodes ?? 0} nodes; max |fast - direct| = ${(worst / fast.standardisation.sd).toExponential(1)} s; pays off after ${payoff} evaluations` +
        (Number.isFinite(sink) ? '' : ' (non-finite!)'),
    );
  }
}
