import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIO, loadScenario, parseScenario, ScenarioError, scenarioSchemaJson } from '../../src/protocol/scenario.js';

const scenarios = resolve(import.meta.dirname, '../../scenarios');

function problemsOf(input: unknown): string[] {
  try {
    parseScenario(input);
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioError);
    return (e as ScenarioError).problems;
  }
  throw new Error('expected the scenario to be refused');
}

describe('scenarios', () => {
  it('every scenario file in scenarios/ is valid', () => {
    const files = readdirSync(scenarios).filter((f) => f.endsWith('.json') && f !== 'scenario.schema.json');
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const f of files) expect(() => loadScenario(join(scenarios, f)), f).not.toThrow();
  });

  it("the paper scenarios carry the paper's parameters (model.md section 6)", () => {
    const expectations: [string, number, number][] = [
      ['paper-3d-au-co-ni.json', 3, 150],
      ['paper-4d.json', 4, 300],
      ['paper-5d.json', 5, 300],
    ];
    for (const [file, dims, iterations] of expectations) {
      const s = loadScenario(join(scenarios, file));
      expect(s.specimen.elements).toHaveLength(dims);
      expect(s.policy.iterations).toBe(iterations);
      expect(s.specimen.area_um).toEqual([300, 300]);
      expect(s.specimen.density_per_um2).toBe(0.02);
      expect(s.specimen.radius_nm).toMatchObject({ mean: 20, sd: 10 });
      expect(s.specimen.response).toMatchObject({ gaussians: 1_000_000, sd: 0.1 });
      expect(s.instrument).toMatchObject({ beam_shift_range_um: 30, stage_speed_um_per_s: 10, retune_s: 5, edx_frame_s: 10 });
      expect(s.policy).toMatchObject({ name: 'cost-aware', acquisition: 'max-variance', seed_particles: 3, region_um: 30, alpha: 1 });
      expect(s.policy.eels.exposure_time_s).toBe(1);
    }
  });

  it('fills defaults for what a file leaves out', () => {
    const s = parseScenario({ name: 'minimal', specimen: { elements: ['Pt', 'Pd'] } });
    expect(s.specimen.elements).toEqual(['Pt', 'Pd']);
    expect(s.specimen.density_per_um2).toBe(DEFAULT_SCENARIO.specimen.density_per_um2);
    expect(s.instrument).toEqual(DEFAULT_SCENARIO.instrument);
  });

  it('names the field and the allowed range of every bad value', () => {
    const problems = problemsOf({ name: 'x', seed: -1, specimen: { density_per_um2: 500, elements: ['Au', 'Xx'] }, policy: { name: 'greedy', typo: 1 } });
    expect(problems).toContain('seed: must be >= 0 (got -1)');
    expect(problems).toContain('specimen.density_per_um2: must be <= 100 (got 500)');
    expect(problems.some((p) => p.startsWith('specimen.elements.1: must be one of') && p.includes('"Au"'))).toBe(true);
    expect(problems.some((p) => p.startsWith('policy.name: must be one of "cost-aware"'))).toBe(true);
    expect(problems).toContain('policy: unknown field "typo"');
  });

  it('checks consistency between fields', () => {
    expect(problemsOf({ name: 'x', specimen: { elements: ['Au', 'Co', 'Ni'], composition: { kind: 'dirichlet', alpha: [1, 1] } } })).toEqual([
      'specimen.composition.alpha: needs one entry per element (3), got 2',
    ]);
    expect(problemsOf({ name: 'x', specimen: { elements: ['Au', 'Co'], composition: { kind: 'gradient', from: [1, 0], to: [0.5, 0.4], axis: 'x' } } })).toEqual([
      'specimen.composition.to: fractions must sum to 1 (got 0.9)',
    ]);
    expect(problemsOf({ name: 'x', instrument: { control_overhead_s: { min: 0.5, max: 0.1 } } })[0]).toMatch(/^instrument.control_overhead_s: min/);
  });

  it('reports unreadable and malformed files by path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stem-twin-'));
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"name": ');
    expect(() => loadScenario(bad)).toThrow(/bad\.json[\s\S]*not valid JSON/);
    expect(() => loadScenario(join(dir, 'missing.json'))).toThrow(/missing\.json[\s\S]*cannot read the file/);
  });

  it('scenarios/scenario.schema.json is up to date (npx tsx scripts/write-scenario-schema.ts)', () => {
    expect(readFileSync(join(scenarios, 'scenario.schema.json'), 'utf8')).toBe(scenarioSchemaJson());
  });
});
