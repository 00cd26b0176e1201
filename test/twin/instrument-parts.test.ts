import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { InstrumentError } from '../../src/protocol/instrument.js';
import { Rng } from '../../src/protocol/random.js';
import { DEFAULT_SCENARIO } from '../../src/protocol/scenario.js';
import { finiteNumber, inRange, integer, noArgument, numberArray, textArray } from '../../src/twin/instrument/args.js';
import { CAMERA_DISC_RADIUS_FRACTION, renderCameraImage, thicknessAt_m } from '../../src/twin/instrument/camera.js';
import { DataStore } from '../../src/twin/instrument/data-store.js';
import { beamPosition_m, checkBeamReach, checkImageShift, checkStageLimits } from '../../src/twin/instrument/geometry.js';
import { initialState, transition } from '../../src/twin/instrument/state.js';
import type { Particle } from '../../src/twin/types.js';

const spec = DEFAULT_SCENARIO.instrument;

function refusal(fn: () => unknown): InstrumentError {
  try {
    fn();
  } catch (e) {
    if (e instanceof InstrumentError) return e;
    throw e;
  }
  throw new Error('expected an InstrumentError');
}

describe('argument checks', () => {
  it('name the argument and what was wrong', () => {
    expect(refusal(() => numberArray('T.c', 'position', [1, 2], 5)).description).toBe('position must have 5 numbers, got 2');
    expect(refusal(() => numberArray('T.c', 'position', [1, NaN], 2)).description).toBe('position[1] must be a finite number, got NaN');
    expect(refusal(() => numberArray('T.c', 'position', '1,2', 2)).reason).toBe('API_InvalidArgument');
    expect(refusal(() => numberArray('T.c', 'pairs', [1, 2, 3], { even: true, min: 2 })).description).toMatch(/even count/);
    expect(refusal(() => finiteNumber('T.c', 'fov', '3')).description).toBe('fov must be a number, got "3"');
    expect(refusal(() => integer('T.c', 'imsize', 1.5)).description).toBe('imsize must be a whole number, got 1.5');
    expect(refusal(() => inRange('T.c', 'dwell', 20, 0, 10, 's'))).toMatchObject({ reason: 'OutOfRange', description: 'dwell must be within [0, 10] s, got 20 s', origin: 'T.c' });
    expect(refusal(() => noArgument('T.c', [1])).description).toBe('takes no argument, got [1]');
    expect(refusal(() => textArray('T.c', 'detectors', ['haadf', 3])).description).toBe('detectors[1] must be a string, got 3');
  });

  it('accept good values, typed arrays included', () => {
    expect(numberArray('T.c', 'p', new Float64Array([1, 2]), 2)).toEqual([1, 2]);
    expect(numberArray('T.c', 'p', [0, 1, 0.5, 0.5], { even: true, min: 2 })).toEqual([0, 1, 0.5, 0.5]);
    expect(() => noArgument('T.c', undefined)).not.toThrow();
    expect(() => noArgument('T.c', null)).not.toThrow();
    expect(integer('T.c', 'n', 3)).toBe(3);
  });
});

describe('geometry', () => {
  const state = initialState(spec);

  it('parks the beam at centre - fov/2 + fraction * fov, the centre being stage + image shift', () => {
    const s = { ...state, stage: [1e-5, 2e-5, 0, 0, 0] as [number, number, number, number, number], image_shift_m: [1e-6, 0] as [number, number], fov_m: 2e-5 };
    const [x, y] = beamPosition_m(s, [0.25, 1]);
    expect(x).toBeCloseTo(1e-5 + 1e-6 - 0.5e-5, 15);
    expect(y).toBeCloseTo(2e-5 + 1e-5, 15);
  });

  it('refuses image shifts and beam placements beyond the beam-shift range, telling to move the stage', () => {
    const e = refusal(() => checkImageShift('DigitalTwin.set_image_shift', [16e-6, 0], spec));
    expect(e.reason).toBe('BeamShiftRange');
    expect(e.description).toMatch(/move the stage/);
    expect(() => checkImageShift('x', [15e-6, -15e-6], spec)).not.toThrow();
    const wide = { ...state, fov_m: 60e-6 };
    expect(refusal(() => checkBeamReach('DigitalTwin.place_beam', wide, [0, 0.5], spec)).reason).toBe('BeamShiftRange');
    expect(() => checkBeamReach('x', wide, [0.25, 0.75], spec)).not.toThrow();
  });

  it('refuses stage positions beyond the limits, in the units of the limit', () => {
    const e = refusal(() => checkStageLimits('DigitalTwin.move_stage', [2e-3, 0, 0, 0, 0], spec, false));
    expect(e.reason).toBe('OutOfRange');
    expect(e.description).toMatch(/stage x must be within \+-1000 um/);
    expect(refusal(() => checkStageLimits('m', [0, 0, 0, 40, 0], spec, false)).description).toMatch(/alpha/);
    expect(refusal(() => checkStageLimits('m', [0, 0, 0, 0, 5], spec, false)).description).toMatch(/beta_tilt_enabled/);
    expect(() => checkStageLimits('m', [0, 0, 0, 0, 5], spec, true)).not.toThrow();
  });
});

describe('state snapshots', () => {
  it('start frozen, with the ATTRIBUTES defaults', () => {
    const s = initialState(spec);
    expect(Object.isFrozen(s)).toBe(true);
    expect(s.scan).toEqual({ dwell_time: 1e-6, imsize: 512, scan_region: [0, 0, 1, 1], output_format: '.h5' });
    expect(s.eds.exposure_time).toBe(1);
    expect(s.fov_m).toBeCloseTo(30e-6, 15);
    expect(s.device).toBe('ON');
  });

  it('change only through transitions, which yield patches and leave the old snapshot alone', () => {
    const s0 = initialState(spec);
    const { state: s1, patches } = transition(s0, (d) => void (d.scan.dwell_time = 2e-6));
    expect(s0.scan.dwell_time).toBe(1e-6);
    expect(s1.scan.dwell_time).toBe(2e-6);
    expect(patches).toEqual([{ op: 'replace', path: ['scan', 'dwell_time'], value: 2e-6 }]);
    expect(s1.stage).toBe(s0.stage);
  });
});

describe('data store', () => {
  it('names acquisitions by virtual time and keeps keys unique at equal times', () => {
    const store = new DataStore();
    const a = store.put('stem_image_HAADF', '.h5', 12.5, {}, []);
    const b = store.put('stem_image_HAADF', '.h5', 12.5, {}, []);
    expect(a).toBe('stem_image_HAADF_20260101T000012500000.h5');
    expect(b).toBe('stem_image_HAADF_20260101T000012500001.h5');
    expect(store.put('stem_image_HAADF', '.tiff', 1, {}, [])).toBe('stem_image_HAADF_20260101T000001000000.tiff');
    expect(store.get(b).format).toBe('hdf5');
    expect(store.size).toBe(3);
  });

  it('refuses an unknown key with what keys look like', () => {
    const store = new DataStore();
    const e = refusal(() => store.get('nope.h5'));
    expect(e.reason).toBe('API_DataNotFound');
    expect(e.description).toMatch(/nothing has been acquired yet/);
    store.put('spectrum_eels', '.h5', 3, {}, []);
    expect(refusal(() => store.get('nope.h5')).description).toMatch(/spectrum_eels_20260101T000003000000\.h5/);
  });

  it('drops the oldest records past its byte budget, never the newest, and says so when one is read', () => {
    const store = new DataStore(2000);
    const data = (n: number) => [{ name: 'spectrum', shape: [n], dtype: 'float64' as const, attrs: {}, values: new Float64Array(n) }];
    const a = store.put('spectrum_eds', '.h5', 1, {}, data(100));
    const b = store.put('spectrum_eds', '.h5', 2, {}, data(100));
    expect(store.heldBytes).toBe(1600);
    const c = store.put('spectrum_eds', '.h5', 3, {}, data(100));
    expect(store.keys()).toEqual([b, c]);
    expect(refusal(() => store.get(a))).toMatchObject({ reason: 'API_DataEvicted' });
    const big = store.put('spectrum_eds', '.h5', 4, {}, data(1000));
    expect(store.keys()).toEqual([big]);
    expect(store.get(big).datasets[0]!.shape).toEqual([1000]);
    expect(store.put('spectrum_eds', '.h5', 1, {}, [])).not.toBe(a);
  });

  test.prop([fc.array(fc.double({ min: 0, max: 1e4, noNaN: true }), { maxLength: 40 })])('never reuses a key', (times) => {
    const store = new DataStore();
    const keys = times.map((t) => store.put('spectrum_eds', '.h5', t, {}, []));
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('camera image', () => {
  const particle: Particle = { id: 0, x_m: 0, y_m: 0, radius_m: 50e-9, composition: new Float64Array([1]) };

  it('measures the chord of the particle under the beam', () => {
    expect(thicknessAt_m([particle], 0, 0)).toBeCloseTo(100e-9, 15);
    expect(thicknessAt_m([particle], 30e-9, 40e-9)).toBeCloseTo(0, 15);
    expect(thicknessAt_m([particle], 1e-6, 0)).toBe(0);
  });

  it('shows a darker direct disc on a particle than on the support', () => {
    const n = 128;
    const disc = (img: Float64Array) => img[(n / 2) * n + n / 2]!;
    const edge = (img: Float64Array) => img[0]!;
    const on = renderCameraImage([particle], [0, 0], 0.1, 50, 1, new Rng(1), n);
    const off = renderCameraImage([particle], [1e-6, 0], 0.1, 50, 1, new Rng(1), n).values;
    expect(on.shape).toEqual([n, n]);
    expect(disc(on.values)).toBeLessThan(disc(off) * 0.5);
    expect(edge(on.values)).toBeGreaterThan(edge(off));
    expect(on.attrs.disc_radius_px).toBe(CAMERA_DISC_RADIUS_FRACTION * n);
    expect(CAMERA_DISC_RADIUS_FRACTION).toBeLessThan(0.5);
  });
});
