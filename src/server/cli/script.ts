import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEVICES, type DeviceName } from '../../protocol/commands.js';
import { InstrumentError } from '../../protocol/instrument.js';
import { loadScenario, ScenarioError, type Scenario } from '../../protocol/scenario.js';
import { emptyBreakdown, LATENCY_CATEGORIES, type Breakdown, type LatencyCategory } from '../../protocol/timing.js';
import { createTwin } from '../../twin/index.js';
import type { CommandEndRecord } from '../../twin/instrument/telemetry.js';

/**
 * `stem-twin script <commands.jsonl> --scenario <file> [--seed N] [--json]`: runs a list of
 * protocol commands against the twin and prints where the time went.
 *
 * One JSON object per line:
 *   {"command": "move_stage", "args": [3e-5, 0, 0, 0, 0]}              an instrument command
 *   {"device": "EELS", "command": "acquire_eels_spectrum"}             a command of another device
 *   {"device": "SCAN", "attribute": "dwell_time", "value": 1e-6}       a setting (attribute write)
 * Blank lines and lines starting with "#" are skipped.
 *
 * A line that is not such an object stops the script there (exit 2; what ran is printed). A
 * command the instrument refuses (InstrumentError) is reported with its round trip and the
 * script goes on, as a session on the real server would; the exit code is then 1.
 */

export type ScriptStep =
  | { line: number; kind: 'command'; device: DeviceName; command: string; args?: unknown }
  | { line: number; kind: 'attribute'; device: DeviceName; attribute: string; value: unknown };

export class ScriptLineError extends Error {
  constructor(
    readonly line: number,
    readonly problem: string,
  ) {
    super(`line ${line}: ${problem}`);
    this.name = 'ScriptLineError';
  }
}

const FIELDS = ['command', 'args', 'device', 'attribute', 'value'];

/** Parses one line of a script; null for blank and comment lines. Throws ScriptLineError. */
export function parseScriptLine(text: string, line: number): ScriptStep | null {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed.startsWith('#')) return null;
  let o: unknown;
  try {
    o = JSON.parse(trimmed);
  } catch (e) {
    throw new ScriptLineError(line, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new ScriptLineError(line, 'expected a JSON object like {"command": "get_stage"}');
  const rec = o as Record<string, unknown>;
  const unknown = Object.keys(rec).filter((k) => !FIELDS.includes(k));
  if (unknown.length) throw new ScriptLineError(line, `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')} (allowed: ${FIELDS.join(', ')})`);
  if (rec.device !== undefined && (typeof rec.device !== 'string' || !(DEVICES as readonly string[]).includes(rec.device))) {
    throw new ScriptLineError(line, `"device" must be one of ${DEVICES.join(', ')}, got ${JSON.stringify(rec.device)}`);
  }
  const device = (rec.device ?? 'instrument') as DeviceName;
  const hasCommand = 'command' in rec;
  const hasAttribute = 'attribute' in rec;
  if (hasCommand === hasAttribute) throw new ScriptLineError(line, 'give either "command" (a command) or "attribute" with "value" (a setting), not both or neither');
  if (hasCommand) {
    if (typeof rec.command !== 'string' || rec.command === '') throw new ScriptLineError(line, `"command" must be a command name, got ${JSON.stringify(rec.command)}`);
    if ('value' in rec) throw new ScriptLineError(line, '"value" belongs to attribute writes; a command takes "args"');
    return { line, kind: 'command', device, command: rec.command, ...('args' in rec ? { args: rec.args } : {}) };
  }
  if (typeof rec.attribute !== 'string' || rec.attribute === '') throw new ScriptLineError(line, `"attribute" must be an attribute name, got ${JSON.stringify(rec.attribute)}`);
  if (rec.device === undefined) throw new ScriptLineError(line, `an attribute write needs "device" (e.g. "SCAN" for ${rec.attribute})`);
  if (!('value' in rec)) throw new ScriptLineError(line, `an attribute write needs "value" (reading attributes is not scripted)`);
  if ('args' in rec) throw new ScriptLineError(line, '"args" belongs to commands; an attribute write takes "value"');
  return { line, kind: 'attribute', device, attribute: rec.attribute, value: rec.value };
}

export interface ScriptEntry {
  line: number;
  device: DeviceName;
  command?: string;
  args?: unknown;
  attribute?: string;
  value?: unknown;
  start_s: number;
  end_s: number;
  /** The category with the largest share of this command's time. */
  category: LatencyCategory;
  breakdown_s: Breakdown;
  ok: boolean;
  /** What the command returned (data keys, positions...). */
  result?: unknown;
  error?: { reason: string; description: string };
}

export interface ScriptResult {
  scenario: string;
  seed: number;
  commands: ScriptEntry[];
  totals_s: Record<LatencyCategory, number>;
  total_s: number;
  /** Set when a bad line stopped the script. */
  error?: { line: number; message: string };
}

/** The category with the largest share (the first in LATENCY_CATEGORIES order on ties). */
export function dominantCategory(b: Breakdown): LatencyCategory {
  let best: LatencyCategory = 'control_overhead';
  let most = -Infinity;
  for (const c of LATENCY_CATEGORIES) {
    const v = b[c] ?? 0;
    if (v > most) {
      most = v;
      best = c;
    }
  }
  return best;
}

/** Runs the script's text against a fresh twin of the scenario. Stops at the first bad line. */
export async function runScript(text: string, scenario: Scenario, seed?: number): Promise<ScriptResult> {
  const { instrument, telemetry, seed: usedSeed } = createTwin(scenario, { seed, client: 'script' });
  let lastEnd: CommandEndRecord | undefined;
  const subscription = telemetry.records$.subscribe((r) => {
    if (r.type === 'command-end') lastEnd = r;
  });
  const result: ScriptResult = { scenario: scenario.name, seed: usedSeed, commands: [], totals_s: emptyBreakdown(), total_s: 0 };
  try {
    const lines = text.split(/\r?\n/);
    for (let i = 0; i < lines.length; i++) {
      let step: ScriptStep | null;
      try {
        step = parseScriptLine(lines[i]!, i + 1);
      } catch (e) {
        if (!(e instanceof ScriptLineError)) throw e;
        result.error = { line: e.line, message: e.problem };
        break;
      }
      if (!step) continue;
      lastEnd = undefined;
      let returned: unknown;
      let refusal: InstrumentError | undefined;
      try {
        returned =
          step.kind === 'command'
            ? (await instrument.execute({ device: step.device, command: step.command, args: step.args })).value
            : (await instrument.writeAttribute({ device: step.device, attribute: step.attribute, value: step.value })).value;
      } catch (e) {
        if (!(e instanceof InstrumentError)) throw e;
        refusal = e;
      }
      const end = lastEnd as CommandEndRecord | undefined;
      if (!end) throw new Error(`line ${step.line}: the twin emitted no command-end record`);
      const entry: ScriptEntry = {
        line: step.line,
        device: step.device,
        ...(step.kind === 'command' ? { command: step.command, ...('args' in step ? { args: step.args } : {}) } : { attribute: step.attribute, value: step.value }),
        start_s: end.start_s,
        end_s: end.end_s,
        category: dominantCategory(end.breakdown_s),
        breakdown_s: end.breakdown_s,
        ok: refusal === undefined,
      };
      if (refusal) entry.error = { reason: refusal.reason, description: refusal.description };
      else if (returned !== null && returned !== undefined) entry.result = returned;
      result.commands.push(entry);
      for (const c of LATENCY_CATEGORIES) result.totals_s[c] += end.breakdown_s[c] ?? 0;
    }
  } finally {
    subscription.unsubscribe();
  }
  result.total_s = LATENCY_CATEGORIES.reduce((s, c) => s + result.totals_s[c], 0);
  return result;
}

const s3 = (x: number) => x.toFixed(3);

function describeStep(e: ScriptEntry): string {
  const dev = e.device === 'instrument' ? '' : `${e.device}.`;
  const arg = (v: unknown) => {
    const t = JSON.stringify(v) ?? '';
    return t.length > 36 ? `${t.slice(0, 33)}...` : t;
  };
  if (e.attribute !== undefined) return `${dev}${e.attribute} = ${arg(e.value)}`;
  return 'args' in e ? `${dev}${e.command} ${arg(e.args)}` : `${dev}${e.command}`;
}

function describeBreakdown(b: Breakdown): string {
  return LATENCY_CATEGORIES.filter((c) => (b[c] ?? 0) > 0)
    .map((c) => `${c} ${s3(b[c]!)}`)
    .join(', ');
}

/** The timeline and the totals as a readable table. */
export function formatScriptResult(r: ScriptResult, source: string): string {
  const rows = r.commands.map((e) => [
    String(e.line),
    describeStep(e),
    s3(e.start_s),
    s3(e.end_s),
    s3(e.end_s - e.start_s),
    e.ok ? e.category : `REFUSED ${e.error!.reason}`,
    e.ok ? describeBreakdown(e.breakdown_s) : `${describeBreakdown(e.breakdown_s)}; ${e.error!.description}`,
  ]);
  const head = ['line', 'command', 'start_s', 'end_s', 'dur_s', 'category', 'breakdown (s)'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const right = new Set([0, 2, 3, 4]);
  const fmt = (row: string[]) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : right.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [`${source}: scenario ${r.scenario}, seed ${r.seed}`, '', fmt(head), ...rows.map(fmt), '', 'time per category (s)'];
  const cw = Math.max(...LATENCY_CATEGORIES.map((c) => c.length), 'total'.length);
  for (const c of LATENCY_CATEGORIES) out.push(`  ${c.padEnd(cw)}  ${s3(r.totals_s[c]).padStart(10)}`);
  out.push(`  ${'total'.padEnd(cw)}  ${s3(r.total_s).padStart(10)}`);
  const refused = r.commands.filter((e) => !e.ok).length;
  if (refused) out.push('', `${refused} command${refused > 1 ? 's' : ''} refused (reported above; the script went on).`);
  return out.join('\n');
}

const USAGE = `usage: stem-twin script <commands.jsonl> --scenario <file> [--seed N] [--json]

Runs protocol commands against the twin and prints each command's start, end and latency
breakdown, then the time per category and the total. One JSON object per line:
  {"command": "move_stage", "args": [3e-5, 0, 0, 0, 0]}
  {"device": "EELS", "command": "acquire_eels_spectrum"}
  {"device": "SCAN", "attribute": "dwell_time", "value": 1e-6}
Blank lines and lines starting with # are skipped. Examples: scenarios/scripts/*.jsonl.

  --scenario <file>  scenario JSON (instrument latencies, specimen)    required
  --seed N           overrides the scenario's seed (round trips, data noise)
  --json             one JSON object: {commands, totals_s, total_s}

exit: 0 all ran; 1 some command was refused (reported, the script went on);
      2 bad usage, scenario or script line (stops at that line)`;

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { scenario: { type: 'string' }, seed: { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
    });
  } catch (e) {
    console.error(`stem-twin script: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    console.error(`stem-twin script: expected one commands file, got ${positionals.length ? positionals.join(' ') : 'none'}\n\n${USAGE}`);
    return 2;
  }
  if (!values.scenario) {
    console.error(`stem-twin script: --scenario <file> is required\n\n${USAGE}`);
    return 2;
  }
  let seed: number | undefined;
  if (values.seed !== undefined) {
    seed = Number(values.seed);
    if (!/^\d+$/.test(values.seed) || !Number.isSafeInteger(seed)) {
      console.error(`stem-twin script: --seed must be a whole number >= 0, got "${values.seed}"`);
      return 2;
    }
  }
  const file = positionals[0]!;
  let text: string;
  let scenario: Scenario;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    console.error(`stem-twin script: cannot read ${file}: ${(e as Error).message}`);
    return 2;
  }
  try {
    scenario = loadScenario(values.scenario);
  } catch (e) {
    if (e instanceof ScenarioError) {
      console.error(`stem-twin script: ${e.message}`);
      return 2;
    }
    throw e;
  }
  const result = await runScript(text, scenario, seed);
  console.log(values.json ? JSON.stringify(result, null, 2) : formatScriptResult(result, file));
  if (result.error) {
    console.error(`stem-twin script: ${file} line ${result.error.line}: ${result.error.message} (stopped there; the commands above ran)`);
    return 2;
  }
  return result.commands.some((e) => !e.ok) ? 1 : 0;
}
