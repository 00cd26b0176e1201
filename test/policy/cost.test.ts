import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { createAcquisition, type Acquisition } from '../../src/policy/acquisition.js';
import { COMMANDS_PER_STAGE_MOVE, CostModel, costWeighted, costWeightedScore, type CostParams } from '../../src/policy/cost.js';
import { DEFAULT_SCENARIO } from '../../src/protocol/scenario.js';

const PARAMS: CostParams = { t_bs_s: 0.025, t_st_s: 18, v_um_per_s: 10, d_bs_um: 15, alpha: 1, c_local: 1, t_meas_s: 1.1, range: 'square' };

describe('CostModel from a scenario', () => {
  it('assembles t_bs, t_st, v, d_bs and t_meas from the instrument and policy specs', () => {
    const m = CostModel.fromScenario(DEFAULT_SCENARIO.instrument, DEFAULT_SCENARIO.policy);
    const overhead = 0.02; // mean of [0.01, 0.03]
    expect(COMMANDS_PER_STAGE_MOVE).toBe(6);
    expect(m.params.t_bs_s).toBeCloseTo(overhead + 0.005, 15);
    // settle 2 + retune 5 + overview (1024^2 x 2 us + 1 s) + EDX frame 10 + 6 round trips.
    expect(m.params.t_st_s).toBeCloseTo(2 + 5 + (1024 * 1024 * 2e-6 + 1) + 10 + 6 * overhead, 12);
    expect(m.params.v_um_per_s).toBe(10);
    expect(m.params.d_bs_um).toBe(15);
    expect(m.params.alpha).toBe(1);
    expect(m.params.c_local).toBe(1);
    // Beam placement + EELS (1 s x 1 frame + 0.05 s) + its round trip.
    expect(m.params.t_meas_s).toBeCloseTo(0.025 + 1 + 0.05 + overhead, 12);
  });
});

describe('eqs. (5)-(6) and t_switch', () => {
  const m = new CostModel(PARAMS);

  it('t_move is t_bs inside the range and t_0 + d / v beyond, t_0 = t_st + t_bs', () => {
    expect(m.t0_s).toBeCloseTo(18.025, 12);
    expect(m.tMove_s(0)).toBe(0.025);
    expect(m.tMove_s(15)).toBe(0.025);
    expect(m.tMove_s(20)).toBeCloseTo(18.025 + 2, 12);
  });

  it('C_move is c_local inside and alpha (t_0 + d / v) beyond', () => {
    expect(m.cMove(3)).toBe(1);
    expect(m.cMove(15)).toBe(1);
    expect(m.cMove(40)).toBeCloseTo(18.025 + 4, 12);
    expect(new CostModel({ ...PARAMS, alpha: 0.5, c_local: 2 }).cMove(40)).toBeCloseTo(0.5 * 22.025, 12);
    expect(new CostModel({ ...PARAMS, c_local: 2 }).cMove(1)).toBe(2);
  });

  test.prop([fc.double({ min: 0, max: 15, noNaN: true }), fc.double({ min: 15.000001, max: 1e4, noNaN: true }), fc.double({ min: 1e-6, max: 1e3, noNaN: true })])(
    'C_move is constant inside the range and strictly increasing beyond it, with the form of eq. (6) down to d_bs',
    (inside, beyond, extra) => {
      expect(m.cMove(inside)).toBe(PARAMS.c_local);
      expect(m.cMove(beyond + extra)).toBeGreaterThan(m.cMove(beyond));
      // The outer branch, continued to d_bs, is alpha (t_0 + d_bs / v): no hidden offset.
      expect(m.cMove(beyond) - (PARAMS.alpha * (beyond - PARAMS.d_bs_um)) / PARAMS.v_um_per_s).toBeCloseTo(PARAMS.alpha * (m.t0_s + PARAMS.d_bs_um / PARAMS.v_um_per_s), 6);
    },
  );

  it('the square range reaches the corners, the disc does not', () => {
    expect(m.inBeamShiftRange(14, -14)).toBe(true);
    expect(m.cMoveAt(14, -14)).toBe(1);
    const disc = new CostModel({ ...PARAMS, range: 'disc' });
    expect(disc.inBeamShiftRange(14, -14)).toBe(false);
    expect(disc.cMoveAt(14, -14)).toBeCloseTo(18.025 + Math.hypot(14, 14) / 10, 12);
    expect(m.cMoveAt(30, 40)).toBeCloseTo(18.025 + 5, 12);
  });

  it('t_switch is settle + travel + retune + overview + EDX: t_st + d / v', () => {
    expect(m.tSwitch_s(0)).toBe(18);
    expect(m.tSwitch_s(30)).toBeCloseTo(21, 12);
    expect(m.tSwitch_s(30 * Math.SQRT2)).toBeGreaterThan(m.tSwitch_s(30));
  });

  it('names bad parameters and distances', () => {
    expect(() => new CostModel({ ...PARAMS, v_um_per_s: 0 })).toThrow(/v_um_per_s: must be a finite number > 0/);
    expect(() => new CostModel({ ...PARAMS, c_local: 0 })).toThrow(/c_local/);
    expect(() => new CostModel({ ...PARAMS, range: 'hex' as 'disc' })).toThrow(/range/);
    expect(() => m.cMove(-1)).toThrow(/distance: must be a finite number >= 0/);
    expect(() => m.tSwitch_s(NaN)).toThrow(/distance/);
    expect(() => m.cMoveAt(Infinity, 0)).toThrow(/cMoveAt/);
    expect(() => costWeighted(createAcquisition('max-variance'), new CostModel({ ...PARAMS, alpha: 0 }))).toThrow(/alpha: cost weighting needs alpha > 0/);
  });
});

describe('eq. (4): cost-aware score', () => {
  const m = new CostModel(PARAMS);

  test.prop([fc.array(fc.integer({ min: -1e6, max: 1e6 }).map((v) => v / 1e4), { minLength: 2, maxLength: 20 }), fc.double({ min: 0.1, max: 100, noNaN: true })])(
    'S keeps the order of a at equal cost (inside the range), for any sign',
    (as, c) => {
      const S = as.map((a) => costWeightedScore(a, c, false));
      for (let i = 0; i < as.length; i++) for (let j = 0; j < as.length; j++) if (as[i]! < as[j]!) expect(S[i]!).toBeLessThan(S[j]!);
    },
  );

  test.prop([fc.double({ min: -100, max: 100, noNaN: true }), fc.double({ min: 0.1, max: 100, noNaN: true }), fc.double({ min: 0.01, max: 100, noNaN: true }), fc.boolean()])(
    'S never rises with the cost',
    (a, c, dc, logScale) => {
      expect(costWeightedScore(a, c + dc, logScale)).toBeLessThanOrEqual(costWeightedScore(a, c, logScale));
    },
  );

  it('is a / C for positive acquisitions and log a - log C for log-scale ones', () => {
    expect(costWeightedScore(6, 3, false)).toBe(2);
    expect(costWeightedScore(-6, 3, false)).toBe(-18);
    expect(costWeightedScore(Math.log(6), 3, true)).toBeCloseTo(Math.log(2), 15);
  });

  it('costWeighted wraps any acquisition and records a, C and S per candidate', () => {
    const acq: Acquisition = createAcquisition('max-variance');
    const cw = costWeighted(acq, m);
    const mean = [0, 0, 0];
    const variance = [4, 9, 2];
    const res = cw.evaluate(mean, variance, [0, 40, -10], [0, 30, 5]);
    expect(Array.from(res.acquisition)).toEqual([4, 9, 2]);
    expect(res.cost[0]).toBe(1);
    expect(res.cost[1]).toBeCloseTo(18.025 + 5, 12);
    expect(res.cost[2]).toBe(1);
    expect(res.score[1]).toBeCloseTo(9 / 23.025, 12);
    expect(Array.from(res.score)).toEqual([4, res.score[1], 2]);
    const logEi = costWeighted(createAcquisition('log-ei', { best_eV: 0 }), m).evaluate([1], [1], [100], [0]);
    expect(logEi.score[0]).toBeCloseTo(logEi.acquisition[0]! - Math.log(28.025), 12);
    expect(() => cw.evaluate([0], [1], [0, 1], [0])).toThrow(/dx_um and dy_um need 1/);
  });
});
