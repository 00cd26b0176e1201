import type { InstrumentSpec, PolicySpec } from '../protocol/scenario.js';
import type { Acquisition } from './acquisition.js';

/**
 * The latency model as the policy sees it (eqs. 4-6), built from the scenario: the policy knows
 * the instrument's nominal timings, not the twin's draws. Distances in um, times in s.
 */
export interface CostParams {
  /** t_bs: repositioning the beam inside the beam-shift range (one control round trip + beam shift). */
  t_bs_s: number;
  /** t_st: fixed latency of a stage move: settle + retune + new overview + EDX frame, with their round trips. */
  t_st_s: number;
  /** v: stage speed. */
  v_um_per_s: number;
  /** d_bs: half the beam-shift range (= half the region). */
  d_bs_um: number;
  alpha: number;
  c_local: number;
  /** t_meas: one EELS measurement including the beam placement (eq. 16). */
  t_meas_s: number;
  /**
   * 'square': a particle is in range when max(|dx|, |dy|) <= d_bs, as the deflectors reach a square
   * field; 'disc': when hypot(dx, dy) <= d_bs, eq. (5) read literally. Only cMoveAt uses it.
   */
  range: 'square' | 'disc';
}

/**
 * Control-server commands a region change costs: move_stage, auto_focus, the overview, the EDX
 * frame, and the two SCAN imsize writes between them (overview and EDX frame differ in size).
 */
export const COMMANDS_PER_STAGE_MOVE = 6;

function check(name: string, v: number, positive: boolean): void {
  if (!Number.isFinite(v) || (positive ? !(v > 0) : !(v >= 0))) throw new RangeError(`${name}: must be a finite number ${positive ? '> 0' : '>= 0'}, got ${v}`);
}

export class CostModel {
  readonly params: Readonly<CostParams>;

  constructor(params: CostParams) {
    check('t_bs_s', params.t_bs_s, false);
    check('t_st_s', params.t_st_s, false);
    check('v_um_per_s', params.v_um_per_s, true);
    check('d_bs_um', params.d_bs_um, false);
    check('alpha', params.alpha, false);
    check('c_local', params.c_local, true);
    check('t_meas_s', params.t_meas_s, true);
    if (params.range !== 'square' && params.range !== 'disc') throw new RangeError(`range: must be "square" or "disc", got "${params.range as string}"`);
    this.params = { ...params };
  }

  /**
   * From a scenario: t_bs = mean control round trip + beam_shift_s; t_st = settle + retune +
   * overview (imsize^2 x dwell + frame overhead) + EDX frame + 6 round trips; d_bs = region_um / 2;
   * t_meas = t_bs + EELS (exposure x frames + overhead) + one round trip.
   */
  static fromScenario(instrument: InstrumentSpec, policy: PolicySpec, range: CostParams['range'] = 'square'): CostModel {
    const overhead = (instrument.control_overhead_s.min + instrument.control_overhead_s.max) / 2;
    const t_bs = overhead + instrument.beam_shift_s;
    const overview = policy.overview.imsize * policy.overview.imsize * policy.overview.dwell_time_s + instrument.haadf_frame_overhead_s;
    const t_st = instrument.stage_settle_s + instrument.retune_s + overview + instrument.edx_frame_s + COMMANDS_PER_STAGE_MOVE * overhead;
    const eels = policy.eels.exposure_time_s * policy.eels.number_of_frames + instrument.eels_overhead_s + overhead;
    return new CostModel({
      t_bs_s: t_bs,
      t_st_s: t_st,
      v_um_per_s: instrument.stage_speed_um_per_s,
      d_bs_um: policy.region_um / 2,
      alpha: policy.alpha,
      c_local: policy.c_local,
      t_meas_s: t_bs + eels,
      range,
    });
  }

  /** t_0 = t_st + t_bs. */
  get t0_s(): number {
    return this.params.t_st_s + this.params.t_bs_s;
  }

  /** Eq. (5): time to bring the beam to a particle at distance d from the field centre. */
  tMove_s(d_um: number): number {
    checkDistance(d_um);
    return d_um <= this.params.d_bs_um ? this.params.t_bs_s : this.t0_s + d_um / this.params.v_um_per_s;
  }

  /** Eq. (6): c_local inside the beam-shift range, alpha (t_0 + d / v) beyond. */
  cMove(d_um: number): number {
    checkDistance(d_um);
    return d_um <= this.params.d_bs_um ? this.params.c_local : this.params.alpha * (this.t0_s + d_um / this.params.v_um_per_s);
  }

  /** Whether an offset (um) from the field centre is reachable by beam shift, per `range`. */
  inBeamShiftRange(dx_um: number, dy_um: number): boolean {
    const r = this.params.range === 'square' ? Math.max(Math.abs(dx_um), Math.abs(dy_um)) : Math.hypot(dx_um, dy_um);
    return r <= this.params.d_bs_um;
  }

  /** Eq. (6) for an offset: c_local when in range, else alpha (t_0 + |offset| / v). */
  cMoveAt(dx_um: number, dy_um: number): number {
    if (!Number.isFinite(dx_um) || !Number.isFinite(dy_um)) throw new RangeError(`cMoveAt: offset must be finite, got (${dx_um}, ${dy_um})`);
    if (this.inBeamShiftRange(dx_um, dy_um)) return this.params.c_local;
    return this.params.alpha * (this.t0_s + Math.hypot(dx_um, dy_um) / this.params.v_um_per_s);
  }

  /**
   * Time to switch to a region whose centre is d away: settle + travel d / v + retune + overview
   * + EDX frame, with their round trips (= t_st + d / v). The switching rule's t_switch (eq. 16).
   */
  tSwitch_s(d_um: number): number {
    checkDistance(d_um);
    return this.params.t_st_s + d_um / this.params.v_um_per_s;
  }
}

function checkDistance(d_um: number): void {
  if (!(d_um >= 0) || !Number.isFinite(d_um)) throw new RangeError(`distance: must be a finite number >= 0 um, got ${d_um}`);
}

/**
 * Eq. (4), S = a / C, for any sign and scale of a: a / C when a >= 0, a * C when a < 0 (so S
 * always falls as the cost rises and keeps the order of a at equal cost), and a - log C for
 * log-scale acquisitions (log(EI / C)).
 */
export function costWeightedScore(a: number, cost: number, logScale: boolean): number {
  if (logScale) return a - Math.log(cost);
  return a >= 0 ? a / cost : a * cost;
}

/** Each candidate's raw acquisition, move cost and cost-aware score. */
export interface CostAwareScores {
  acquisition: Float64Array;
  cost: Float64Array;
  score: Float64Array;
}

/** An acquisition wrapped with the move cost (BoTorch's cost-aware utility, eq. 4). */
export interface CostAwareAcquisition {
  readonly acquisition: Acquisition;
  readonly cost: CostModel;
  /**
   * Scores candidates from their posterior and their offsets (um) from the current field centre.
   * `out` buffers are reused when given.
   */
  evaluate(mean: ArrayLike<number>, variance: ArrayLike<number>, dx_um: ArrayLike<number>, dy_um: ArrayLike<number>, out?: CostAwareScores): CostAwareScores;
}

export function costWeighted(acquisition: Acquisition, cost: CostModel): CostAwareAcquisition {
  if (!(cost.params.alpha > 0)) throw new RangeError(`alpha: cost weighting needs alpha > 0 (a zero cost scale makes eq. 4 divide by zero beyond the beam-shift range), got ${cost.params.alpha}`);
  return {
    acquisition,
    cost,
    evaluate(mean, variance, dx_um, dy_um, out) {
      const n = mean.length;
      if (dx_um.length !== n || dy_um.length !== n) throw new RangeError(`costWeighted: dx_um and dy_um need ${n} entries (one per candidate), got ${dx_um.length} and ${dy_um.length}`);
      const res = out ?? { acquisition: new Float64Array(n), cost: new Float64Array(n), score: new Float64Array(n) };
      acquisition.evaluate(mean, variance, res.acquisition);
      for (let i = 0; i < n; i++) {
        const c = cost.cMoveAt(dx_um[i]!, dy_um[i]!);
        res.cost[i] = c;
        res.score[i] = costWeightedScore(res.acquisition[i]!, c, acquisition.logScale);
      }
      return res;
    },
  };
}
