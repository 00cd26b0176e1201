import type { Rng } from '../../protocol/random.js';
import type { InstrumentSpec } from '../../protocol/scenario.js';
import { LATENCY_CATEGORIES, type Breakdown } from '../../protocol/timing.js';

/**
 * How long each action of the instrument takes (model.md sections 4 and 8). Built from the
 * scenario's InstrumentSpec, the single source of every timing term; pure apart from
 * `drawOverhead_s`, which takes the Rng it draws from.
 *
 * Every command also pays one control-server round trip (`drawOverhead_s`); the methods below
 * return only the command's own terms, by category.
 *
 * Stage moves (eq. 5 beyond the beam-shift range): settle + distance / speed, the distance
 * taken in the x-y plane. z moves concurrently with x-y at the same speed, so a move travels
 * for max(d_xy, |dz|) / v. Tilts are charged no travel (the spec gives them no speed) but,
 * like any change of position, the settle. A move to the exact current position is a no-op.
 */
export class LatencyModel {
  /**
   * Reading out the whole camera sensor once, s (a Ceta-class CMOS at ~25 full frames per
   * second); a smaller readout area takes its share of the pixels. The spec has no camera term.
   */
  static readonly CAMERA_FULL_READOUT_s = 0.04;

  /**
   * Corrector (CEOS) timings, s; the spec has no corrector terms. A tableau records a series of
   * tilted Ronchigrams and fits every coefficient: tens of seconds on a real CEOS, the more
   * tilts the longer. measure_c1a1 fits C1 and A1 from a few probe images; a correction sets
   * lens and multipole excitations; reconnecting reopens the JSON-RPC link.
   */
  static readonly TABLEAU_s = { Fast: 20, Standard: 45, Enhanced: 90 } as const;
  static readonly MEASURE_C1A1_s = 3;
  static readonly CORRECTION_s = 0.5;
  static readonly CORRECTOR_RECONNECT_s = 1;

  /** calibrate_screen_current: the screen current reading against the Faraday cup, s. */
  static readonly SCREEN_CALIBRATION_s = 2;

  constructor(readonly spec: InstrumentSpec) {}

  /** Control-server round trip, Uniform[min, max] from `rng` (one draw per command). */
  drawOverhead_s(rng: Rng): number {
    const { min, max } = this.spec.control_overhead_s;
    return rng.uniformIn(min, max);
  }

  /** Repositioning the beam or the image shift inside the deflector range, `steps` times (t_bs). */
  beamShift(steps = 1): Breakdown {
    return { beam_shift: steps * this.spec.beam_shift_s };
  }

  /** Half the beam-shift range, m: how far from the stage position the beam may be deflected. */
  get beamShiftHalfRange_m(): number {
    return (this.spec.beam_shift_range_um * 1e-6) / 2;
  }

  /** Travel time of a stage move, s (0 when nothing moves). */
  stageTravel_s(from: readonly number[], to: readonly number[]): number {
    const dxy_m = Math.hypot(to[0]! - from[0]!, to[1]! - from[1]!);
    const dz_m = Math.abs(to[2]! - from[2]!);
    return (Math.max(dxy_m, dz_m) * 1e6) / this.spec.stage_speed_um_per_s;
  }

  /** Whether `to` differs from `from` on any axis. */
  static stageChanges(from: readonly number[], to: readonly number[]): boolean {
    for (let i = 0; i < 5; i++) if (from[i] !== to[i]) return true;
    return false;
  }

  /** A stage move: travel (eq. 5) and settle; nothing for a move to where the stage already is. */
  stageMove(from: readonly number[], to: readonly number[]): Breakdown {
    if (!LatencyModel.stageChanges(from, to)) return {};
    return { stage_travel: this.stageTravel_s(from, to), settle_retune: this.spec.stage_settle_s };
  }

  /** Autofocus / corrector retune. */
  autoFocus(): Breakdown {
    return { settle_retune: this.spec.retune_s };
  }

  /** Rows and columns a scan covers: the scan region of an imsize x imsize frame, at least one pixel each way. */
  static scanShape(imsize: number, region: readonly number[]): { rows: number; cols: number } {
    return { cols: Math.max(1, Math.round(imsize * region[2]!)), rows: Math.max(1, Math.round(imsize * region[3]!)) };
  }

  /** A HAADF frame: pixels x dwell + frame overhead. */
  haadfScan(pixels: number, dwell_s: number): Breakdown {
    return { scan: pixels * dwell_s + this.spec.haadf_frame_overhead_s };
  }

  /** An EDX frame (map); the HAADF recorded with it costs nothing extra. */
  edxFrame(): Breakdown {
    return { edx: this.spec.edx_frame_s };
  }

  /** An EDX point spectrum: live time + readout overhead. */
  edxPoint(live_s: number): Breakdown {
    return { edx: live_s + this.spec.edx_point_overhead_s };
  }

  /** An EELS spectrum: exposure x frames + overhead. */
  eels(exposure_s: number, frames: number): Breakdown {
    return { eels: exposure_s * frames + this.spec.eels_overhead_s };
  }

  /**
   * A camera image, charged to imaging ('scan'): exposure x frames combined, plus one readout of
   * the area read (`areaShare` of the sensor's pixels).
   */
  cameraImage(exposure_s: number, frames: number, areaShare: number): Breakdown {
    return { scan: exposure_s * frames + LatencyModel.CAMERA_FULL_READOUT_s * areaShare };
  }

  /** A corrector tableau of `type` (TABLEAU_s), charged to retuning. */
  tableau(type: keyof typeof LatencyModel.TABLEAU_s): Breakdown {
    return { settle_retune: LatencyModel.TABLEAU_s[type] };
  }

  /** Measuring C1 and A1. */
  measureC1A1(): Breakdown {
    return { settle_retune: LatencyModel.MEASURE_C1A1_s };
  }

  /** Applying one aberration correction. */
  correction(): Breakdown {
    return { settle_retune: LatencyModel.CORRECTION_s };
  }

  /** Reconnecting the corrector backend (nothing the beam does: a round trip of its own). */
  correctorReconnect(): Breakdown {
    return { control_overhead: LatencyModel.CORRECTOR_RECONNECT_s };
  }

  /** Calibrating the screen current (charged with retuning: the column's own housekeeping). */
  screenCalibration(): Breakdown {
    return { settle_retune: LatencyModel.SCREEN_CALIBRATION_s };
  }
}

/** Sum of a breakdown's parts. */
export function breakdownTotal_s(b: Breakdown): number {
  let s = 0;
  for (const c of LATENCY_CATEGORIES) s += b[c] ?? 0;
  return s;
}
