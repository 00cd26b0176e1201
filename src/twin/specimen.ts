import type { Rng } from '../protocol/random.js';
import type { CompositionSpec, SpecimenSpec } from '../protocol/scenario.js';
import { MAX_COVERAGE } from '../protocol/capacity.js';
import { buildGroundTruth, type GaussianSuperpositionTruth, type GroundTruthOptions } from './ground-truth.js';
import type { Particle, Specimen } from './types.js';

/**
 * A random particle library (model.md sections 1 and 6): N ~ Poisson(density x area) discs,
 * uniform and non-overlapping over the accessible area, radii Normal(mean, sd) truncated below
 * at min, compositions drawn per the scenario, and the ground-truth response over composition.
 *
 * Each part draws from its own fork of the scenario's Rng ('positions', 'radii', 'compositions',
 * 'truth'), so that changing, say, the composition law leaves the positions untouched.
 */

/** Attempts to place one disc before the area is declared full (default). */
const MAX_TRIES_PER_PARTICLE = 10_000;
/** More particles than this would exhaust memory long before it would be useful. */
const MAX_PARTICLES = 20_000_000;
/** Cell of the particlesIn index: about one region's tenth (regions are ~30 um). */
const INDEX_CELL_M = 10e-6;
/** Total concentration of the Dirichlet scatter around a gradient's mean when absent. */
const DEFAULT_GRADIENT_CONCENTRATION = 20;

export interface TwinSpecimen extends Specimen {
  truth: GaussianSuperpositionTruth;
}

export interface SpecimenOptions {
  /** How the ground truth is evaluated (lattice budget, direct sum); see ground-truth.ts. */
  truth?: GroundTruthOptions;
  /** Attempts to place one disc without overlap before the area counts as full (default 10000). */
  placementTries?: number;
}

export function buildSpecimen(spec: SpecimenSpec, rng: Rng, options: SpecimenOptions = {}): TwinSpecimen {
  validate(spec);
  const D = spec.elements.length;
  const width_m = spec.area_um[0] / 1e6;
  const height_m = spec.area_um[1] / 1e6;
  const positionRng = rng.fork('positions');
  const expected = spec.density_per_um2 * spec.area_um[0] * spec.area_um[1];
  if (expected > MAX_PARTICLES) {
    throw new RangeError(`specimen.density_per_um2: ${spec.density_per_um2} per um^2 over ${spec.area_um[0]} x ${spec.area_um[1]} um gives ${expected.toExponential(2)} particles; at most ${MAX_PARTICLES} are supported`);
  }
  const N = positionRng.poisson(expected);

  const { mean, sd } = spec.radius_nm;
  const coverage = (expected * Math.PI * (mean * mean + sd * sd) * 1e-6) / (spec.area_um[0] * spec.area_um[1]);
  if (coverage > MAX_COVERAGE) {
    throw new RangeError(`specimen.density_per_um2: ${spec.density_per_um2} particles per um^2 of mean radius ${mean} nm would cover ${(100 * coverage).toFixed(0)} % of the area; non-overlapping random placement cannot exceed about ${100 * MAX_COVERAGE} %`);
  }
  const radii_m = drawRadii(spec.radius_nm, N, rng.fork('radii'));
  const tries = options.placementTries ?? MAX_TRIES_PER_PARTICLE;
  if (!(Number.isInteger(tries) && tries >= 1)) throw new RangeError(`placementTries: must be an integer >= 1, got ${tries}`);
  const { x_m, y_m } = placeDiscs(radii_m, width_m, height_m, positionRng, spec.density_per_um2, tries);

  const compositionRng = rng.fork('compositions');
  const draw = compositionSampler(spec.composition, D, width_m, height_m);
  const particles: Particle[] = new Array(N);
  for (let i = 0; i < N; i++) {
    particles[i] = { id: i, x_m: x_m[i]!, y_m: y_m[i]!, radius_m: radii_m[i]!, composition: draw(x_m[i]!, y_m[i]!, compositionRng) };
  }

  const truth = buildGroundTruth(spec.response, D, rng.fork('truth'), options.truth);
  const index = new ParticleIndex(particles, width_m, height_m);
  return {
    elements: [...spec.elements],
    area_m: [width_m, height_m],
    particles,
    particlesIn: (x0, y0, x1, y1) => index.query(x0, y0, x1, y1),
    truth,
  };
}

function validate(spec: SpecimenSpec): void {
  const positive = (v: unknown, name: string) => {
    if (!(typeof v === 'number' && Number.isFinite(v) && v > 0)) throw new RangeError(`specimen.${name}: must be a number > 0, got ${String(v)}`);
  };
  if (!Array.isArray(spec.area_um) || spec.area_um.length !== 2) throw new RangeError(`specimen.area_um: expected [width, height] in um, got ${JSON.stringify(spec.area_um)}`);
  positive(spec.area_um[0], 'area_um[0]');
  positive(spec.area_um[1], 'area_um[1]');
  positive(spec.density_per_um2, 'density_per_um2');
  const r = spec.radius_nm;
  if (!r || typeof r !== 'object') throw new RangeError(`specimen.radius_nm: expected { mean, sd, min }, got ${String(r)}`);
  positive(r.mean, 'radius_nm.mean');
  positive(r.min, 'radius_nm.min');
  if (!(Number.isFinite(r.sd) && r.sd >= 0)) throw new RangeError(`specimen.radius_nm.sd: must be a number >= 0, got ${r.sd}`);
  if (r.min > r.mean) throw new RangeError(`specimen.radius_nm.min: must be <= mean (${r.mean}), got ${r.min}`);
  const els = spec.elements;
  if (!Array.isArray(els) || els.length < 2) throw new RangeError(`specimen.elements: need at least 2 elements, got ${JSON.stringify(els)}`);
  if (new Set(els).size !== els.length) throw new RangeError(`specimen.elements: must be distinct, got ${els.join(', ')}`);
  const D = els.length;
  const c = spec.composition;
  if (!c || typeof c !== 'object') throw new RangeError(`specimen.composition: expected { kind, ... }, got ${String(c)}`);
  if (c.kind === 'dirichlet') {
    if (!Array.isArray(c.alpha) || c.alpha.length !== D) throw new RangeError(`specimen.composition.alpha: needs one entry per element (${D}), got ${JSON.stringify(c.alpha)}`);
    c.alpha.forEach((a, i) => positive(a, `composition.alpha[${i}]`));
  } else if (c.kind === 'gradient') {
    for (const end of ['from', 'to'] as const) {
      const f = c[end];
      if (!Array.isArray(f) || f.length !== D) throw new RangeError(`specimen.composition.${end}: needs one fraction per element (${D}), got ${JSON.stringify(f)}`);
      if (f.some((v) => !(Number.isFinite(v) && v >= 0))) throw new RangeError(`specimen.composition.${end}: fractions must be numbers >= 0, got ${JSON.stringify(f)}`);
      const sum = f.reduce((a, b) => a + b, 0);
      if (Math.abs(sum - 1) > 1e-6) throw new RangeError(`specimen.composition.${end}: fractions must sum to 1, got ${sum}`);
    }
    if (c.axis !== 'x' && c.axis !== 'y') throw new RangeError(`specimen.composition.axis: must be "x" or "y", got ${JSON.stringify(c.axis)}`);
    if (c.concentration !== undefined) positive(c.concentration, 'composition.concentration');
  } else if (c.kind !== 'uniform') {
    throw new RangeError(`specimen.composition.kind: must be "uniform", "dirichlet" or "gradient", got ${JSON.stringify((c as { kind: unknown }).kind)}`);
  }
}

function drawRadii(radius_nm: SpecimenSpec['radius_nm'], N: number, rng: Rng): Float64Array {
  const radii_m = new Float64Array(N);
  for (let i = 0; i < N; i++) radii_m[i] = rng.truncatedNormal(radius_nm.mean, radius_nm.sd, radius_nm.min) / 1e9;
  return radii_m;
}

/**
 * Uniform centres over [-w/2, w/2) x [-h/2, h/2), each disc redrawn until it overlaps none placed
 * before (random sequential adsorption). Only centres are confined to the area (particlesIn
 * selects by centre); a disc may reach past its edge. A hash grid of cells at least one largest
 * diameter wide means only the 3 x 3 cells around a candidate can hold a disc that touches it.
 */
function placeDiscs(
  radii_m: Float64Array,
  width_m: number,
  height_m: number,
  rng: Rng,
  density: number,
  tries: number,
): { x_m: Float64Array; y_m: Float64Array } {
  const N = radii_m.length;
  const x_m = new Float64Array(N);
  const y_m = new Float64Array(N);
  let maxRadius = 0;
  for (let i = 0; i < N; i++) maxRadius = Math.max(maxRadius, radii_m[i]!);
  const cell = Math.max(2 * maxRadius, Math.sqrt((width_m * height_m) / Math.max(N, 1)));
  const nx = Math.max(1, Math.ceil(width_m / cell));
  const ny = Math.max(1, Math.ceil(height_m / cell));
  const head = new Int32Array(nx * ny).fill(-1);
  const next = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    const r = radii_m[i]!;
    let placed = false;
    for (let attempt = 0; attempt < tries && !placed; attempt++) {
      const x = rng.uniformIn(-width_m / 2, width_m / 2);
      const y = rng.uniformIn(-height_m / 2, height_m / 2);
      const cx = Math.min(nx - 1, Math.floor((x + width_m / 2) / cell));
      const cy = Math.min(ny - 1, Math.floor((y + height_m / 2) / cell));
      let free = true;
      for (let gy = Math.max(0, cy - 1); free && gy <= Math.min(ny - 1, cy + 1); gy++) {
        for (let gx = Math.max(0, cx - 1); free && gx <= Math.min(nx - 1, cx + 1); gx++) {
          for (let j = head[gy * nx + gx]!; j >= 0; j = next[j]!) {
            const dx = x - x_m[j]!;
            const dy = y - y_m[j]!;
            const reach = r + radii_m[j]!;
            if (dx * dx + dy * dy < reach * reach) {
              free = false;
              break;
            }
          }
        }
      }
      if (free) {
        x_m[i] = x;
        y_m[i] = y;
        next[i] = head[cy * nx + cx]!;
        head[cy * nx + cx] = i;
        placed = true;
      }
    }
    if (!placed) {
      throw new RangeError(`specimen.density_per_um2: the area is full after ${i} of ${N} particles (${tries} failed attempts to place the next one without overlap); lower density_per_um2 (${density}) or the radii`);
    }
  }
  return { x_m, y_m };
}

type CompositionDraw = (x_m: number, y_m: number, rng: Rng) => Float64Array;

function compositionSampler(spec: CompositionSpec, D: number, width_m: number, height_m: number): CompositionDraw {
  switch (spec.kind) {
    case 'uniform':
      return (_x, _y, rng) => rng.simplexUniform(D);
    case 'dirichlet': {
      const alpha = Float64Array.from(spec.alpha);
      return (_x, _y, rng) => dirichlet(alpha, rng);
    }
    case 'gradient': {
      const concentration = spec.concentration ?? DEFAULT_GRADIENT_CONCENTRATION;
      const alpha = new Float64Array(D);
      return (x, y, rng) => {
        // 0 at the low edge of the area, 1 at the high edge.
        const t = spec.axis === 'x' ? x / width_m + 0.5 : y / height_m + 0.5;
        for (let i = 0; i < D; i++) alpha[i] = concentration * ((1 - t) * spec.from[i]! + t * spec.to[i]!);
        return dirichlet(alpha, rng);
      };
    }
  }
}

/**
 * Dirichlet(alpha) allowing zero entries (a component absent from the mean stays absent). If
 * every gamma draw underflows (all alpha tiny), the mean alpha / sum(alpha) is returned.
 */
function dirichlet(alpha: Float64Array, rng: Rng): Float64Array {
  const out = new Float64Array(alpha.length);
  let sum = 0;
  for (let i = 0; i < alpha.length; i++) {
    out[i] = alpha[i]! > 0 ? rng.gamma(alpha[i]!) : 0;
    sum += out[i]!;
  }
  if (!(sum > 0)) {
    sum = 0;
    for (let i = 0; i < alpha.length; i++) sum += (out[i] = alpha[i]!);
  }
  for (let i = 0; i < out.length; i++) out[i]! /= sum;
  return out;
}

/** Uniform grid over the area, particle ids grouped by cell (compressed rows), ids ascending within. */
class ParticleIndex {
  private readonly cell_m: number;
  private readonly nx: number;
  private readonly ny: number;
  private readonly start: Int32Array;
  private readonly ids: Int32Array;

  constructor(
    private readonly particles: Particle[],
    private readonly width_m: number,
    private readonly height_m: number,
  ) {
    // About 10 um, coarser only if that would mean more than a million cells.
    this.cell_m = Math.max(INDEX_CELL_M, Math.sqrt((width_m * height_m) / 1e6));
    this.nx = Math.max(1, Math.ceil(width_m / this.cell_m));
    this.ny = Math.max(1, Math.ceil(height_m / this.cell_m));
    const cellOf = new Int32Array(particles.length);
    this.start = new Int32Array(this.nx * this.ny + 1);
    for (const p of particles) {
      const c = this.cellY(p.y_m) * this.nx + this.cellX(p.x_m);
      cellOf[p.id] = c;
      this.start[c + 1]!++;
    }
    for (let c = 1; c < this.start.length; c++) this.start[c]! += this.start[c - 1]!;
    const fill = this.start.slice(0, -1);
    this.ids = new Int32Array(particles.length);
    for (let id = 0; id < particles.length; id++) this.ids[fill[cellOf[id]!]!++] = id;
  }

  private cellX(x: number): number {
    return Math.min(this.nx - 1, Math.max(0, Math.floor((x + this.width_m / 2) / this.cell_m)));
  }

  private cellY(y: number): number {
    return Math.min(this.ny - 1, Math.max(0, Math.floor((y + this.height_m / 2) / this.cell_m)));
  }

  /** Particles with centre in [x0, x1) x [y0, y1), in id order. Infinite bounds are allowed. */
  query(x0: number, y0: number, x1: number, y1: number): Particle[] {
    const args = { x0, y0, x1, y1 };
    for (const [name, v] of Object.entries(args)) {
      if (typeof v !== 'number' || Number.isNaN(v)) throw new RangeError(`particlesIn: ${name} must be a number (m), got ${String(v)}`);
    }
    if (!(x1 > x0 && y1 > y0)) return [];
    const found: number[] = [];
    const cx1 = this.cellX(x1);
    const cy1 = this.cellY(y1);
    for (let cy = this.cellY(y0); cy <= cy1; cy++) {
      for (let cx = this.cellX(x0); cx <= cx1; cx++) {
        const c = cy * this.nx + cx;
        for (let k = this.start[c]!; k < this.start[c + 1]!; k++) {
          const p = this.particles[this.ids[k]!]!;
          if (p.x_m >= x0 && p.x_m < x1 && p.y_m >= y0 && p.y_m < y1) found.push(p.id);
        }
      }
    }
    return Array.from(Int32Array.from(found).sort(), (id) => this.particles[id]!);
  }
}
