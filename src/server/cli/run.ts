import { join, relative, resolve, sep } from 'node:path';
import type { CampaignSummary } from '../../policy/campaign/record.js';
import { LATENCY_CATEGORIES } from '../../protocol/timing.js';
import { ProgressBar } from '../progress.js';
import { writeCampaignOutputs } from '../report/outputs.js';
import { hms } from '../report/report.js';
import type { Interference } from '../../protocol/remote.js';
import { runSession } from '../session.js';
import { guarded, intOption, outputDirectory, parse, policyOption, scenarioArgument, TOKEN_OPTIONS, tokenOption } from './args.js';

const USAGE = `usage: stem-twin run <scenario.json> [options]

Runs a campaign: the scenario's policy drives the instrument (the built-in twin unless
--instrument is given) and the run's record is written to --out.

options:
  --seed N            random seed (default: the scenario's)
  --policy NAME       cost-aware | cost-blind | random | nearest | raster (default: the scenario's)
  --iterations N      BO iterations after the seed particles (default: the scenario's)
  --out DIR           where to write summary.json, trace.jsonl, metrics.csv, report.html
                      (default: out/<scenario>-<policy>-seed<N>)
  --instrument URL    drive a served instrument over MCP, e.g. http://127.0.0.1:8000/mcp
  --token T           bearer token for a served instrument (visible in ps; prefer these two:)
  --token-file PATH   read the token from a file
                      (or set STEM_TWIN_TOKEN in the environment)
  --no-truth          no ground-truth error metric (against real hardware)
  --json              print the summary as JSON instead of text

example:
  stem-twin run scenarios/paper-3d-au-co-ni.json --seed 2 --out out/paper-3d`;

export function run(argv: string[]): Promise<number> {
  return guarded(USAGE, async () => {
    const { values, positionals } = parse(argv, {
      seed: { type: 'string' },
      policy: { type: 'string' },
      iterations: { type: 'string' },
      out: { type: 'string' },
      instrument: { type: 'string' },
      ...TOKEN_OPTIONS,
      'no-truth': { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    const scenario = scenarioArgument(positionals);
    const seed = intOption(values.seed, 'seed', 0, 2 ** 31 - 1) ?? scenario.seed;
    const policy = policyOption(values.policy) ?? scenario.policy.name;
    const iterations = intOption(values.iterations, 'iterations', 1, 100_000) ?? scenario.policy.iterations;
    const out = outputDirectory(values.out ?? defaultOutDirectory(`${scenario.name}-${policy}-seed${seed}`));
    const token = tokenOption(values);

    const total = scenario.policy.seed_particles + iterations;
    const bar = new ProgressBar(total, `${scenario.name} ${policy}`);
    const trace: object[] = [];
    // Against a served twin, relay the campaign's decisions and metrics to its dashboards.
    const publisher = values.instrument ? await (await import('../http/publisher.js')).connectPublisher(values.instrument, { token, client: 'stem-twin run' }) : null;
    const record = await runSession(scenario, {
      seed,
      policy,
      iterations,
      instrumentUrl: values.instrument,
      token,
      groundTruth: !values['no-truth'],
      onCommand: (c) => trace.push({ type: 'command', ...c }),
      onEvent: (e) => {
        trace.push(e);
        void publisher?.publish(e);
        if (e.type === 'iteration') bar.update(e.record.iteration, `t=${hms(e.record.time_s)}`);
      },
    });
    bar.done();
    await publisher?.close();
    const files = writeCampaignOutputs(out, record, trace);
    if (values.json) console.log(JSON.stringify(record.summary, null, 2));
    else console.log(formatSummary(record.summary, files));
    const warning = interferenceWarning(record.summary.interference);
    if (warning) console.error(`warning: ${warning}`);
    return 0;
  });
}

/** out/<name>: the scenario's name is a safe file name (scenario.ts), and the folder must stay inside out/. */
export function defaultOutDirectory(name: string): string {
  const dir = join('out', name);
  const inside = relative(resolve('out'), resolve(dir));
  if (!inside || inside.startsWith('..') || inside.includes(sep)) throw new Error(`the output folder for "${name}" would leave out/`);
  return dir;
}

export function formatSummary(s: CampaignSummary, files: string[] = []): string {
  const lines = [
    `${s.scenario} · ${s.policy} policy · seed ${s.seed} · ${s.instrument}`,
    `${s.iterations} BO iterations after ${s.seed_particles} seed particles in ${hms(s.wall_clock_s)} of instrument time (${s.wall_clock_s.toFixed(1)} s)`,
    '',
    'where the time went:',
    ...LATENCY_CATEGORIES.map((c) => `  ${c.replace('_', ' ').padEnd(18)} ${s.breakdown_s[c].toFixed(1).padStart(9)} s  ${((100 * s.breakdown_s[c]) / (s.wall_clock_s || 1)).toFixed(1).padStart(5)} %`),
    '',
    `regions visited: ${s.regions_visited} (${s.switches} switches, ${s.switches_to_neighbour} to a neighbouring region)`,
    `particles: ${s.particles_found} found, ${s.particles_measured} measured`,
    `final mean |error|: ${s.final_mean_abs_error === null ? 'n/a (no ground truth)' : `${s.final_mean_abs_error.toFixed(4)} eV`}   final mean sd: ${s.final_mean_sd.toFixed(4)} eV`,
  ];
  if (s.interference) lines.push(`other clients: ${interferenceLine(s.interference)}`);
  if (files.length) lines.push('', `wrote ${files.join(', ')}`);
  return lines.join('\n');
}

/** "3 ran (DigitalTwin.get_stage 3), 308 refused (DigitalTwin.move_stage 308)", or "none" (lease held, nobody else). */
function interferenceLine(i: Interference): string {
  const tally = (counts: Record<string, number>, what: string) => {
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const each = Object.entries(counts).sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', ');
    return total ? [`${total} ${what} (${each})`] : [];
  };
  const seen = [...tally(i.foreign.ran, 'ran'), ...tally(i.foreign.refused, 'refused')];
  const lease = i.lease === 'held' ? 'lease held' : i.lease === 'lapsed' ? 'lease lapsed midway: later commands unseen' : 'the server offers no lease: their commands go unseen';
  return `${seen.length ? seen.join(', ') : 'none'} (${lease})`;
}

/** A stderr warning when other clients shared the instrument, or could have unseen; undefined when the campaign had it alone. */
export function interferenceWarning(i: Interference | undefined): string | undefined {
  if (!i) return undefined;
  const foreign = Object.keys(i.foreign.ran).length + Object.keys(i.foreign.refused).length > 0;
  if (i.lease === 'held' && !foreign) return undefined;
  return `other clients used the instrument during this campaign: ${interferenceLine(i)}; its timing may not be the instrument's alone.`;
}
