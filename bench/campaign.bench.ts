// Whole paper campaigns (3D and 5D) on the in-process twin, against the same campaigns with the
// GP recomputed densely at every step (refactorisation + every posterior pool rebuilt), same run.
import { performance } from 'node:perf_hooks';
import { loadScenario } from '../src/protocol/scenario.js';
import { runSession } from '../src/server/session.js';

const CASES = [
  { file: 'scenarios/paper-3d-au-co-ni.json', target_s: 2, repeats: 3 },
  { file: 'scenarios/paper-5d.json', target_s: 6, repeats: 1 },
];

async function timed(file: string, dense: boolean): Promise<{ s: number; error: number | null }> {
  const scenario = loadScenario(file);
  const t0 = performance.now();
  const r = await runSession(scenario, { seed: scenario.seed, denseModel: dense });
  return { s: (performance.now() - t0) / 1000, error: r.summary.final_mean_abs_error };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export default async function (): Promise<void> {
  for (const c of CASES) {
    const fast: number[] = [];
    let dense = { s: NaN, error: null as number | null };
    let fastError: number | null = null;
    for (let r = 0; r < c.repeats; r++) {
      const f = await timed(c.file, false);
      fast.push(f.s);
      fastError = f.error;
    }
    dense = await timed(c.file, true);
    const m = median(fast);
    console.log(`${c.file}: whole campaign ${m.toFixed(2)} s wall (median of ${c.repeats})   target <= ${c.target_s} s: ${m <= c.target_s ? 'PASS' : 'FAIL'}`);
    console.log(`  dense recompute peer ${dense.s.toFixed(2)} s   ratio ${(dense.s / m).toFixed(1)}x faster   final error ${fastError?.toFixed(4)} vs ${dense.error?.toFixed(4)} eV`);
  }
}
