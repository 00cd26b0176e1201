import { LATENCY_CATEGORIES } from '../../protocol/timing.js';
import { runCampaigns } from '../pool.js';
import { ProgressBar } from '../progress.js';
import { hms } from '../report/report.js';
import { median, quantile } from '../stats.js';
import { guarded, intOption, parse, policyOption, scenarioArgument } from './args.js';

const USAGE = `usage: stem-twin estimate <scenario.json> --runs N [options]

How long will the campaign take on the instrument? Runs it over N seeds (seed, seed+1, ...)
on all cores and prints the distribution of instrument wall-clock time and where it goes.

options:
  --runs N          number of seeds (default 10)
  --seed N          first seed (default: the scenario's)
  --policy NAME     cost-aware | cost-blind | random | nearest | raster (default: the scenario's)
  --iterations N    BO iterations per campaign (default: the scenario's)
  --workers N       worker threads (default: one per core)
  --json            print the result as JSON

example:
  stem-twin estimate scenarios/paper-3d-au-co-ni.json --runs 20`;

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** Splits a sequence into its first, middle and last thirds (the last region, left unfinished, excluded). */
export function thirds(shares: number[]): [number[], number[], number[]] {
  const done = shares.slice(0, -1);
  const a = Math.round(done.length / 3);
  const b = Math.round((2 * done.length) / 3);
  return [done.slice(0, a), done.slice(a, b), done.slice(b)];
}

export function run(argv: string[]): Promise<number> {
  return guarded(USAGE, async () => {
    const { values, positionals } = parse(argv, {
      runs: { type: 'string' },
      seed: { type: 'string' },
      policy: { type: 'string' },
      iterations: { type: 'string' },
      workers: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    const scenario = scenarioArgument(positionals);
    const runs = intOption(values.runs, 'runs', 1, 10_000) ?? 10;
    const first = intOption(values.seed, 'seed', 0, 2 ** 31 - 1) ?? scenario.seed;
    const policy = policyOption(values.policy) ?? scenario.policy.name;
    const iterations = intOption(values.iterations, 'iterations', 1, 100_000);
    const workers = intOption(values.workers, 'workers', 1, 64);
    const bar = new ProgressBar(runs, `estimate ${scenario.name}`);
    const jobs = Array.from({ length: runs }, (_, i) => ({ scenario, seed: first + i, policy, iterations }));
    const results = await runCampaigns(jobs, { workers, onDone: (d) => bar.update(d) });
    bar.done();

    const times = results.map((r) => r.summary.wall_clock_s);
    const out = {
      scenario: scenario.name,
      policy,
      runs,
      seeds: [first, first + runs - 1],
      wall_clock_s: { median: median(times), p10: quantile(times, 0.1), p90: quantile(times, 0.9), min: Math.min(...times), max: Math.max(...times) },
      breakdown_median_s: Object.fromEntries(LATENCY_CATEGORIES.map((c) => [c, median(results.map((r) => r.summary.breakdown_s[c]))])),
      regions_visited_median: median(results.map((r) => r.summary.regions_visited)),
      switches_to_neighbour_share: sum(results.map((r) => r.summary.switches_to_neighbour)) / Math.max(1, sum(results.map((r) => r.summary.switches))),
      // The paper's panel (e): the share measured of the regions visited early, midway and late.
      share_measured_by_visit_third: [0, 1, 2].map((k) => median(results.flatMap((r) => thirds(r.summary.share_measured_per_region.map((x) => x.share))[k]!))),
      final_mean_abs_error_median: median(results.map((r) => r.summary.final_mean_abs_error ?? NaN)),
    };
    if (values.json) {
      console.log(JSON.stringify(out, null, 2));
      return 0;
    }
    const w = out.wall_clock_s;
    console.log(
      [
        `${scenario.name} · ${policy} policy · ${runs} runs (seeds ${first}..${first + runs - 1})`,
        `instrument wall-clock time: median ${hms(w.median)}  (10th percentile ${hms(w.p10)}, 90th ${hms(w.p90)})`,
        '',
        'median time per category:',
        ...LATENCY_CATEGORIES.map((c) => `  ${c.replace('_', ' ').padEnd(18)} ${out.breakdown_median_s[c]!.toFixed(1).padStart(9)} s`),
        '',
        `median regions visited: ${out.regions_visited_median}   median final mean |error|: ${out.final_mean_abs_error_median.toFixed(4)} eV`,
        `switches to a neighbouring region: ${(100 * out.switches_to_neighbour_share).toFixed(0)} %`,
        `share of a region measured (median), regions visited early / midway / late: ${out.share_measured_by_visit_third.map((x) => x.toFixed(2)).join(' / ')}`,
      ].join('\n'),
    );
    return 0;
  });
}
