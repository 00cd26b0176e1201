import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LATENCY_CATEGORIES } from '../../src/protocol/timing.js';
import { dominantCategory, parseScriptLine, run, ScriptLineError, type ScriptResult } from '../../src/server/cli/script.js';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'stem-twin-script-'));
const scenarioFile = join(dir, 'small.json');
writeFileSync(
  scenarioFile,
  JSON.stringify({ name: 'small', seed: 5, specimen: { area_um: [100, 100], density_per_um2: 0.03, response: { gaussians: 200, sd: 0.1, base_eV: 15, scale_eV: 2 } } }),
);
const regionVisit = join(root, 'scenarios/scripts/region-visit.jsonl');
const edxPoints = join(root, 'scenarios/scripts/edx-points.jsonl');
const correctorRetune = join(root, 'scenarios/scripts/corrector-retune.jsonl');

function script(name: string, lines: string[]): string {
  const p = join(dir, name);
  writeFileSync(p, lines.join('\n'));
  return p;
}

/** Runs the CLI, capturing what it prints. */
async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  const code = await run(argv);
  vi.restoreAllMocks();
  return { code, out: out.join('\n'), err: err.join('\n') };
}

afterEach(() => vi.restoreAllMocks());

describe('script lines', () => {
  it('parse commands, device commands and attribute writes; skip blanks and comments', () => {
    expect(parseScriptLine('{"command": "move_stage", "args": [1e-5, 0, 0, 0, 0]}', 1)).toEqual({ line: 1, kind: 'command', device: 'instrument', command: 'move_stage', args: [1e-5, 0, 0, 0, 0] });
    expect(parseScriptLine('{"device": "EELS", "command": "acquire_eels_spectrum"}', 2)).toEqual({ line: 2, kind: 'command', device: 'EELS', command: 'acquire_eels_spectrum' });
    expect(parseScriptLine('{"device": "SCAN", "attribute": "dwell_time", "value": 1e-6}', 3)).toEqual({ line: 3, kind: 'attribute', device: 'SCAN', attribute: 'dwell_time', value: 1e-6 });
    expect(parseScriptLine('   ', 4)).toBeNull();
    expect(parseScriptLine('# a comment', 5)).toBeNull();
  });

  it.each([
    ['{"command": "get_stage"', /not valid JSON/],
    ['[1, 2]', /expected a JSON object/],
    ['{"command": "get_stage", "arg": 1}', /unknown field "arg"/],
    ['{"device": "LASER", "command": "fire"}', /"device" must be one of/],
    ['{"args": [1]}', /either "command"/],
    ['{"command": "x", "attribute": "y"}', /not both or neither/],
    ['{"command": 3}', /"command" must be a command name/],
    ['{"attribute": "dwell_time", "value": 1}', /needs "device"/],
    ['{"device": "SCAN", "attribute": "dwell_time"}', /needs "value"/],
    ['{"command": "get_stage", "value": 1}', /"value" belongs to attribute writes/],
  ])('refuse %s, naming the line', (text, problem) => {
    let error: unknown;
    try {
      parseScriptLine(text, 7);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ScriptLineError);
    expect((error as ScriptLineError).message).toMatch(/^line 7: /);
    expect((error as ScriptLineError).problem).toMatch(problem);
  });

  it('take the category with the largest share, the first on ties', () => {
    expect(dominantCategory({ stage_travel: 3, settle_retune: 2, control_overhead: 0.02 })).toBe('stage_travel');
    expect(dominantCategory({ beam_shift: 0.005, control_overhead: 0.02 })).toBe('control_overhead');
    expect(dominantCategory({ scan: 1, edx: 1 })).toBe('scan');
  });
});

describe('stem-twin script', () => {
  it('prints the timeline and the time per category of a region visit', async () => {
    const { code, out, err } = await cli(regionVisit, '--scenario', scenarioFile);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toMatch(/line\s+command\s+start_s\s+end_s\s+dur_s\s+category/);
    expect(out).toMatch(/move_stage \[0\.00003,0,0,0,0\]\s+\S+\s+\S+\s+5\.0\d\d\s+stage_travel/);
    expect(out).toMatch(/EELS\.acquire_eels_spectrum/);
    for (const c of LATENCY_CATEGORIES) expect(out).toMatch(new RegExp(`^  ${c}\\s+\\d+\\.\\d{3}$`, 'm'));
    expect(out).toMatch(/^ {2}total\s+\d+\.\d{3}$/m);
  });

  it('with --json prints one object whose totals add up, byte-identical for one seed and different for another', async () => {
    const a = await cli(regionVisit, '--scenario', scenarioFile, '--json', '--seed', '9');
    const b = await cli(regionVisit, '--scenario', scenarioFile, '--json', '--seed', '9');
    const c = await cli(regionVisit, '--scenario', scenarioFile, '--json', '--seed', '10');
    expect(a.code).toBe(0);
    expect(b.out).toBe(a.out);
    expect(c.out).not.toBe(a.out);
    const r = JSON.parse(a.out) as ScriptResult;
    expect(r.seed).toBe(9);
    expect(r.commands).toHaveLength(12);
    expect(r.commands.map((e) => e.category)).toEqual([
      'control_overhead',
      'control_overhead',
      'stage_travel',
      'settle_retune',
      'scan',
      'edx',
      'control_overhead',
      'control_overhead',
      'control_overhead', // place_beam: t_bs (5 ms) is less than the round trip
      'eels',
      'control_overhead',
      'eels',
    ]);
    expect(r.commands[8]!.breakdown_s.beam_shift).toBe(0.005);
    const sum = r.commands.reduce((s, e) => s + (e.end_s - e.start_s), 0);
    expect(r.total_s).toBeCloseTo(sum, 9);
    expect(r.total_s).toBeCloseTo(LATENCY_CATEGORIES.reduce((s, k) => s + r.totals_s[k], 0), 12);
    // move_stage's position is a Tango DevVarFloatArray: 3e-5 m arrives as float32.
    expect(r.totals_s.stage_travel).toBeCloseTo((Math.fround(3e-5) * 1e6) / 10, 12);
    expect(r.totals_s.settle_retune).toBeCloseTo(2 + 5, 12);
    expect(r.totals_s.edx).toBe(10);
    expect(r.commands[4]!.result).toMatch(/^stem_image_HAADF_/);
  });

  it('reports a refused command with its round trip, goes on, and exits 1', async () => {
    const { code, out } = await cli(edxPoints, '--scenario', scenarioFile, '--json');
    expect(code).toBe(1);
    const r = JSON.parse(out) as ScriptResult;
    const refusedEntry = r.commands.find((e) => !e.ok)!;
    expect(refusedEntry).toMatchObject({ command: 'set_image_shift', category: 'control_overhead', error: { reason: 'BeamShiftRange' } });
    expect(Object.keys(refusedEntry.breakdown_s)).toEqual(['control_overhead']);
    expect(r.commands.at(-1)!.ok).toBe(true);
    expect(r.commands).toHaveLength(13);
    const table = await cli(edxPoints, '--scenario', scenarioFile);
    expect(table.out).toMatch(/REFUSED BeamShiftRange/);
    expect(table.out).toMatch(/1 command refused/);
  });

  it('runs corrector commands: JSON-RPC replies numbered in order, the tableau and measurement on the clock', async () => {
    const { code, out } = await cli(correctorRetune, '--scenario', scenarioFile, '--json', '--seed', '4');
    expect(code).toBe(0);
    const r = JSON.parse(out) as ScriptResult;
    expect(r.commands.map((e) => e.command ?? e.attribute)).toEqual(['get_info', 'move_stage', 'acquire_tableau', 'measure_c1a1', 'correct_aberration', 'readout_area', 'acquire_camera_image', 'State']);
    const replies = r.commands.filter((e) => typeof e.result === 'string' && (e.result as string).startsWith('{"jsonrpc"')).map((e) => JSON.parse(e.result as string));
    expect(replies.map((x) => x.id)).toEqual([1, 2, 3, 4]);
    expect(replies[2].result.C1[0]).toBeGreaterThan(0); // the move's drift
    expect(r.commands[2]!.breakdown_s.settle_retune).toBe(20);
    expect(r.commands[3]!.breakdown_s.settle_retune).toBe(3);
    expect(r.commands.at(-1)!.result).toBe('ON');
  });

  it('stops at a bad line with its number, prints what ran, and exits 2', async () => {
    const file = script('bad.jsonl', ['{"command": "get_stage"}', '', '{"command": "auto_focus"}', '{"device": "SCAN", "attribute": "dwell_time"}', '{"command": "get_stage"}']);
    const { code, out, err } = await cli(file, '--scenario', scenarioFile, '--json');
    expect(code).toBe(2);
    expect(err).toMatch(/line 4: an attribute write needs "value"/);
    const r = JSON.parse(out) as ScriptResult;
    expect(r.commands.map((e) => e.line)).toEqual([1, 3]);
    expect(r.error).toEqual({ line: 4, message: expect.stringMatching(/needs "value"/) });
  });

  it('refuses bad usage with exit 2', async () => {
    expect((await cli(regionVisit)).err).toMatch(/--scenario <file> is required/);
    expect((await cli('--scenario', scenarioFile)).code).toBe(2);
    expect((await cli(regionVisit, '--scenario', scenarioFile, '--seed', 'abc')).err).toMatch(/--seed must be a whole number/);
    expect((await cli(join(dir, 'missing.jsonl'), '--scenario', scenarioFile)).err).toMatch(/cannot read/);
    expect((await cli(regionVisit, '--scenario', join(dir, 'missing.json'))).code).toBe(2);
    expect((await cli('--help')).code).toBe(0);
  });
});
