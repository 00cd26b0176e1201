import { InstrumentError } from '../../protocol/instrument.js';
import type { InstrumentSpec } from '../../protocol/scenario.js';
import { outOfRange } from './args.js';
import type { InstrumentState, StagePosition } from './state.js';

/**
 * Where the field and the beam are (src/protocol/data.ts, "Geometry"): the field centre is
 * stage + image shift; place_beam([fx, fy]) parks the beam at centre - fov/2 + (fx, fy) * fov.
 *
 * The beam-shift accessible range (model.md eq. 5, d_bs) is the square stage +- range/2: the image
 * shift must stay inside it, and so must a parked beam. Reaching beyond it takes a stage move.
 * The edge itself is inside: a relative tolerance of 1e-9 absorbs the rounding of um -> m.
 */

const EDGE_TOLERANCE = 1 + 1e-9;

export function fieldCenter_m(state: InstrumentState): [number, number] {
  return [state.stage[0] + state.image_shift_m[0], state.stage[1] + state.image_shift_m[1]];
}

export function beamPosition_m(state: InstrumentState, fraction: readonly number[] = state.beam_fraction): [number, number] {
  const [cx, cy] = fieldCenter_m(state);
  return [cx + (fraction[0]! - 0.5) * state.fov_m, cy + (fraction[1]! - 0.5) * state.fov_m];
}

const um = (m: number) => `${+(m * 1e6).toPrecision(6)} um`;

function beamShiftRange(origin: string, what: string, offset_m: readonly number[], half_m: number, hint: string): InstrumentError {
  return new InstrumentError(
    'BeamShiftRange',
    `${what} is [${um(offset_m[0]!)}, ${um(offset_m[1]!)}] from the stage position, beyond the beam-shift range of +-${um(half_m)}; ${hint}`,
    origin,
  );
}

/** Throws BeamShiftRange unless the image shift stays within +- range/2 on both axes. */
export function checkImageShift(origin: string, shift_m: readonly number[], spec: InstrumentSpec): void {
  const half_m = (spec.beam_shift_range_um * 1e-6) / 2;
  if (Math.abs(shift_m[0]!) > half_m * EDGE_TOLERANCE || Math.abs(shift_m[1]!) > half_m * EDGE_TOLERANCE) {
    throw beamShiftRange(origin, 'the image shift', shift_m, half_m, 'move the stage (move_stage) to the area instead and keep the image shift small.');
  }
}

/** Throws BeamShiftRange unless the beam parked at `fraction` is within the beam-shift range of the stage. */
export function checkBeamReach(origin: string, state: InstrumentState, fraction: readonly number[], spec: InstrumentSpec): void {
  const half_m = (spec.beam_shift_range_um * 1e-6) / 2;
  const [bx, by] = beamPosition_m(state, fraction);
  const offset = [bx - state.stage[0], by - state.stage[1]];
  if (Math.abs(offset[0]!) > half_m * EDGE_TOLERANCE || Math.abs(offset[1]!) > half_m * EDGE_TOLERANCE) {
    throw beamShiftRange(
      origin,
      `the beam at [${fraction[0]}, ${fraction[1]}] of the field`,
      offset,
      half_m,
      'move the stage (move_stage) so that the point is near the field centre, or reduce the image shift or the field of view.',
    );
  }
}

/** Throws OutOfRange unless the position is within the stage limits (and beta is 0 when the holder has no beta axis). */
export function checkStageLimits(origin: string, to: StagePosition, spec: InstrumentSpec, betaTiltEnabled: boolean): void {
  const lim = spec.stage_limits;
  const axes: [string, number, number, string][] = [
    ['x', to[0] * 1e6, lim.xy_um, 'um'],
    ['y', to[1] * 1e6, lim.xy_um, 'um'],
    ['z', to[2] * 1e6, lim.z_um, 'um'],
    ['alpha', to[3], lim.alpha_deg, 'deg'],
    ['beta', to[4], lim.beta_deg, 'deg'],
  ];
  for (const [axis, v, limit, unit] of axes) {
    if (Math.abs(v) > limit) {
      throw outOfRange(origin, `stage ${axis} must be within +-${limit} ${unit}${unit === 'um' ? ` (+-${limit * 1e-6} m; positions are in m)` : ''}, got ${+v.toPrecision(6)} ${unit}`);
    }
  }
  if (!betaTiltEnabled && to[4] !== 0) {
    throw outOfRange(origin, `stage beta must stay 0 while the holder has no beta axis (STAGE.beta_tilt_enabled is false), got ${to[4]} deg`);
  }
}
