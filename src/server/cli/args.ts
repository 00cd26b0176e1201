import { accessSync, constants, mkdirSync, readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadScenario, ScenarioError, type PolicyName, type Scenario } from '../../protocol/scenario.js';

/** A command-line mistake: printed with the command's usage, exit code 2. */
export class UsageError extends Error {}

export const POLICY_NAMES: readonly PolicyName[] = ['cost-aware', 'cost-blind', 'random', 'nearest', 'raster'];

/** `--seed -1` as `--seed=-1`: a negative number after a string option is its value, not an option. */
function joinNegativeValues(argv: string[], options: NonNullable<ParseArgsConfig['options']>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = /^--([^=]+)$/.exec(argv[i]!)?.[1];
    const next = argv[i + 1];
    if (name && options[name]?.type === 'string' && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${argv[i]}=${next}`);
      i++;
    } else out.push(argv[i]!);
  }
  return out;
}

/** parseArgs with errors a newcomer understands. */
export function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: joinNegativeValues(argv, options), options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
}

export function intOption(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = /^-?\d+$/.test(value) ? Number(value) : NaN; // decimal digits only: not '', 0x10 or 1e3
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, in decimal digits (got "${value}")`);
  return n;
}

export function numberOption(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(value) ? Number(value) : NaN; // not '' (0) or 0x10
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be a number from ${min} to ${max}, in decimal (got "${value}")`);
  return n;
}

export function policyOption(value: string | undefined): PolicyName | undefined {
  if (value === undefined) return undefined;
  if (!POLICY_NAMES.includes(value as PolicyName)) throw new UsageError(`--policy must be one of ${POLICY_NAMES.join(', ')} (got "${value}")`);
  return value as PolicyName;
}

export function scenarioArgument(positionals: string[]): Scenario {
  if (positionals.length === 0) throw new UsageError('missing the scenario file, e.g. scenarios/paper-3d-au-co-ni.json');
  if (positionals.length > 1) throw new UsageError(`expected one scenario file, got ${positionals.length}: ${positionals.join(' ')}`);
  return loadScenario(positionals[0]!);
}

/**
 * Creates an --out folder and checks it can be written, before any campaign runs: a run must not
 * end in a stack trace with its results lost.
 */
export function outputDirectory(dir: string, option = 'out'): string {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOTDIR' || code === 'EEXIST' ? 'part of the path is a file, not a folder' : code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? 'no permission to write there' : (e as Error).message;
    throw new UsageError(`--${option} ${dir}: cannot write the results there (${why})`);
  }
  return dir;
}

/**
 * A bearer token from --token, --token-file PATH or the STEM_TWIN_TOKEN environment variable (in
 * that order), so it need not show in `ps`. A token file's surrounding whitespace is dropped.
 */
export function tokenOption(values: { token?: string; 'token-file'?: string }, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (values.token !== undefined && values['token-file'] !== undefined) throw new UsageError('give --token or --token-file, not both');
  if (values['token-file'] !== undefined) {
    let text: string;
    try {
      text = readFileSync(values['token-file'], 'utf8');
    } catch (e) {
      throw new UsageError(`--token-file ${values['token-file']}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    const token = text.trim();
    if (!token) throw new UsageError(`--token-file ${values['token-file']}: the file is empty`);
    return token;
  }
  return values.token ?? (env.STEM_TWIN_TOKEN || undefined);
}

/** The options tokenOption reads, for parse(). */
export const TOKEN_OPTIONS = { token: { type: 'string' }, 'token-file': { type: 'string' } } as const;

/** Runs a command body, turning usage and scenario errors into a message and exit code 2. */
export async function guarded(usage: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`error: ${e.message}\n\n${usage}`);
      return 2;
    }
    if (e instanceof ScenarioError) {
      console.error(`error: ${e.message}`);
      return 2;
    }
    // The twin's own checks of a specimen (too dense, too covered, ...) name the scenario field.
    if (e instanceof RangeError && /^specimen\./.test(e.message)) {
      console.error(`error: invalid scenario:\n  - ${e.message}`);
      return 2;
    }
    // Anything else is a bug or the environment: one line, not a stack trace (STEM_TWIN_DEBUG=1 shows it).
    if (process.env.STEM_TWIN_DEBUG) throw e;
    console.error(`error: ${(e as Error)?.message ?? String(e)}`);
    return 1;
  }
}
