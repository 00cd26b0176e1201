import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import { ELEMENTS } from './elements.js';

/**
 * A scenario: the specimen, the instrument's latencies and the policy, as one JSON file in
 * scenarios/. Validated against SCENARIO_SCHEMA; defaults fill what a file leaves out, so a file
 * states only what differs from the paper's setup. Units are in the field names.
 */
export interface Scenario {
  name: string;
  description: string;
  seed: number;
  specimen: SpecimenSpec;
  instrument: InstrumentSpec;
  policy: PolicySpec;
}

export type CompositionSpec =
  | { kind: 'uniform' }
  | { kind: 'dirichlet'; alpha: number[] }
  /** Mean composition varies linearly from `from` (one edge of the region) to `to` (the other) along `axis`; Dirichlet scatter around it with total concentration `concentration`. */
  | { kind: 'gradient'; from: number[]; to: number[]; axis: 'x' | 'y'; concentration: number };

export interface SpecimenSpec {
  /** Accessible area [width, height] in um, centred on stage (0, 0). */
  area_um: [number, number];
  density_per_um2: number;
  radius_nm: { mean: number; sd: number; min: number };
  elements: string[];
  composition: CompositionSpec;
  response: {
    /** Number of Gaussians in the ground-truth superposition (paper: 1e6). */
    gaussians: number;
    /** Their standard deviation in composition units (paper: 0.1). */
    sd: number;
    /** The target property is reported in eV: base + scale x standardised field. */
    base_eV: number;
    scale_eV: number;
  };
}

export interface InstrumentSpec {
  /** Control-server round trip paid by every command, uniform on [min, max] s. */
  control_overhead_s: { min: number; max: number };
  /** Beam repositioning inside the beam-shift range (t_bs), beyond the round trip. */
  beam_shift_s: number;
  /** Half of the square beam/image-shift range is beam_shift_range_um / 2 from the stage position. */
  beam_shift_range_um: number;
  stage_speed_um_per_s: number;
  stage_settle_s: number;
  /** Stage limits, +- in um for x, y, z and deg for alpha, beta. */
  stage_limits: { xy_um: number; z_um: number; alpha_deg: number; beta_deg: number };
  /** Autofocus / retune time. */
  retune_s: number;
  /** Field of view at start, um. */
  fov_um: number;
  beam_current_pA: number;
  haadf_frame_overhead_s: number;
  edx_frame_s: number;
  edx_point_overhead_s: number;
  eels_overhead_s: number;
  /** Defocus blur (nm, sigma) of data taken after a stage move and before auto_focus. */
  detuned_blur_nm: number;
  /** Signal factor (< 1) of data taken while detuned. */
  detuned_signal_factor: number;
  /** Probe size (nm, sigma) when tuned. */
  probe_sigma_nm: number;
}

export type PolicyName = 'cost-aware' | 'cost-blind' | 'random' | 'nearest' | 'raster';
export type AcquisitionName = 'max-variance' | 'max-sd' | 'log-ei' | 'ucb';

export interface PolicySpec {
  name: PolicyName;
  iterations: number;
  seed_particles: number;
  acquisition: AcquisitionName;
  /** UCB exploration weight. */
  ucb_beta: number;
  /** Region size (um): the field of view of one region = the beam-shift range. */
  region_um: number;
  /** Cost scale alpha and in-range cost c_local (eq. 6). */
  alpha: number;
  c_local: number;
  switching: {
    enabled: boolean;
    mc_samples: number;
    /**
     * lambda_nov and d_0 of eqs. 14-15. The paper states neither; lambda = 2 with d_0 = 0.1 makes
     * the 3D paper campaign's share per region settle at 50-60 %, as the paper reports.
     */
    novelty_lambda: number;
    novelty_d0: number;
  };
  overview: { imsize: number; dwell_time_s: number };
  /** EDX frames are binned coarser than the overview, for counts per pixel. */
  edx_frame: { imsize: number };
  eels: { exposure_time_s: number; number_of_frames: number };
  gp: {
    kernel: 'matern52' | 'rbf';
    refit_every: number;
    restarts: number;
    noise_floor: number;
    /** Propagate each particle's EDX composition uncertainty into the GP as observation noise (noisy inputs). */
    input_noise: boolean;
  };
  /** Simplex grid step for the error metric (paper: 0.1). */
  error_grid_step: number;
}

export const DEFAULT_SCENARIO: Omit<Scenario, 'name' | 'description'> = {
  seed: 1,
  specimen: {
    area_um: [300, 300],
    density_per_um2: 0.02,
    radius_nm: { mean: 20, sd: 10, min: 3 },
    elements: ['Au', 'Co', 'Ni'],
    composition: { kind: 'uniform' },
    response: { gaussians: 1_000_000, sd: 0.1, base_eV: 15, scale_eV: 2 },
  },
  instrument: {
    control_overhead_s: { min: 0.01, max: 0.03 },
    beam_shift_s: 0.005,
    beam_shift_range_um: 30,
    stage_speed_um_per_s: 10,
    stage_settle_s: 2,
    stage_limits: { xy_um: 1000, z_um: 300, alpha_deg: 35, beta_deg: 20 },
    retune_s: 5,
    fov_um: 30,
    beam_current_pA: 50,
    haadf_frame_overhead_s: 1.0,
    edx_frame_s: 10,
    edx_point_overhead_s: 0.8,
    eels_overhead_s: 0.05,
    detuned_blur_nm: 150,
    detuned_signal_factor: 0.6,
    probe_sigma_nm: 1,
  },
  policy: {
    name: 'cost-aware',
    iterations: 150,
    seed_particles: 3,
    acquisition: 'max-variance',
    ucb_beta: 2,
    region_um: 30,
    alpha: 1,
    c_local: 1,
    switching: { enabled: true, mc_samples: 256, novelty_lambda: 2, novelty_d0: 0.1 },
    overview: { imsize: 1024, dwell_time_s: 2e-6 },
    edx_frame: { imsize: 256 },
    eels: { exposure_time_s: 1, number_of_frames: 1 },
    gp: { kernel: 'matern52', refit_every: 10, restarts: 3, noise_floor: 1e-6, input_noise: true },
    error_grid_step: 0.1,
  },
};

const num = (minimum: number, maximum: number, extra: object = {}) => ({ type: 'number', minimum, maximum, ...extra });
const int = (minimum: number, maximum: number) => ({ type: 'integer', minimum, maximum });
const obj = (properties: Record<string, object>, required: string[] = []) => ({
  type: 'object',
  additionalProperties: false,
  properties,
  required,
});
const fractions = { type: 'array', items: num(0, 1), minItems: 2, maxItems: 10 };

/** JSON Schema of a scenario file. Every field but `name` is optional (defaults apply). */
export const SCENARIO_SCHEMA = obj(
  {
    $schema: { type: 'string' },
    name: { type: 'string', minLength: 1, maxLength: 200 },
    description: { type: 'string', maxLength: 5000 },
    seed: int(0, 2 ** 31 - 1),
    specimen: obj({
      area_um: { type: 'array', items: num(1, 2000), minItems: 2, maxItems: 2 },
      density_per_um2: num(0, 100, { exclusiveMinimum: 0 }),
      radius_nm: obj({ mean: num(0.5, 5000), sd: num(0, 5000), min: num(0.1, 5000) }),
      elements: { type: 'array', items: { type: 'string', enum: Object.keys(ELEMENTS) }, minItems: 2, maxItems: 10, uniqueItems: true },
      composition: {
        oneOf: [
          obj({ kind: { const: 'uniform' } }, ['kind']),
          obj({ kind: { const: 'dirichlet' }, alpha: { type: 'array', items: num(0.01, 1000), minItems: 2, maxItems: 10 } }, ['kind', 'alpha']),
          obj(
            { kind: { const: 'gradient' }, from: fractions, to: fractions, axis: { enum: ['x', 'y'] }, concentration: num(0.1, 10000) },
            ['kind', 'from', 'to'],
          ),
        ],
      },
      response: obj({ gaussians: int(1, 10_000_000), sd: num(0.005, 2), base_eV: num(1, 200), scale_eV: num(0, 50) }),
    }),
    instrument: obj({
      control_overhead_s: obj({ min: num(0, 10), max: num(0, 10) }),
      beam_shift_s: num(0, 10),
      beam_shift_range_um: num(0.01, 1000),
      stage_speed_um_per_s: num(0.001, 10000, { exclusiveMinimum: 0 }),
      stage_settle_s: num(0, 600),
      stage_limits: obj({ xy_um: num(1, 10000), z_um: num(1, 10000), alpha_deg: num(0, 90), beta_deg: num(0, 90) }),
      retune_s: num(0, 600),
      fov_um: num(0.001, 1000),
      beam_current_pA: num(0.001, 100000),
      haadf_frame_overhead_s: num(0, 60),
      edx_frame_s: num(0, 3600),
      edx_point_overhead_s: num(0, 60),
      eels_overhead_s: num(0, 60),
      detuned_blur_nm: num(0, 10000),
      detuned_signal_factor: num(0, 1),
      probe_sigma_nm: num(0.01, 1000),
    }),
    policy: obj({
      name: { enum: ['cost-aware', 'cost-blind', 'random', 'nearest', 'raster'] },
      iterations: int(1, 100_000),
      seed_particles: int(1, 100),
      acquisition: { enum: ['max-variance', 'max-sd', 'log-ei', 'ucb'] },
      ucb_beta: num(0, 100),
      region_um: num(0.01, 1000),
      alpha: num(0, 1000),
      c_local: num(0, 1000, { exclusiveMinimum: 0 }),
      switching: obj({ enabled: { type: 'boolean' }, mc_samples: int(1, 100_000), novelty_lambda: num(0, 100), novelty_d0: num(0.001, 10) }),
      overview: obj({ imsize: int(16, 4096), dwell_time_s: num(1e-9, 10) }),
      edx_frame: obj({ imsize: int(16, 4096) }),
      eels: obj({ exposure_time_s: num(1e-6, 5), number_of_frames: int(1, 5) }),
      gp: obj({ kernel: { enum: ['matern52', 'rbf'] }, refit_every: int(1, 100_000), restarts: int(1, 100), noise_floor: num(0, 1), input_noise: { type: 'boolean' } }),
      error_grid_step: num(0.01, 0.5),
    }),
  },
  ['name'],
);

export class ScenarioError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`invalid scenario ${source}:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ScenarioError';
  }
}

const ajv = new Ajv({ allErrors: true, strict: false });
const validateSchema = ajv.compile(SCENARIO_SCHEMA);

/** Turns one ajv error into "specimen.density_per_um2: must be <= 100 (got 500)". */
function describe(e: ErrorObject, input: unknown): string {
  const path = e.instancePath.replace(/^\//, '').replace(/\//g, '.') || '(top level)';
  const got = e.instancePath.split('/').slice(1).reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], input);
  const shown = got === undefined ? '' : ` (got ${JSON.stringify(got)?.slice(0, 80)})`;
  switch (e.keyword) {
    case 'additionalProperties':
      return `${path}: unknown field "${(e.params as { additionalProperty: string }).additionalProperty}"`;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `${path}: ${e.message}${shown}`;
    case 'enum':
      return `${path}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}${shown}`;
    default:
      return `${path}: ${e.message}${shown}`;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Defaults under values: objects merge, everything else replaces. */
function withDefaults<T>(defaults: T, value: unknown): T {
  if (!isObject(defaults) || !isObject(value)) return (value === undefined ? defaults : value) as T;
  const out: Record<string, unknown> = { ...defaults };
  for (const [k, v] of Object.entries(value)) out[k] = k === 'composition' ? v : withDefaults((defaults as Record<string, unknown>)[k], v);
  return out as T;
}

/** Checks that the schema cannot express: consistency between fields. */
function crossFieldProblems(s: Scenario): string[] {
  const p: string[] = [];
  const D = s.specimen.elements.length;
  const c = s.specimen.composition;
  if (c.kind === 'dirichlet' && c.alpha.length !== D) p.push(`specimen.composition.alpha: needs one entry per element (${D}), got ${c.alpha.length}`);
  if (c.kind === 'gradient') {
    for (const end of ['from', 'to'] as const) {
      if (c[end].length !== D) p.push(`specimen.composition.${end}: needs one fraction per element (${D}), got ${c[end].length}`);
      const sum = c[end].reduce((a, b) => a + b, 0);
      if (Math.abs(sum - 1) > 1e-6) p.push(`specimen.composition.${end}: fractions must sum to 1 (got ${sum})`);
    }
  }
  if (s.instrument.control_overhead_s.min > s.instrument.control_overhead_s.max)
    p.push(`instrument.control_overhead_s: min (${s.instrument.control_overhead_s.min}) must be <= max (${s.instrument.control_overhead_s.max})`);
  if (s.specimen.radius_nm.min > s.specimen.radius_nm.mean) p.push(`specimen.radius_nm.min: must be <= mean (${s.specimen.radius_nm.mean})`);
  const [w, h] = s.specimen.area_um;
  if (w / 2 > s.instrument.stage_limits.xy_um || h / 2 > s.instrument.stage_limits.xy_um)
    p.push(`specimen.area_um: half the area (${w / 2} x ${h / 2} um) must fit within the stage limits (+-${s.instrument.stage_limits.xy_um} um)`);
  return p;
}

/** Validates a parsed scenario and fills defaults. Throws ScenarioError naming every bad field. */
export function parseScenario(input: unknown, source = 'scenario'): Scenario {
  if (!validateSchema(input)) {
    throw new ScenarioError(source, (validateSchema.errors ?? []).filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'const').map((e) => describe(e, input)));
  }
  const raw = input as Record<string, unknown>;
  const scenario = withDefaults({ name: String(raw.name), description: '', ...DEFAULT_SCENARIO } as Scenario, raw);
  const problems = crossFieldProblems(scenario);
  if (problems.length) throw new ScenarioError(source, problems);
  return scenario;
}

/** Reads and validates a scenario file. */
export function loadScenario(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ScenarioError(path, [`cannot read the file: ${(e as Error).message}`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ScenarioError(path, [`not valid JSON: ${(e as Error).message}`]);
  }
  return parseScenario(json, path);
}

/** The schema as the JSON file scenarios/scenario.schema.json holds it. */
export function scenarioSchemaJson(): string {
  return `${JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', title: 'stem-twin scenario', ...SCENARIO_SCHEMA }, null, 2)}\n`;
}
