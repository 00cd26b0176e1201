import type { PolicyName } from '../../protocol/scenario.js';
import { runCampaigns, type CampaignJob, type CampaignResult } from '../pool.js';
import { ProgressBar } from '../progress.js';
import { renderCompareReport } from '../report/compare-report.js';
import { writeOutputs } from '../report/outputs.js';
import { hms } from '../report/report.js';
import { errorAtTime, median, quantile, timeToError } from '../stats.js';
import { guarded, intOption, numberOption, outputDirectory, parse, policyOption, scenarioArgument, UsageError } from './args.js';

/** How far past --iterations the first policy may run on to reach the others' final error. */
const EXTEND_FACTOR = 10;

const USAGE = `usage: stem-twin compare <scenario.json> --policies a,b,... --runs N [options]

Which policy gets there first? Runs every policy over the same N seeds and prints, per policy,
the instrument time to reach a target error, and the error each has at a common time. The first
policy is then set against each of the others, seed by seed: how much sooner it reaches their
final error, and how much lower its error is at the end of its own campaign. So that the first
question has an answer, its campaigns run on past --iterations until they reach the others'
final error or their instrument time (at most ${EXTEND_FACTOR}x the iterations); the per-policy
table still reports it at --iterations.

options:
  --policies LIST   comma-separated: cost-aware, cost-blind, random, nearest, raster
                    (default cost-aware,cost-blind)
  --runs N          seeds per policy (default 10)
  --seed N          first seed (default: the scenario's)
  --iterations N    BO iterations per campaign (default: the scenario's)
  --target-error E  target mean absolute error in eV (default: the worst policy's median final error)
  --at-time S       common time (s) for the error comparison (default: the shortest median campaign)
  --no-extend       stop the first policy at --iterations too
  --workers N       worker threads (default: one per core)
  --out DIR         also write compare.json and compare.html (error against time, per policy)
  --json            print the result as JSON

example:
  stem-twin compare scenarios/paper-3d-au-co-ni.json --policies cost-aware,cost-blind --runs 10`;

export interface PolicyComparison {
  policy: PolicyName;
  runs: number;
  reached: number;
  time_to_target_s: { median: number | null; p10: number | null; p90: number | null };
  error_at_time: number | null;
  final_error_median: number;
  wall_clock_median_s: number;
}

/** Per policy: time to `target` and error at `atTime`, medians over seeds. */
export function comparePolicies(byPolicy: Map<PolicyName, CampaignResult[]>, target: number, atTime: number): PolicyComparison[] {
  return [...byPolicy].map(([policy, results]) => {
    const times = results.map((r) => timeToError(r.curve, target));
    const reached = times.filter((t): t is number => t !== null);
    // Runs that never reach the target count as infinitely slow, so the median stays honest.
    const all = times.map((t) => t ?? Infinity);
    const q = (p: number) => {
      const v = quantile(all, p);
      return Number.isFinite(v) ? v : null;
    };
    const errs = results.map((r) => errorAtTime(r.curve, atTime)).filter((e): e is number => e !== null);
    return {
      policy,
      runs: results.length,
      reached: reached.length,
      time_to_target_s: { median: q(0.5), p10: q(0.1), p90: q(0.9) },
      error_at_time: errs.length ? median(errs) : null,
      final_error_median: median(results.map((r) => r.nominal.final_mean_abs_error ?? NaN)),
      wall_clock_median_s: median(results.map((r) => r.nominal.wall_clock_s)),
    };
  });
}

export interface PairedComparison {
  policy: PolicyName;
  against: PolicyName;
  /** Per seed: the other policy's campaign time / the time this one needed to reach the other's final error. */
  speedup_to_their_final_error: { median: number; per_seed: (number | null)[] };
  /** Per seed: the other policy's error / this one's, both at the end of this policy's (nominal) campaign. */
  error_ratio_at_equal_time: { median: number; per_seed: (number | null)[] };
}

/**
 * Seed by seed, how much sooner the first policy gets where another one ends, and how much
 * lower its error is at equal instrument time (the paper's claim for cost awareness).
 */
export function pairedComparison(first: CampaignResult[], other: CampaignResult[]): Omit<PairedComparison, 'policy' | 'against'> {
  const speedups: (number | null)[] = [];
  const ratios: (number | null)[] = [];
  for (const a of first) {
    const b = other.find((r) => r.job.seed === a.job.seed);
    const theirFinal = b?.nominal.final_mean_abs_error;
    if (!b || theirFinal === null || theirFinal === undefined) {
      speedups.push(null);
      ratios.push(null);
      continue;
    }
    const t = timeToError(a.curve, theirFinal);
    speedups.push(t === null ? null : b.nominal.wall_clock_s / t);
    const ea = errorAtTime(a.curve, a.nominal.wall_clock_s);
    const eb = errorAtTime(b.curve, a.nominal.wall_clock_s);
    ratios.push(ea !== null && eb !== null && ea > 0 ? eb / ea : null);
  }
  // A seed where the target was never reached counts as no speed-up at all.
  const med = (xs: (number | null)[]) => median(xs.map((x) => x ?? 0));
  return { speedup_to_their_final_error: { median: med(speedups), per_seed: speedups }, error_ratio_at_equal_time: { median: med(ratios), per_seed: ratios } };
}

/**
 * How far the first policy runs on for one seed: until it reaches the lowest final error among the
 * others' runs or the longest of their instrument times, whichever comes first.
 */
export function extensionToMatch(others: CampaignResult[], iterations: number): CampaignJob['extend'] {
  const errors = others.map((r) => r.nominal.final_mean_abs_error).filter((e): e is number => e !== null);
  if (errors.length === 0) return undefined;
  return { until_error_eV: Math.min(...errors), until_time_s: Math.max(...others.map((r) => r.nominal.wall_clock_s)), max_iterations: EXTEND_FACTOR * iterations };
}

/** The comparison as the text the command prints. */
function describeComparison(c: { scenario: string; runs: number; seeds: number[]; target_error_eV: number; at_time_s: number; policies: PolicyComparison[]; paired: PairedComparison[] }): string {
  const t = (v: number | null) => (v === null ? 'not reached' : hms(v));
  const lines = [`${c.scenario} · ${c.runs} seeds (${c.seeds[0]}..${c.seeds[1]}) · target mean |error| ${c.target_error_eV.toFixed(4)} eV · common time ${hms(c.at_time_s)}`, ''];
  const table = [
    ['policy', 'time to target (median)', 'p10 .. p90', 'reached', 'error at common time', 'final error'],
    ...c.policies.map((r) => [
      r.policy,
      t(r.time_to_target_s.median),
      `${t(r.time_to_target_s.p10)} .. ${t(r.time_to_target_s.p90)}`,
      `${r.reached}/${r.runs}`,
      r.error_at_time === null ? '-' : `${r.error_at_time.toFixed(4)} eV`,
      `${r.final_error_median.toFixed(4)} eV`,
    ]),
  ];
  const widths = table[0]!.map((_, col) => Math.max(...table.map((row) => row[col]!.length)));
  for (const row of table) lines.push(row.map((cell, col) => cell.padEnd(widths[col]!)).join('  ').trimEnd());
  for (const p of c.paired) {
    lines.push(
      '',
      `${p.policy} against ${p.against}, seed by seed (medians): reaches ${p.against}'s final error ${readableRatio(p.speedup_to_their_final_error.median, 'sooner', 'later')}; ` +
        `at the end of ${p.policy}'s campaign, its error is ${readableRatio(p.error_ratio_at_equal_time.median, 'lower', 'higher')} than ${p.against}'s`,
    );
  }
  return lines.join('\n');
}

/**
 * A ratio as people read it: always >= 1, with the direction in words ("1.05x later", not
 * "0.95x sooner"). `ratio` is how many times better the first policy is (theirs / ours).
 */
export function readableRatio(ratio: number, better: string, worse: string): string {
  if (!Number.isFinite(ratio) || ratio <= 0) return 'n/a';
  return ratio >= 1 ? `${ratio.toFixed(2)}x ${better}` : `${(1 / ratio).toFixed(2)}x ${worse}`;
}

export function run(argv: string[]): Promise<number> {
  return guarded(USAGE, async () => {
    const { values, positionals } = parse(argv, {
      policies: { type: 'string' },
      runs: { type: 'string' },
      seed: { type: 'string' },
      iterations: { type: 'string' },
      'target-error': { type: 'string' },
      'at-time': { type: 'string' },
      workers: { type: 'string' },
      'no-extend': { type: 'boolean' },
      json: { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    const scenario = scenarioArgument(positionals);
    const policies = (values.policies ?? 'cost-aware,cost-blind').split(',').map((p) => policyOption(p.trim())!);
    if (new Set(policies).size !== policies.length) throw new UsageError(`--policies lists a policy twice: ${values.policies}`);
    const runs = intOption(values.runs, 'runs', 1, 10_000) ?? 10;
    const first = intOption(values.seed, 'seed', 0, 2 ** 31 - 1) ?? scenario.seed;
    const iterations = intOption(values.iterations, 'iterations', 1, 100_000);
    const workers = intOption(values.workers, 'workers', 1, 64);
    const out = values.out === undefined ? undefined : outputDirectory(values.out);
    const n = iterations ?? scenario.policy.iterations;
    const seeds = Array.from({ length: runs }, (_, i) => first + i);
    const [lead, ...others] = policies as [PolicyName, ...PolicyName[]];
    const bar = new ProgressBar(seeds.length * policies.length, `compare ${scenario.name}`);
    let done = 0;
    const onDone = () => bar.update(++done);
    const theirs = await runCampaigns(
      others.flatMap((policy) => seeds.map((seed) => ({ scenario, seed, policy, iterations }))),
      { workers, onDone },
    );
    const leadJobs = seeds.map((seed) => ({ scenario, seed, policy: lead, iterations, extend: values['no-extend'] ? undefined : extensionToMatch(theirs.filter((r) => r.job.seed === seed), n) }));
    const results = [...(await runCampaigns(leadJobs, { workers, onDone })), ...theirs];
    bar.done();

    const byPolicy = new Map<PolicyName, CampaignResult[]>(policies.map((p) => [p, results.filter((r) => r.job.policy === p)]));
    const finals = [...byPolicy.values()].map((rs) => median(rs.map((r) => r.nominal.final_mean_abs_error ?? NaN)));
    const target = numberOption(values['target-error'], 'target-error', 0, 1e6) ?? Math.max(...finals);
    const atTime = numberOption(values['at-time'], 'at-time', 0, 1e9) ?? Math.min(...[...byPolicy.values()].map((rs) => median(rs.map((r) => r.nominal.wall_clock_s))));
    const rows = comparePolicies(byPolicy, target, atTime);
    const paired: PairedComparison[] = policies.slice(1).map((p) => ({ policy: lead, against: p, ...pairedComparison(byPolicy.get(lead)!, byPolicy.get(p)!) }));
    const json = { scenario: scenario.name, runs, seeds: [first, first + runs - 1], target_error_eV: target, at_time_s: atTime, policies: rows, paired };
    const text = describeComparison(json);
    const files = out
      ? writeOutputs(out, [
          ['compare.json', `${JSON.stringify(json, null, 2)}\n`],
          ['compare.html', renderCompareReport({ scenario: scenario.name, byPolicy, target, atTime, summary: text })],
        ])
      : [];
    console.log(values.json ? JSON.stringify(json, null, 2) : text);
    if (files.length && !values.json) console.log(`\nwrote ${files.join(' and ')}`);
    return 0;
  });
}
