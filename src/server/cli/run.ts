import { join, relative, resolve, sep } from 'node:path';
import type { CampaignSummary } from '../../policy/campaign/record.js';
import { LATENCY_CATEGORIES } from '../../protocol/timing.js';
import { ProgressBar } from '../progress.js';
import { writeCampaignOutputs } from '../report/outputs.js';
import { hms } from '../report/report.js';
import { InstrumentError } from '../../protocol/instrument.js';
import type { Interference } from '../../protocol/remote.js';
import type { Publisher } from '../http/publisher.js';
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
                      (a served twin, or asyncroscopy's bridge: a served twin must serve this
                      scenario and seed, and says so; a wrong one is refused)
  --take-served       a served twin of this scenario with another seed: run with its seed
  --no-relay          do not relay the campaign's events to the server's dashboards (socket.io;
                      off anyway when the server has none, as asyncroscopy's bridge)
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
      'take-served': { type: 'boolean' },
      'no-relay': { type: 'boolean' },
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
    const url = values.instrument;
    // Against a served twin, relay the campaign's decisions and metrics to its dashboards: once the
    // instrument is connected (a wrong URL is reported as such), and only when the server has socket.io.
    let relay: Publisher | null = null;
    let record;
    try {
      record = await runSession(scenario, {
        seed,
        policy,
        iterations,
        instrumentUrl: url,
        token,
        takeServedSeed: values['take-served'],
        groundTruth: !values['no-truth'],
        onConnected: async () => {
          if (url && !values['no-relay']) relay = await connectRelay(url, token);
        },
        onCommand: (c) => trace.push({ type: 'command', ...c }),
        onEvent: (e) => {
          trace.push(e);
          if (relay) relayEvent(relay, e, () => (relay = null));
          if (e.type === 'iteration') bar.update(e.record.iteration, `t=${hms(e.record.time_s)}`);
        },
      });
    } catch (e) {
      bar.done();
      (relay as Publisher | null)?.close();
      // A connection that failed, or a served twin of another scenario: one line, exit code 2.
      if (e instanceof InstrumentError && url && (await import('../../protocol/remote.js')).CONNECTION_REASONS.includes(e.reason)) {
        console.error(`error: ${e.description}`);
        return 2;
      }
      throw e;
    }
    bar.done();
    (relay as Publisher | null)?.close();
    const files = writeCampaignOutputs(out, record, trace);
    if (values.json) console.log(JSON.stringify(record.summary, null, 2));
    else console.log(formatSummary(record.summary, files));
    const warning = interferenceWarning(record.summary.interference);
    if (warning) console.error(`warning: ${warning}`);
    return 0;
  });
}

/**
 * The telemetry relay, or null with a one-line note when the server has none (asyncroscopy's
 * bridge serves MCP only) or refuses it: the campaign never fails for its relay.
 */
async function connectRelay(url: string, token: string | undefined): Promise<Publisher | null> {
  const { connectPublisher, hasTelemetryRelay } = await import('../http/publisher.js');
  const origin = new URL(url).origin;
  if (!(await hasTelemetryRelay(url))) {
    console.error(`note: ${origin} has no socket.io telemetry (an MCP-only bridge): the campaign's events are not relayed to dashboards (--no-relay silences this).`);
    return null;
  }
  try {
    return await connectPublisher(url, { token, client: 'stem-twin run' });
  } catch (e) {
    console.error(`note: no telemetry relay to ${origin}: ${e instanceof InstrumentError ? e.description : (e as Error).message}; the campaign runs on without it.`);
    return null;
  }
}

const stoppedRelays = new WeakSet<Publisher>();

/** Relays one event; on the first refusal or failure, says so once and relays no more. */
function relayEvent(relay: Publisher, event: object, stop: () => void): void {
  relay.publish(event).catch((e: unknown) => {
    stop();
    if (stoppedRelays.has(relay)) return;
    stoppedRelays.add(relay);
    relay.close();
    console.error(`note: the telemetry relay stopped: ${e instanceof InstrumentError ? e.description : (e as Error).message}; the campaign runs on without it.`);
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
