import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { run } from '../../src/server/cli/capacity.js';

let out: string[];
let err: string[];
beforeEach(() => {
  out = [];
  err = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
});
afterEach(() => vi.restoreAllMocks());

describe('stem-twin capacity', () => {
  it("prints the paper's table by default", async () => {
    expect(await run([])).toBe(0);
    const text = out.join('\n');
    expect(text).toMatch(/500\s+150\s+1\.56e\+6\s+14\s+6/);
    expect(text).toMatch(/150\s+45\s+1\.73e\+7\s+19\s+7/);
    expect(text).toMatch(/50\s+15\s+1\.56e\+8\s+25\s+8/);
    for (const [D, n] of [[3, 66], [4, 286], [5, 1001], [6, 3003], [7, 8008], [8, 19448]]) expect(text).toMatch(new RegExp(`^${D}\\s+${n}\\s+1e\\+${D}$`, 'm'));
  });

  it('prints one JSON object with --json', async () => {
    expect(await run(['--json', '--radius-nm', '500', '--coverage', '0.25'])).toBe(0);
    expect(out).toHaveLength(1);
    const json = JSON.parse(out[0]!);
    expect(json.radii).toHaveLength(1);
    expect(json.radii[0].expected_particles / 1.56e6).toBeCloseTo(0.5, 2);
    expect(json.dimensions.map((d: { simplex_grid_points: number }) => d.simplex_grid_points)).toEqual([66, 286, 1001, 3003, 8008, 19448]);
    expect(json.coverage).toBe(0.25);
  });

  it('follows --area-mm2, --sd-fraction and --step', async () => {
    expect(await run(['--json', '--radius-nm', '100', '--area-mm2', '1', '--sd-fraction', '0', '--coverage', '1', '--step', '0.5'])).toBe(0);
    const json = JSON.parse(out[0]!);
    expect(json.radii[0].expected_particles).toBeCloseTo(1e-6 / (Math.PI * 1e-14), 3);
    expect(json.dimensions[0]).toEqual({ D: 3, simplex_grid_points: 6, paper_grid_points: 8 });
  });

  it('prints usage with an example for --help', async () => {
    expect(await run(['--help'])).toBe(0);
    expect(out.join('\n')).toMatch(/usage: stem-twin capacity/);
    expect(out.join('\n')).toMatch(/example:\n\s+stem-twin capacity --radius-nm/);
  });

  it.each([
    [['--radius-nm', '500,abc'], /--radius-nm/],
    [['--radius-nm', '-5'], /--radius-nm/],
    [['--coverage', '1.5'], /--coverage/],
    [['--sd-fraction', 'x'], /--sd-fraction/],
    [['--area-mm2', '0'], /--area-mm2/],
    [['--step', '0.3'], /--step/],
    [['--bogus'], /bogus/],
    [['extra'], /positional/],
  ])('rejects %j with exit code 2, naming the option', async (argv, message) => {
    expect(await run(argv)).toBe(2);
    expect(err.join('\n')).toMatch(message);
    expect(out).toEqual([]);
  });
});
