import { accessSync, constants, mkdirSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadScenario, ScenarioError, type PolicyName, type Scenario } from '../../protocol/scenario.js';

/** A command-line mistake: printed with the command's usage, exit code 2. */
export class UsageError extends Error {}

export const POLICY_NAMES: readonly PolicyName[] = ['cost-aware', 'cost-blind', 'random', 'nearest', 'raster'];

/** parseArgs with errors a newcomer understands. */
export function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
}

export function intOption(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max} (got "${value}")`);
  return n;
}

export function numberOption(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be a number from ${min} to ${max} (got "${value}")`);
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
    throw e;
  }
}
