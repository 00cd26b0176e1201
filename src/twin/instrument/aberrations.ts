import type { Rng } from '../../protocol/random.js';

/**
 * The probe's aberrations as the corrector (DigitalTwinCorrector, a CEOS on real hardware) sees
 * them: coefficients by name, in m. Rotationally symmetric ones (C1, C3, C5) have one value, the
 * others two ([x, y] of the complex coefficient). The higher orders sit at fixed defaults of a
 * corrected 200 kV probe; what changes during a campaign is the low order pair C1 (defocus) and
 * A1 (two-fold astigmatism): a stage move leaves the specimen at another height and the lenses
 * re-settling, which shows up as a C1/A1 drift (AberrationDrift); auto_focus and
 * correct_aberration remove it. The probe counts as tuned while both residuals are below
 * TUNED_RESIDUAL_m; the optics of acquisitions follow from that (acquisition.ts optics).
 */
export const ABERRATIONS = [
  { name: 'WD', values: 2, default: [0, 0], description: 'wave-front displacement (image shift of the tableau)' },
  { name: 'C1', values: 1, default: [0], description: 'defocus' },
  { name: 'A1', values: 2, default: [0, 0], description: 'two-fold astigmatism' },
  { name: 'B2', values: 2, default: [20e-9, 0], description: 'axial coma' },
  { name: 'A2', values: 2, default: [15e-9, 0], description: 'three-fold astigmatism' },
  { name: 'C3', values: 1, default: [1e-6], description: 'spherical aberration (corrected)' },
  { name: 'S3', values: 2, default: [0.3e-6, 0], description: 'star aberration' },
  { name: 'A3', values: 2, default: [0.5e-6, 0], description: 'four-fold astigmatism' },
  { name: 'B4', values: 2, default: [5e-6, 0], description: 'fourth-order axial coma' },
  { name: 'D4', values: 2, default: [5e-6, 0], description: 'three-lobe aberration' },
  { name: 'A4', values: 2, default: [10e-6, 0], description: 'five-fold astigmatism' },
  { name: 'C5', values: 1, default: [1e-3], description: 'fifth-order spherical aberration' },
  { name: 'A5', values: 2, default: [1e-3, 0], description: 'six-fold astigmatism' },
] as const;

export type AberrationName = (typeof ABERRATIONS)[number]['name'];
export type Aberrations = Record<AberrationName, number[]>;

export const ABERRATION_NAMES: readonly AberrationName[] = ABERRATIONS.map((a) => a.name);

/** Below this (m), both |C1| and |A1|, the probe is tuned: no extra blur, full signal. */
export const TUNED_RESIDUAL_m = 2e-9;

/**
 * What a stage move adds: C1 by Uniform[min, max] (always positive, so that every move detunes
 * as the paper's instrument model has it, and two moves never cancel), A1 by a magnitude in
 * Uniform[min, max] at a uniformly drawn angle.
 */
export const STAGE_MOVE_DRIFT_m = { C1: { min: 50e-9, max: 150e-9 }, A1: { min: 10e-9, max: 30e-9 } } as const;

export function aberrationSpec(name: string): (typeof ABERRATIONS)[number] | undefined {
  return ABERRATIONS.find((a) => a.name === name);
}

export function defaultAberrations(): Aberrations {
  return Object.fromEntries(ABERRATIONS.map((a) => [a.name, [...a.default]])) as Aberrations;
}

/** Whether C1 and A1 are both within TUNED_RESIDUAL_m. */
export function isTuned(a: Aberrations): boolean {
  return Math.abs(a.C1[0]!) < TUNED_RESIDUAL_m && Math.hypot(a.A1[0]!, a.A1[1]!) < TUNED_RESIDUAL_m;
}

/** The C1/A1 drift of stage moves, from a stream of its own (rng.fork('aberrations')), so that other streams do not shift. */
export class AberrationDrift {
  constructor(private readonly rng: Rng) {}

  /** The drift one stage move adds: {C1: [dC1], A1: [dx, dy]} in m. Draws three numbers. */
  draw(): { C1: [number]; A1: [number, number] } {
    const c1 = this.rng.uniformIn(STAGE_MOVE_DRIFT_m.C1.min, STAGE_MOVE_DRIFT_m.C1.max);
    const a1 = this.rng.uniformIn(STAGE_MOVE_DRIFT_m.A1.min, STAGE_MOVE_DRIFT_m.A1.max);
    const angle = this.rng.uniformIn(0, 2 * Math.PI);
    return { C1: [c1], A1: [a1 * Math.cos(angle), a1 * Math.sin(angle)] };
  }
}
