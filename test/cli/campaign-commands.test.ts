import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { run as compare, extensionToMatch, pairedComparison } from '../../src/server/cli/compare.js';
import { run as estimate, thirds } from '../../src/server/cli/estimate.js';
import { run as runCampaign } from '../../src/server/cli/run.js';
import { errorBand } from '../../src/server/report/compare-report.js';
import { METRICS_COLUMNS } from '../../src/server/report/outputs.js';
import type { IterationRecord } from '../../src/policy/campaign/record.js';
import { extensionOf, type CampaignResult } from '../../src/server/pool.js';

const dir = mkdtempSync(join(tmpdir(), 'stem-twin-cli-'));
const scenario = join(dir, 'small.json');
writeFileSync(
  scenario,
  JSON.stringify({
    name: 'small',
    seed: 2,
    specimen: { area_um: [90, 90], response: { gaussians: 20000 } },
    policy: { iterations: 5, overview: { imsize: 512 }, switching: { mc_samples: 64 } },
  }),
);

let out: string[];
let err: string[];
beforeEach(() => {
  out = [];
  err = [];
  vi.spyOn(console, 'log').mockImplementation((...a) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a) => void err.push(a.join(' ')));
});
afterEach(() => vi.restoreAllMocks());

describe('stem-twin run', () => {
  it('prints the time breakdown and writes the four outputs', async () => {
    const outDir = join(dir, 'run');
    expect(await runCampaign([scenario, '--out', outDir, '--seed', '4'])).toBe(0);
    const text = out.join('\n');
    expect(text).toMatch(/5 BO iterations after 3 seed particles in .* of instrument time/);
    expect(text).toMatch(/stage travel\s+[\d.]+ s/);
    expect(text).toMatch(/final mean \|error\|: [\d.]+ eV/);
    const summary = JSON.parse(readFileSync(join(outDir, 'summary.json'), 'utf8'));
    for (const k of ['iterations', 'wall_clock_s', 'breakdown_s', 'regions_visited', 'final_mean_abs_error', 'final_mean_sd']) expect(summary).toHaveProperty(k);
    expect(summary.iterations).toBe(5);
    const csv = readFileSync(join(outDir, 'metrics.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe(METRICS_COLUMNS.join(','));
    expect(csv).toHaveLength(1 + 8);
    const trace = readFileSync(join(outDir, 'trace.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(trace.filter((t) => t.type === 'command').length).toBeGreaterThan(20);
    expect(trace.filter((t) => t.type === 'iteration')).toHaveLength(8);
    const html = readFileSync(join(outDir, 'report.html'), 'utf8');
    for (const panel of ['(a) real-space trajectory', '(b) composition trajectory', '(c) mean predictive uncertainty', '(d) mean absolute error', '(e) share measured per region']) expect(html).toContain(panel);
  });

  it('explains a bad option or scenario and exits 2', async () => {
    expect(await runCampaign([scenario, '--policy', 'greedy'])).toBe(2);
    expect(err.join('\n')).toMatch(/--policy must be one of cost-aware, cost-blind, random, nearest, raster \(got "greedy"\)/);
    expect(await runCampaign([])).toBe(2);
    expect(err.join('\n')).toMatch(/missing the scenario file/);
    expect(await runCampaign([join(dir, 'nope.json')])).toBe(2);
    expect(err.join('\n')).toMatch(/cannot read the file/);
    // An --out that cannot be written is refused before the campaign runs, not after.
    const blocked = join(dir, 'a-file');
    writeFileSync(blocked, 'not a folder');
    expect(await runCampaign([scenario, '--out', join(blocked, 'run')])).toBe(2);
    expect(err.join('\n')).toMatch(/--out .*a-file\/run: cannot write the results there \(part of the path is a file, not a folder\)/);
    expect(await compare([scenario, '--runs', '1', '--out', join(blocked, 'cmp')])).toBe(2);
    expect(readFileSync(blocked, 'utf8')).toBe('not a folder');
    expect(await runCampaign(['--help'])).toBe(0);
    expect(out.join('\n')).toMatch(/usage: stem-twin run/);
  });
});

describe('stem-twin estimate and compare', () => {
  it('estimate prints the wall-clock distribution over seeds', async () => {
    expect(await estimate([scenario, '--runs', '2', '--iterations', '2', '--json'])).toBe(0);
    const r = JSON.parse(out.join('\n'));
    expect(r.runs).toBe(2);
    expect(r.wall_clock_s.p10).toBeLessThanOrEqual(r.wall_clock_s.median);
    expect(r.wall_clock_s.median).toBeLessThanOrEqual(r.wall_clock_s.p90);
    expect(r.breakdown_median_s.edx).toBeGreaterThan(0);
    expect(r.share_measured_by_visit_third).toHaveLength(3);
    expect(r.switches_to_neighbour_share).toBeGreaterThanOrEqual(0);
    expect(r.switches_to_neighbour_share).toBeLessThanOrEqual(1);
  });

  it('splits regions into visit thirds, leaving out the unfinished last one', () => {
    expect(thirds([1, 2, 3, 4, 5, 6, 7])).toEqual([[1, 2], [3, 4], [5, 6]]);
    expect(thirds([1])).toEqual([[], [], []]);
  });

  it('compare runs each policy over the same seeds', async () => {
    expect(await compare([scenario, '--policies', 'cost-aware,random', '--runs', '2', '--iterations', '2', '--json'])).toBe(0);
    const r = JSON.parse(out.join('\n'));
    expect(r.policies.map((p: { policy: string }) => p.policy)).toEqual(['cost-aware', 'random']);
    expect(r.paired[0].against).toBe('random');
    expect(await compare([scenario, '--policies', 'cost-aware,cost-aware'])).toBe(2);
    const cmpDir = join(dir, 'cmp');
    expect(await compare([scenario, '--policies', 'cost-aware,random', '--runs', '2', '--iterations', '2', '--out', cmpDir])).toBe(0);
    expect(JSON.parse(readFileSync(join(cmpDir, 'compare.json'), 'utf8')).policies).toHaveLength(2);
    const html = readFileSync(join(cmpDir, 'compare.html'), 'utf8');
    expect(html.match(/<polyline/g)!.length).toBeGreaterThanOrEqual(3); // two policies and the target line
    expect(html).toContain('cost-aware against random');
  });

  it('runs the first policy on until it reaches the lowest final error or the longest time of the others', () => {
    const other = (wall: number, error: number | null) => ({ nominal: { wall_clock_s: wall, final_mean_abs_error: error } }) as CampaignResult;
    const x = extensionToMatch([other(1000, 0.3), other(2000, 0.2), other(500, null)], 150)!;
    expect(x).toEqual({ until_error_eV: 0.2, until_time_s: 2000, max_iterations: 1500 });
    expect(extensionToMatch([other(1000, null)], 150)).toBeUndefined();
    const go = extensionOf({ scenario: {} as never, seed: 1, policy: 'cost-aware', extend: x })!;
    const at = (time_s: number, mean_abs_error: number | null) => ({ time_s, mean_abs_error }) as IterationRecord;
    expect(go.while(at(100, 0.25))).toBe(true);
    expect(go.while(at(100, null))).toBe(true);
    expect(go.while(at(100, 0.2))).toBe(false);
    expect(go.while(at(2000, 0.25))).toBe(false);
    expect(go.maxIterations).toBe(1500);
  });

  it('summarises error against time across seeds, only while most seeds are running', () => {
    const run = (curve: [number, number][]) => ({ curve }) as CampaignResult;
    const results = [run([[10, 3], [20, 2], [30, 1]]), run([[15, 4], [25, 2]]), run([[5, 6], [40, 0.5]])];
    const band = errorBand(results, [0, 12, 20, 28, 35]);
    expect(band.median[0]).toBeNaN(); // nobody has measured yet
    expect(band.median[1]).toBe(4.5); // seeds 1 and 3 have measured (3 and 6); seed 2 not yet
    expect(band.median[2]).toBe(4); // 2, 4, 6
    expect(band.median[3]).toBe(4); // seed 2 has stopped: 2 and 6
    expect(band.median[4]).toBeNaN(); // only seed 3 still running
    expect(band.p10[2]).toBeLessThanOrEqual(band.median[2]!);
    expect(band.p90[2]).toBeGreaterThanOrEqual(band.median[2]!);
  });

  it('pairs runs seed by seed', () => {
    const result = (seed: number, wall: number, curve: [number, number][]): CampaignResult => ({
      job: { seed, policy: 'cost-aware' },
      summary: { wall_clock_s: wall, final_mean_abs_error: curve[curve.length - 1]![1] } as CampaignResult['summary'],
      curve,
      nominal: { wall_clock_s: wall, final_mean_abs_error: curve[curve.length - 1]![1] },
    });
    const fast = [result(1, 100, [[50, 0.5], [100, 0.1]])];
    const slow = [result(1, 1000, [[500, 0.8], [1000, 0.5]])];
    const p = pairedComparison(fast, slow);
    expect(p.speedup_to_their_final_error.median).toBe(1000 / 50);
    // At t = 100 s the slow policy has no measurement yet: no ratio for that seed.
    expect(p.error_ratio_at_equal_time.per_seed).toEqual([null]);
  });
});
