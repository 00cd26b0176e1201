import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it, vi } from 'vitest';
import { loadScenario } from '../../src/protocol/scenario.js';
import { guarded, tokenOption } from '../../src/server/cli/args.js';
import { defaultOutDirectory } from '../../src/server/cli/run.js';
import { serveOptions } from '../../src/server/cli/serve.js';

/**
 * Issue 8: no CLI command shows a user a stack trace. Every mistake in a scenario or an argument
 * list is exit code 2 and one or two lines (before the usage, for argument mistakes) naming the
 * field or option. The CLI runs as a child process, as a user runs it.
 */

const BIN = join(import.meta.dirname, '../../bin/stem-twin.js');
const dir = mkdtempSync(join(tmpdir(), 'stem-twin-hardening-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const scenario = (name: string, value: object) => file(`${name}.json`, JSON.stringify({ name: 'ok', ...value }));
const small = scenario('small', { specimen: { area_um: [40, 40], response: { gaussians: 100 } }, policy: { iterations: 1 } });

async function cli(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stderr: string; stdout: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...argv], { cwd: dir, env: { ...process.env, STEM_TWIN_TOKEN: '', ...env } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** Exit 2, no stack frame, the error (before any usage text) in one or two lines matching `names`. */
async function expectRefused(argv: string[], names: RegExp): Promise<void> {
  const { code, stderr } = await cli(argv);
  expect(stderr).not.toMatch(/^\s+at /m);
  const error = stderr.split('\n\n')[0]!.trimEnd();
  expect(error.split('\n').length, error).toBeLessThanOrEqual(2);
  expect(error).toMatch(names);
  expect(code, stderr).toBe(2);
}

const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
const six = ['Au', 'Co', 'Ni', 'Cu', 'Pd', 'Pt'];
const ten = [...six, 'Ti', 'Cr', 'Mn', 'Fe'];

describe('malformed scenarios are refused with exit 2 and the field named', { timeout: 30_000 }, () => {
  it.each<[string, string, RegExp]>([
    ['a name that leaves out/', scenario('traversal', { name: '../../x' }), /name: must be a safe file name.*"\.\.\/\.\.\/x"/],
    ['a name with a slash', scenario('slash', { name: 'a/b' }), /name: must be a safe file name/],
    ['5,000-deep nesting', file('deep.json', `{"name": "ok", "description": ${deep(5000)}}`), /description: must be string \(got a deeply nested array\)/],
    ['5,000-deep nesting in an unknown field', file('deep2.json', `{"name": "ok", "extra": ${deep(5000)}}`), /unknown field "extra"/],
    ['1e309', file('inf.json', '{"name": "ok", "specimen": {"density_per_um2": 1e309}}'), /specimen\.density_per_um2: the number is too large \(not finite\)/],
    ['-1e309', file('ninf.json', '{"name": "ok", "policy": {"alpha": -1e309}}'), /policy\.alpha: the number is too large \(not finite\)/],
    ['an unknown composition kind', scenario('kind', { specimen: { composition: { kind: 'x' } } }), /specimen\.composition\.kind: must be one of uniform, dirichlet, gradient, got "x"/],
    ['a gradient without `to`', scenario('gradient', { specimen: { composition: { kind: 'gradient', from: [1, 0, 0] } } }), /specimen\.composition: must have required property 'to'/],
    ['an error grid step that is not 1/n', scenario('step', { policy: { error_grid_step: 0.3 } }), /policy\.error_grid_step: must be 1\/n/],
    ['6 elements at error_grid_step 0.01', scenario('grid', { specimen: { elements: six }, policy: { error_grid_step: 0.01 } }), /policy\.error_grid_step 0\.01 with 6 elements makes 96,560,646 grid points \(limit 200,000\)/],
    ['10 elements with defaults', scenario('ten', { specimen: { elements: ten } }), /specimen\.response\.gaussians 1,000,000 on 92,378 error-grid points .* \(limit 1e\+10\)/],
    ['9e6 particles', scenario('many', { specimen: { area_um: [2000, 2000], density_per_um2: 2.25 } }), /specimen\.density_per_um2 2\.25 over 2000 x 2000 um makes 9,000,000 particles, about 3\.6 GB \(limit 2,000,000\)/],
    ['too dense for the twin (> 20e6 particles)', scenario('dense', { specimen: { area_um: [2000, 2000], density_per_um2: 100, radius_nm: { mean: 1, sd: 0, min: 0.5 } } }), /specimen\.density_per_um2 100 over .* makes 400,000,000 particles/],
    ['too covered', scenario('covered', { specimen: { density_per_um2: 10, radius_nm: { mean: 200, sd: 10, min: 3 } } }), /specimen\.density_per_um2 10 with radius 200 \+- 10 nm covers 126 % of the area \(at most 50 %\)/],
    ['not JSON', file('bad.json', '{"name": '), /not valid JSON/],
    ['a missing file', join(dir, 'missing.json'), /cannot read the file/],
  ])('%s', async (_, path, names) => {
    await expectRefused(['run', path], names);
  });

  it('estimate and serve refuse them the same way (the check is in the loader)', async () => {
    const path = scenario('grid2', { specimen: { elements: six }, policy: { error_grid_step: 0.01 } });
    await expectRefused(['estimate', path, '--runs', '1'], /policy\.error_grid_step 0\.01/);
    await expectRefused(['serve', '--scenario', path], /policy\.error_grid_step 0\.01/);
  });
});

describe('bad argument lists are refused with exit 2 and the option named', { timeout: 30_000 }, () => {
  it.each<[string[], RegExp]>([
    [['run', small, '--seed', '-1'], /--seed must be a whole number from 0 to 2147483647, in decimal digits \(got "-1"\)/],
    [['run', small, '--seed', ''], /--seed must be a whole number .* \(got ""\)/],
    [['run', small, '--seed', '0x10'], /--seed must be a whole number .* \(got "0x10"\)/],
    [['run', small, '--seed', '1e3'], /--seed must be a whole number .* \(got "1e3"\)/],
    [['run', small, '--seed', '1.5'], /--seed/],
    [['run', small, '--iterations', '-5'], /--iterations must be a whole number/],
    [['run', small, '--policy', 'greedy'], /--policy must be one of/],
    [['run', small, '--token-file', join(dir, 'no-such-token')], /--token-file .*no-such-token: cannot read it \(ENOENT\)/],
    [['run', small, '--token', 'abcdefgh', '--token-file', small], /--token or --token-file, not both/],
    [['run'], /missing the scenario file/],
    [['run', small, small], /expected one scenario file, got 2/],
    [['run', small, '--bogus'], /--bogus/],
    [['estimate', small, '--runs', '-3'], /--runs/],
    [['estimate', small, '--seed', '-1', '--runs', '1'], /--seed/],
    [['compare', small, '--runs', '0x2'], /--runs/],
    [['serve', '--scenario', small, '--port', '-1'], /--port must be a whole number from 0 to 65535/],
    [['serve', '--scenario', small, '--port', ''], /--port/],
    [['serve', '--scenario', small, '--speed', '-2'], /--speed/],
    [['serve', '--scenario', small, '--token-file', join(dir, 'empty-token')], /--token-file .*empty-token: the file is empty/],
    [['serve'], /missing --scenario/],
    [['capacity', '--radius-nm', '-5'], /--radius-nm/],
    [['capacity', '--coverage', ''], /--coverage/],
    [['capacity', '--step', '0x1'], /--step/],
    [['nonsense'], /unknown command "nonsense"/],
  ])('%j', async (argv, names) => {
    writeFileSync(join(dir, 'empty-token'), '  \n');
    await expectRefused(argv, names);
  });
});

describe('the loader and the CLI helpers', { timeout: 30_000 }, () => {
  it('accepts a UTF-8 byte-order mark', () => {
    expect(loadScenario(file('bom.json', `\uFEFF${JSON.stringify({ name: 'bom' })}`)).name).toBe('bom');
  });

  it('keeps the default output folder inside out/', () => {
    expect(defaultOutDirectory('paper-3d-cost-aware-seed1')).toBe(join('out', 'paper-3d-cost-aware-seed1'));
    expect(() => defaultOutDirectory('../../x')).toThrow(/would leave out\//);
    expect(() => defaultOutDirectory('a/b')).toThrow(/would leave out\//);
  });

  it("turns the twin's specimen RangeError into a scenario error, exit 2", async () => {
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const code = await guarded('usage', async () => {
        throw new RangeError('specimen.density_per_um2: 10 particles per um^2 would cover 126 % of the area');
      });
      expect(code).toBe(2);
      expect(err.mock.calls.join('\n')).toMatch(/^error: invalid scenario:\n {2}- specimen\.density_per_um2: /);
    } finally {
      err.mockRestore();
    }
  });

  it('reads the token from --token-file or STEM_TWIN_TOKEN, --token first', () => {
    const tokenFile = file('token', 'from-the-file-123\n');
    expect(tokenOption({ 'token-file': tokenFile }, {})).toBe('from-the-file-123');
    expect(tokenOption({}, { STEM_TWIN_TOKEN: 'from-the-env-123' })).toBe('from-the-env-123');
    expect(tokenOption({ token: 'from-argv-123' }, { STEM_TWIN_TOKEN: 'from-the-env-123' })).toBe('from-argv-123');
    expect(tokenOption({}, { STEM_TWIN_TOKEN: '' })).toBeUndefined();
    expect(serveOptions(['--scenario', small, '--host', '0.0.0.0', '--token-file', tokenFile])).toMatchObject({ token: 'from-the-file-123' });
  });

  it('documents --token-file and STEM_TWIN_TOKEN in --help of run and serve', async () => {
    for (const command of ['run', 'serve']) {
      const { code, stdout } = await cli([command, '--help']);
      expect(code).toBe(0);
      expect(stdout).toMatch(/--token-file PATH/);
      expect(stdout).toMatch(/STEM_TWIN_TOKEN/);
    }
  });
});
