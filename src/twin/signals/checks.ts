import { elementData } from '../../protocol/elements.js';
import type { Particle } from '../types.js';

/** Square scan field: centre (m), side (m) and pixels per side (see src/protocol/data.ts, "Geometry"). */
export interface FieldGeometry {
  center_m: [number, number];
  fov_m: number;
  imsize: number;
}

/** The probe and the state of tuning, as the instrument passes them to every renderer. */
export interface Optics {
  beam_current_pA: number;
  /** Probe size (Gaussian sigma) when tuned. */
  probe_sigma_m: number;
  /** Extra Gaussian blur (sigma), 0 when tuned. */
  blur_m: number;
  /** 1 when tuned, < 1 when detuned (and times the EELS aperture's collection for EELS). */
  signal_factor: number;
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

export function checkPositive(name: string, v: unknown): number {
  if (!finite(v) || v <= 0) throw new RangeError(`${name}: must be a finite number > 0, got ${String(v)}`);
  return v;
}

export function checkField(field: FieldGeometry): void {
  if (!field || typeof field !== 'object') throw new TypeError(`field: expected { center_m, fov_m, imsize }, got ${String(field)}`);
  const c = field.center_m;
  if (!Array.isArray(c) || c.length !== 2 || !finite(c[0]) || !finite(c[1])) throw new RangeError(`field.center_m: expected [x, y] in m, got ${JSON.stringify(c)}`);
  checkPositive('field.fov_m', field.fov_m);
  if (!Number.isInteger(field.imsize) || field.imsize < 1 || field.imsize > 16384) throw new RangeError(`field.imsize: must be an integer in 1..16384, got ${field.imsize}`);
}

export function checkOptics(optics: Optics): void {
  if (!optics || typeof optics !== 'object') throw new TypeError(`optics: expected { beam_current_pA, probe_sigma_m, blur_m, signal_factor }, got ${String(optics)}`);
  if (!finite(optics.beam_current_pA) || optics.beam_current_pA < 0) throw new RangeError(`optics.beam_current_pA: must be a finite number >= 0, got ${optics.beam_current_pA}`);
  if (!finite(optics.probe_sigma_m) || optics.probe_sigma_m < 0) throw new RangeError(`optics.probe_sigma_m: must be a finite number >= 0, got ${optics.probe_sigma_m}`);
  if (!finite(optics.blur_m) || optics.blur_m < 0) throw new RangeError(`optics.blur_m: must be a finite number >= 0, got ${optics.blur_m}`);
  if (!finite(optics.signal_factor) || optics.signal_factor < 0) throw new RangeError(`optics.signal_factor: must be a finite number >= 0, got ${optics.signal_factor}`);
}

export function checkBeam(beam_m: [number, number]): void {
  if (!Array.isArray(beam_m) || beam_m.length !== 2 || !finite(beam_m[0]) || !finite(beam_m[1])) throw new RangeError(`beam_m: expected [x, y] in m, got ${JSON.stringify(beam_m)}`);
}

export function checkElements(elements: string[]): void {
  if (!Array.isArray(elements) || elements.length < 1) throw new RangeError(`elements: expected a non-empty list of element symbols, got ${JSON.stringify(elements)}`);
  for (const e of elements) elementData(e);
  if (new Set(elements).size !== elements.length) throw new RangeError(`elements: each element may appear once, got ${JSON.stringify(elements)}`);
}

export function checkParticles(particles: readonly Particle[], dims: number | undefined): void {
  if (!Array.isArray(particles)) throw new TypeError(`particles: expected an array, got ${String(particles)}`);
  for (const p of particles) {
    if (!finite(p.x_m) || !finite(p.y_m)) throw new RangeError(`particle ${p.id}: x_m and y_m must be finite, got ${p.x_m}, ${p.y_m}`);
    if (!finite(p.radius_m) || p.radius_m <= 0) throw new RangeError(`particle ${p.id}: radius_m must be > 0, got ${p.radius_m}`);
    if (dims !== undefined && (!p.composition || p.composition.length !== dims))
      throw new RangeError(`particle ${p.id}: composition has ${p.composition?.length} fractions, expected one per element (${dims})`);
  }
}

/** Sigma of the probe actually on the specimen: the tuned probe and the defocus blur in quadrature. */
export function probeSigma_m(optics: Optics): number {
  return Math.hypot(optics.probe_sigma_m, optics.blur_m);
}

/** Electrons delivered by `current_pA` in `time_s`. */
export function electrons(current_pA: number, time_s: number): number {
  return (current_pA * 1e-12 * time_s) / 1.602176634e-19;
}
