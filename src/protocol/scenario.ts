import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { Ajv, type ErrorObject } from 'ajv';
import { binomial, expectedParticles, gridLevels, MAX_COVERAGE } from './capacity.js';
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
/** A name that is one file name on every system: letters, digits, '.', '_', '-', not starting with '.' or '-'. */
export const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
/** The composition kinds, in the order of the schema's oneOf branches (error messages pick a branch by this index). */
export const COMPOSITION_KINDS = ['uniform', 'dirichlet', 'gradient'] as const;
const [UNIFORM, DIRICHLET, GRADIENT] = COMPOSITION_KINDS;
const fractions = { type: 'array', items: num(0, 1), minItems: 2, maxItems: 10 };

/** JSON Schema of a scenario file. Every field but `name` is optional (defaults apply). */
export const SCENARIO_SCHEMA = obj(
  {
    $schema: { type: 'string' },
    /** Names the run's output folder, so a safe file name: no '/', no leading '.'. */
    name: { type: 'string', pattern: SAFE_NAME.source, maxLength: 100 },
    description: { type: 'string', maxLength: 5000 },
    seed: int(0, 2 ** 31 - 1),
    specimen: obj({
      area_um: { type: 'array', items: num(1, 2000), minItems: 2, maxItems: 2 },
      density_per_um2: num(0, 100, { exclusiveMinimum: 0 }),
      radius_nm: obj({ mean: num(0.5, 5000), sd: num(0, 5000), min: num(0.1, 5000) }),
      elements: { type: 'array', items: { type: 'string', enum: Object.keys(ELEMENTS) }, minItems: 2, maxItems: 10, uniqueItems: true },
      composition: {
        oneOf: [
          obj({ kind: { const: UNIFORM } }, ['kind']),
          obj({ kind: { const: DIRICHLET }, alpha: { type: 'array', items: num(0.01, 1000), minItems: 2, maxItems: 10 } }, ['kind', 'alpha']),
          obj(
            { kind: { const: GRADIENT }, from: fractions, to: fractions, axis: { enum: ['x', 'y'] }, concentration: num(0.1, 10000) },
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

/** A value as a message shows it: short JSON, or its kind when that is too deep to print. */
function shownValue(v: unknown): string {
  try {
    return JSON.stringify(v)?.slice(0, 80) ?? String(v);
  } catch {
    return Array.isArray(v) ? 'a deeply nested array' : 'a deeply nested object';
  }
}

/** Turns one ajv error into "specimen.density_per_um2: must be <= 100 (got 500)". */
function describe(e: ErrorObject, input: unknown): string {
  const path = e.instancePath.replace(/^\//, '').replace(/\//g, '.') || '(top level)';
  const got = e.instancePath.split('/').slice(1).reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], input);
  if (typeof got === 'number' && !Number.isFinite(got)) return `${path}: the number is too large (not finite)`;
  const shown = got === undefined ? '' : ` (got ${shownValue(got)})`;
  switch (e.keyword) {
    case 'pattern':
      return path === 'name'
        ? `name: must be a safe file name (letters, digits, '.', '_', '-'; no '/', not starting with '.' or '-')${shown}`
        : `${path}: ${e.message}${shown}`;
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
  return [...p, ...costProblems(s)];
}

/** Limits on what one scenario may cost, checked before anything is built. */
export const SCENARIO_LIMITS = {
  errorGridPoints: 200_000,
  particles: 2_000_000,
  /** Ground-truth Gaussians evaluated for the error metric: error-grid points x response.gaussians. */
  truthEvaluations: 1e10,
} as const;
/** Memory of one particle through a campaign, measured: 9e6 particles took 3.5 GB. */
const BYTES_PER_PARTICLE = 400;

const count = (n: number) => Math.round(n).toLocaleString('en-US');

/** Scenarios that validate but would hang or exhaust memory: the cost, the limit and the field to change. */
function costProblems(s: Scenario): string[] {
  const p: string[] = [];
  const D = s.specimen.elements.length;
  const step = s.policy.error_grid_step;
  let levels: number | undefined;
  try {
    levels = gridLevels(step);
  } catch {
    p.push(`policy.error_grid_step: must be 1/n for a whole n (0.5, 0.25, 0.2, 0.1, 0.05, ...), got ${step}`);
  }
  if (levels !== undefined) {
    const points = binomial(D + levels - 1, D - 1);
    const evaluations = points * s.specimen.response.gaussians;
    if (points > SCENARIO_LIMITS.errorGridPoints)
      p.push(`policy.error_grid_step ${step} with ${D} elements makes ${count(points)} grid points (limit ${count(SCENARIO_LIMITS.errorGridPoints)}): raise error_grid_step or use fewer elements`);
    else if (evaluations > SCENARIO_LIMITS.truthEvaluations)
      p.push(`specimen.response.gaussians ${count(s.specimen.response.gaussians)} on ${count(points)} error-grid points (${D} elements, step ${step}) makes ${evaluations.toExponential(1)} Gaussian evaluations (limit ${SCENARIO_LIMITS.truthEvaluations.toExponential(0)}): use fewer gaussians or elements, or raise policy.error_grid_step`);
  }
  const [w, h] = s.specimen.area_um;
  const expected = s.specimen.density_per_um2 * w * h;
  const { mean, sd } = s.specimen.radius_nm;
  const fits = expectedParticles(mean / 1e9, sd / 1e9, MAX_COVERAGE, (w * h) / 1e12);
  if (expected > fits)
    p.push(`specimen.density_per_um2 ${s.specimen.density_per_um2} with radius ${mean} +- ${sd} nm covers ${((100 * MAX_COVERAGE * expected) / fits).toFixed(0)} % of the area (at most ${100 * MAX_COVERAGE} %): lower density_per_um2 or radius_nm`);
  else if (expected > SCENARIO_LIMITS.particles)
    p.push(`specimen.density_per_um2 ${s.specimen.density_per_um2} over ${w} x ${h} um makes ${count(expected)} particles, about ${((expected * BYTES_PER_PARTICLE) / 1e9).toFixed(1)} GB (limit ${count(SCENARIO_LIMITS.particles)}): lower density_per_um2 or area_um`);
  return p;
}

const COMPOSITION_PATH = '/specimen/composition';

/**
 * ajv's errors as messages. specimen.composition is a oneOf on `kind`: an unknown kind is one
 * message naming the kinds, and a known kind reports only its own branch's errors.
 */
function schemaProblems(errors: ErrorObject[], input: unknown): string[] {
  const composition = isObject(input) && isObject(input.specimen) ? input.specimen.composition : undefined;
  const kind = isObject(composition) ? composition.kind : undefined;
  const branch = COMPOSITION_KINDS.indexOf(kind as (typeof COMPOSITION_KINDS)[number]);
  const problems: string[] = [];
  if (isObject(composition) && branch < 0)
    problems.push(`specimen.composition.kind: must be one of ${COMPOSITION_KINDS.join(', ')}, got ${kind === undefined ? 'nothing' : shownValue(kind)}`);
  for (const e of errors) {
    if (e.keyword === 'oneOf' || e.keyword === 'const') continue;
    if (e.instancePath.startsWith(COMPOSITION_PATH) && isObject(composition)) {
      if (branch < 0 || !e.schemaPath.includes(`/composition/oneOf/${branch}/`)) continue;
    }
    problems.push(describe(e, input));
  }
  return problems;
}

/** Validates a parsed scenario and fills defaults. Throws ScenarioError naming every bad field. */
export function parseScenario(input: unknown, source = 'scenario'): Scenario {
  if (!validateSchema(input)) throw new ScenarioError(source, schemaProblems(validateSchema.errors ?? [], input));
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
    json = JSON.parse(text.replace(/^\uFEFF/, '')); // a UTF-8 byte-order mark, as some editors write
  } catch (e) {
    throw new ScenarioError(path, [`not valid JSON: ${(e as Error).message}`]);
  }
  return parseScenario(json, path);
}

/** The schema as the JSON file scenarios/scenario.schema.json holds it. */
export function scenarioSchemaJson(): string {
  return `${JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', title: 'stem-twin scenario', ...SCENARIO_SCHEMA }, null, 2)}\n`;
}

/** JSON with object keys sorted, so equal values print equally whatever order a file gave them in. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * What a twin is built from, as a short fingerprint: the specimen and the instrument (not the
 * policy, name or description, and not the seed, which is told apart). A client checks a served
 * twin's fingerprint and seed against its own scenario before a campaign, so the served twin is
 * the one its results claim to be about.
 */
export function twinDigest(scenario: Pick<Scenario, 'specimen' | 'instrument'>): string {
  return createHash('sha256').update(canonicalJson({ specimen: scenario.specimen, instrument: scenario.instrument })).digest('hex').slice(0, 16);
}
