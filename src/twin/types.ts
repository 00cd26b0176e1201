/**
 * The specimen as the twin knows it: ground truth that a policy never sees directly.
 * Positions are specimen coordinates in m, with (0, 0) at the centre of the accessible area
 * (stage coordinates, see src/protocol/data.ts).
 */
export interface Particle {
  id: number;
  x_m: number;
  y_m: number;
  radius_m: number;
  /** Atomic fractions, one per element of the specimen, summing to 1. */
  composition: Float64Array;
}

/** The target property over composition space, in eV. */
export interface GroundTruth {
  value_eV(composition: ArrayLike<number>): number;
}

export interface Specimen {
  elements: string[];
  /** [width, height] of the accessible area in m, centred on (0, 0). */
  area_m: [number, number];
  particles: Particle[];
  /** Particles whose centre lies in the rectangle [x0, x1) x [y0, y1) (m). Fast: a spatial grid. */
  particlesIn(x0: number, y0: number, x1: number, y1: number): Particle[];
  truth: GroundTruth;
}
