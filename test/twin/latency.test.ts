import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/protocol/random.js';
import { DEFAULT_SCENARIO, type InstrumentSpec } from '../../src/protocol/scenario.js';
import { breakdownTotal_s, LatencyModel } from '../../src/twin/instrument/latency.js';

const spec: InstrumentSpec = { ...DEFAULT_SCENARIO.instrument, stage_speed_um_per_s: 10, stage_settle_s: 2, retune_s: 5 };
const model = new LatencyModel(spec);
const um = 1e-6;

describe('LatencyModel (model.md sections 4 and 8)', () => {
  it('draws the round trip uniformly from [min, max], reproducibly per seed', () => {
    const a = new Rng(7).fork('overhead');
    const b = new Rng(7).fork('overhead');
    const draws = Array.from({ length: 4000 }, () => model.drawOverhead_s(a));
    expect(Array.from({ length: 4000 }, () => model.drawOverhead_s(b))).toEqual(draws);
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0.01);
    expect(Math.max(...draws)).toBeLessThan(0.03);
    const mean = draws.reduce((s, x) => s + x, 0) / draws.length;
    expect(mean).toBeCloseTo(0.02, 3);
    const other = Array.from({ length: 10 }, () => model.drawOverhead_s(new Rng(8).fork('overhead')));
    expect(other[0]).not.toBe(draws[0]);
  });

  it('charges a stage move settle + distance / speed in the x-y plane (eq. 5)', () => {
    const b = model.stageMove([0, 0, 0, 0, 0], [30 * um, 40 * um, 0, 0, 0]);
    expect(b.stage_travel).toBeCloseTo(5, 12); // 50 um at 10 um/s
    expect(b.settle_retune).toBe(2);
    expect(breakdownTotal_s(b)).toBeCloseTo(7, 12);
  });

  it('moves z concurrently with x-y (the slower axis governs) and charges tilts only the settle', () => {
    expect(model.stageMove([0, 0, 0, 0, 0], [10 * um, 0, 50 * um, 0, 0]).stage_travel).toBeCloseTo(5, 12);
    expect(model.stageMove([0, 0, 0, 0, 0], [50 * um, 0, 10 * um, 0, 0]).stage_travel).toBeCloseTo(5, 12);
    expect(model.stageMove([0, 0, 0, 0, 0], [0, 0, 0, 20, 0])).toEqual({ stage_travel: 0, settle_retune: 2 });
  });

  it('makes a move to the current position a no-op', () => {
    expect(model.stageMove([1e-5, 2e-5, 0, 3, 0], [1e-5, 2e-5, 0, 3, 0])).toEqual({});
    expect(LatencyModel.stageChanges([0, 0, 0, 0, 0], [0, 0, 0, 0, 1e-9])).toBe(true);
  });

  it('charges beam shifts per step, autofocus, scans, EDX and EELS from the spec', () => {
    expect(model.beamShift()).toEqual({ beam_shift: spec.beam_shift_s });
    expect(model.beamShift(4).beam_shift).toBeCloseTo(4 * spec.beam_shift_s, 15);
    expect(model.autoFocus()).toEqual({ settle_retune: 5 });
    expect(model.haadfScan(512 * 512, 5e-6).scan).toBeCloseTo(512 * 512 * 5e-6 + spec.haadf_frame_overhead_s, 12);
    expect(model.edxFrame()).toEqual({ edx: spec.edx_frame_s });
    expect(model.edxPoint(1).edx).toBeCloseTo(1 + spec.edx_point_overhead_s, 12);
    expect(model.eels(0.5, 3).eels).toBeCloseTo(1.5 + spec.eels_overhead_s, 12);
    expect(model.cameraImage(0.01, 3, 0.25).scan).toBeCloseTo(0.03 + 0.25 * LatencyModel.CAMERA_FULL_READOUT_s, 15);
    expect(model.tableau('Fast')).toEqual({ settle_retune: LatencyModel.TABLEAU_s.Fast });
    expect(LatencyModel.TABLEAU_s.Fast).toBeGreaterThanOrEqual(10);
    expect(model.measureC1A1()).toEqual({ settle_retune: LatencyModel.MEASURE_C1A1_s });
    expect(model.correction()).toEqual({ settle_retune: LatencyModel.CORRECTION_s });
    expect(model.screenCalibration()).toEqual({ settle_retune: LatencyModel.SCREEN_CALIBRATION_s });
    expect(model.correctorReconnect()).toEqual({ control_overhead: LatencyModel.CORRECTOR_RECONNECT_s });
  });

  it('takes the scan shape from the scan region, at least one pixel each way', () => {
    expect(LatencyModel.scanShape(512, [0, 0, 1, 1])).toEqual({ rows: 512, cols: 512 });
    expect(LatencyModel.scanShape(512, [0.25, 0, 0.5, 0.25])).toEqual({ rows: 128, cols: 256 });
    expect(LatencyModel.scanShape(16, [0, 0, 0.001, 0.001])).toEqual({ rows: 1, cols: 1 });
  });

  it('follows the scenario: a different spec changes the terms', () => {
    const slow = new LatencyModel({ ...spec, stage_speed_um_per_s: 1, stage_settle_s: 0.5, edx_frame_s: 3 });
    expect(slow.stageMove([0, 0, 0, 0, 0], [10 * um, 0, 0, 0, 0])).toEqual({ stage_travel: expect.closeTo(10, 12), settle_retune: 0.5 });
    expect(slow.edxFrame()).toEqual({ edx: 3 });
    expect(slow.beamShiftHalfRange_m).toBeCloseTo(15 * um, 15);
  });

  const position = fc.tuple(
    fc.double({ min: -1e-3, max: 1e-3, noNaN: true }),
    fc.double({ min: -1e-3, max: 1e-3, noNaN: true }),
    fc.double({ min: -3e-4, max: 3e-4, noNaN: true }),
    fc.constant(0),
    fc.constant(0),
  );

  test.prop([position, position, position])('travel time is symmetric and obeys the triangle inequality', (a, b, c) => {
    const ab = model.stageTravel_s(a, b);
    expect(ab).toBeCloseTo(model.stageTravel_s(b, a), 9);
    expect(ab).toBeGreaterThanOrEqual(0);
    expect(model.stageTravel_s(a, c)).toBeLessThanOrEqual(ab + model.stageTravel_s(b, c) + 1e-9);
  });

  it('sums breakdowns over all categories', () => {
    expect(breakdownTotal_s({ stage_travel: 1, settle_retune: 2, control_overhead: 0.25, eels: 0.5 })).toBe(3.75);
    expect(breakdownTotal_s({})).toBe(0);
  });
});
