import { describe, expect, it } from 'vitest';
import { ATTRIBUTES, COMMANDS, DEVICES, tangoDeviceName, type DeviceName } from '../../src/protocol/commands.js';
import { dataset, InstrumentError, type CommandOutcome, type CommandRequest } from '../../src/protocol/instrument.js';
import { LATENCY_CATEGORIES } from '../../src/protocol/timing.js';
import { createTwin, type Twin } from '../../src/twin/index.js';
import { LatencyModel } from '../../src/twin/instrument/latency.js';
import { IMAGE_CACHE_SIZE } from '../../src/twin/instrument/image-cache.js';
import { ABERRATION_NAMES, ABERRATIONS, AberrationDrift, STAGE_MOVE_DRIFT_m } from '../../src/twin/instrument/aberrations.js';
import { Rng } from '../../src/protocol/random.js';
import { EELS_DEFAULT_DISPERSION_eV } from '../../src/twin/signals/index.js';
import { EELS_APERTURES, EELS_DISPERSIONS_eV } from '../../src/twin/instrument/state.js';
import type { InstrumentTelemetry } from '../../src/twin/instrument/telemetry.js';
import { smallScenario } from './instrument-fixtures.js';

const scenario = smallScenario();
/** DevFloat / DevVarFloatArray values come back through float32, as on the real server. */
const f = Math.fround;

function twin(seed?: number): Twin & { records: InstrumentTelemetry[] } {
  const t = createTwin(scenario, { seed });
  const records: InstrumentTelemetry[] = [];
  t.telemetry.records$.subscribe((r) => records.push(r));
  return { ...t, records };
}

async function exec(t: Twin, command: string, args?: unknown, device?: DeviceName): Promise<CommandOutcome> {
  return t.instrument.execute({ command, args, device });
}

async function refused(p: Promise<unknown>): Promise<InstrumentError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof InstrumentError) return e;
    throw e;
  }
  throw new Error('expected the command to be refused');
}

function total(o: CommandOutcome): number {
  return LATENCY_CATEGORIES.reduce((s, c) => s + (o.breakdown_s[c] ?? 0), 0);
}

/** Commands exercised below, checked against COMMANDS so that a new command without a test fails. */
const tested = new Set<string>();
const covers = (device: DeviceName, ...names: string[]) => names.forEach((n) => tested.add(`${device}.${n}`));

describe('instrument commands', () => {
  it('get_stage / move_stage: an absolute move costs settle + distance / speed and detunes the probe', async () => {
    covers('instrument', 'get_stage', 'move_stage');
    const t = twin();
    expect((await exec(t, 'get_stage')).value).toEqual([0, 0, 0, 0, 0]);
    const o = await exec(t, 'move_stage', [30e-6, 40e-6, 0, 0, 0]);
    expect(o.breakdown_s.stage_travel).toBeCloseTo((Math.hypot(f(30e-6), f(40e-6)) * 1e6) / scenario.instrument.stage_speed_um_per_s, 12);
    expect(o.breakdown_s.stage_travel).toBeCloseTo(5, 5);
    expect(o.breakdown_s.settle_retune).toBe(2);
    expect(o.breakdown_s.control_overhead).toBeGreaterThanOrEqual(0.01);
    expect(o.breakdown_s.control_overhead).toBeLessThan(0.03);
    expect(total(o)).toBeCloseTo(o.end_s - o.start_s, 12);
    expect((await exec(t, 'get_stage')).value).toEqual([f(30e-6), f(40e-6), 0, 0, 0]);
    expect(t.twin.state.tuned).toBe(false);
    expect(t.twin.state.tuning_changed_s).toBe(o.end_s);
  });

  it('auto_focus retunes in retune_s and resets the defocus', async () => {
    covers('instrument', 'auto_focus', 'set_defocus', 'get_defocus');
    const t = twin();
    await exec(t, 'move_stage', [10e-6, 0, 0, 0, 0]);
    await exec(t, 'set_defocus', 2e-7);
    expect((await exec(t, 'get_defocus')).value).toBe(f(2e-7));
    expect(t.twin.state.aberrations.C1[0]).not.toBe(0);
    const b2 = t.twin.state.aberrations.B2;
    const o = await exec(t, 'auto_focus');
    expect(o.breakdown_s.settle_retune).toBe(5);
    expect(t.twin.state.tuned).toBe(true);
    // It removes the C1/A1 the move left and nothing else.
    expect(t.twin.state.aberrations.C1).toEqual([0]);
    expect(t.twin.state.aberrations.A1).toEqual([0, 0]);
    expect(t.twin.state.aberrations.B2).toEqual(b2);
    expect((await exec(t, 'get_defocus')).value).toBe(0);
    expect((await refused(exec(t, 'set_defocus', 1))).reason).toBe('OutOfRange');
  });

  it('place_beam / place_beam_list cost t_bs per position; beyond the range they are refused with a hint', async () => {
    covers('instrument', 'place_beam', 'place_beam_list');
    const t = twin();
    const o = await exec(t, 'place_beam', [0.2, 0.8]);
    expect(o.breakdown_s.beam_shift).toBe(scenario.instrument.beam_shift_s);
    expect(t.twin.state.beam_fraction).toEqual([f(0.2), f(0.8)]);
    const l = await exec(t, 'place_beam_list', [0.1, 0.1, 0.5, 0.5, 0.9, 0.3]);
    expect(l.breakdown_s.beam_shift).toBeCloseTo(3 * scenario.instrument.beam_shift_s, 15);
    expect(t.twin.state.beam_fraction).toEqual([f(0.9), f(0.3)]);
    expect((await refused(exec(t, 'place_beam', [1.2, 0.5]))).reason).toBe('OutOfRange');
    await exec(t, 'set_fov', 60e-6);
    const e = await refused(exec(t, 'place_beam', [0, 0.5]));
    expect(e.reason).toBe('BeamShiftRange');
    expect(e.description).toMatch(/move the stage/);
    expect((await refused(exec(t, 'place_beam_list', [0.5, 0.5, 0.5]))).reason).toBe('API_InvalidArgument');
  });

  it('set_image_shift / get_image_shift: t_bs inside +-range/2, BeamShiftRange beyond', async () => {
    covers('instrument', 'set_image_shift', 'get_image_shift');
    const t = twin();
    const o = await exec(t, 'set_image_shift', [5e-6, -3e-6]);
    expect(o.breakdown_s.beam_shift).toBe(scenario.instrument.beam_shift_s);
    expect((await exec(t, 'get_image_shift')).value).toEqual([f(5e-6), f(-3e-6)]);
    const e = await refused(exec(t, 'set_image_shift', [20e-6, 0]));
    expect(e.reason).toBe('BeamShiftRange');
    expect(e.description).toMatch(/move_stage/);
    expect((await exec(t, 'get_image_shift')).value).toEqual([f(5e-6), f(-3e-6)]);
  });

  it('blank_beam / unblank_beam: acquisitions and autofocus are refused while blanked', async () => {
    covers('instrument', 'blank_beam', 'unblank_beam');
    const t = twin();
    await exec(t, 'blank_beam');
    expect(t.twin.state.beam_blanked).toBe(true);
    for (const [c, a, d] of [['acquire_scanned_image', undefined], ['acquire_spectrum', 'eds'], ['auto_focus'], ['acquire_eels_spectrum', undefined, 'EELS'], ['acquire_camera_image']] as const) {
      const e = await refused(exec(t, c, a, d as DeviceName | undefined));
      expect(e.reason).toBe('BeamBlanked');
      expect(e.description).toMatch(/unblank_beam/);
    }
    await exec(t, 'unblank_beam');
    expect(typeof (await exec(t, 'acquire_camera_image')).value).toBe('string');
  });

  it('set_beam_tilt / get_beam_tilt', async () => {
    covers('instrument', 'set_beam_tilt', 'get_beam_tilt');
    const t = twin();
    await exec(t, 'set_beam_tilt', [0.01, -0.02]);
    expect((await exec(t, 'get_beam_tilt')).value).toEqual([f(0.01), f(-0.02)]);
    expect((await refused(exec(t, 'set_beam_tilt', [1, 0]))).reason).toBe('OutOfRange');
  });

  it('set_fov / get_fov', async () => {
    covers('instrument', 'set_fov', 'get_fov');
    const t = twin();
    expect((await exec(t, 'get_fov')).value).toBe(f(30e-6));
    await exec(t, 'set_fov', 1e-6);
    expect((await exec(t, 'get_fov')).value).toBe(f(1e-6));
    expect((await refused(exec(t, 'set_fov', -1))).reason).toBe('OutOfRange');
    expect((await refused(exec(t, 'set_fov', '1e-6'))).reason).toBe('API_InvalidArgument');
  });

  it('acquire_scanned_image: HAADF costs pixels x dwell + overhead and returns a key to an image of the scan', async () => {
    covers('instrument', 'acquire_scanned_image');
    const t = twin();
    await t.instrument.writeAttribute({ device: 'SCAN', attribute: 'imsize', value: 32 });
    await t.instrument.writeAttribute({ device: 'SCAN', attribute: 'dwell_time', value: 4e-6 });
    const o = await exec(t, 'acquire_scanned_image', ['haadf']);
    expect(o.breakdown_s.scan).toBeCloseTo(32 * 32 * 4e-6 + scenario.instrument.haadf_frame_overhead_s, 12);
    expect(o.value).toMatch(/^stem_image_HAADF_2026\d{4}T\d{12}\.h5$/);
    const record = await t.instrument.getData(o.value as string);
    const img = dataset(record, 'image/HAADF');
    expect(img.shape).toEqual([32, 32]);
    expect(img.attrs.frame_time_s).toBeCloseTo(o.breakdown_s.scan!, 12);
    expect((await refused(exec(t, 'acquire_scanned_image', ['bf']))).reason).toBe('UnknownDetector');
    expect((await refused(exec(t, 'acquire_scanned_image', []))).reason).toBe('API_InvalidArgument');
    expect((await refused(exec(t, 'acquire_scanned_image', 'haadf'))).reason).toBe('API_InvalidArgument');
  });

  it('acquire_scanned_image with "eds": an EDX frame in edx_frame_s, with element maps and the HAADF for free', async () => {
    const t = twin();
    await t.instrument.writeAttribute({ device: 'SCAN', attribute: 'imsize', value: 32 });
    const o = await exec(t, 'acquire_scanned_image', ['haadf', 'eds']);
    expect(o.breakdown_s).toEqual({ edx: scenario.instrument.edx_frame_s, control_overhead: expect.any(Number) });
    expect(o.value).toMatch(/^stem_image_HAADF_EDS_/);
    const names = (await t.instrument.getData(o.value as string)).datasets.map((d) => d.name);
    expect(names).toContain('image/HAADF');
    for (const el of scenario.specimen.elements) expect(names).toContain(`image/EDS_${el}`);
  });

  it('takes detector names in any case; "eds" alone records the element maps without the HAADF', async () => {
    const t = twin();
    await t.instrument.writeAttribute({ device: 'SCAN', attribute: 'imsize', value: 16 });
    expect((await exec(t, 'acquire_scanned_image', ['HAADF'])).value).toMatch(/^stem_image_HAADF_\d/);
    const key = (await exec(t, 'acquire_scanned_image', ['eds'])).value as string;
    expect(key).toMatch(/^stem_image_EDS_\d/);
    const names = (await t.instrument.getData(key)).datasets.map((d) => d.name);
    expect(names).not.toContain('image/HAADF');
    expect(names).toContain('image/EDS_background');
    expect((await refused(exec(t, 'acquire_scanned_image', ['haadf', 'HAADF']))).description).toMatch(/listed twice/);
  });

  it('scans only the scan region, at the full frame pixel size', async () => {
    const t = twin();
    await t.instrument.writeAttribute({ device: 'SCAN', attribute: 'imsize', value: 64 });
    await t.instrument.writeAttribute({ device: 'SCAN', attribute: 'scan_region', value: [0.25, 0.5, 0.5, 0.25] });
    const o = await exec(t, 'acquire_scanned_image');
    expect(o.breakdown_s.scan).toBeCloseTo(32 * 16 * 1e-6 + scenario.instrument.haadf_frame_overhead_s, 12);
    const img = dataset(await t.instrument.getData(o.value as string), 'image/HAADF');
    expect(img.shape).toEqual([16, 32]);
    expect(img.values.length).toBe(16 * 32);
  });

  it('maps a region scan onto the same specimen positions as the full frame', async () => {
    const t = twin();
    const p = t.specimen.particles.find((q) => q.radius_m > 15e-9)!;
    await exec(t, 'move_stage', [p.x_m + 20e-9, p.y_m - 30e-9, 0, 0, 0]);
    await exec(t, 'auto_focus');
    await exec(t, 'set_fov', 400e-9);
    await t.instrument.writeAttribute({ device: 'SCAN', attribute: 'imsize', value: 64 });
    await t.instrument.writeAttribute({ device: 'SCAN', attribute: 'dwell_time', value: 1e-4 });
    const argmax = (v: Float64Array, cols: number) => {
      let k = 0;
      for (let i = 1; i < v.length; i++) if (v[i]! > v[k]!) k = i;
      return [Math.floor(k / cols), k % cols];
    };
    const full = dataset(await t.instrument.getData((await exec(t, 'acquire_scanned_image')).value as string), 'image/HAADF');
    await t.instrument.writeAttribute({ device: 'SCAN', attribute: 'scan_region', value: [0.25, 0.25, 0.5, 0.375] });
    const part = dataset(await t.instrument.getData((await exec(t, 'acquire_scanned_image')).value as string), 'image/HAADF');
    expect(part.shape).toEqual([24, 32]);
    const [fi, fj] = argmax(full.values, 64);
    const [pi, pj] = argmax(part.values, 32);
    expect(Math.abs(pi! + 16 - fi!)).toBeLessThanOrEqual(1);
    expect(Math.abs(pj! + 16 - fj!)).toBeLessThanOrEqual(1);
    // The particle sits 20 nm left of and 30 nm below the field centre: pixel size 6.25 nm.
    expect(Math.abs(fj! + 0.5 - (32 - 20 / 6.25))).toBeLessThanOrEqual(1.5);
    expect(Math.abs(fi! + 0.5 - (32 + 30 / 6.25))).toBeLessThanOrEqual(1.5);
  });

  it('acquire_spectrum: an EDX point spectrum in exposure + overhead', async () => {
    covers('instrument', 'acquire_spectrum');
    const t = twin();
    await t.instrument.writeAttribute({ device: 'EDS', attribute: 'exposure_time', value: 2 });
    const o = await exec(t, 'acquire_spectrum', 'eds');
    expect(o.breakdown_s.edx).toBeCloseTo(2 + scenario.instrument.edx_point_overhead_s, 12);
    expect(o.value).toMatch(/^spectrum_eds_/);
    expect(dataset(await t.instrument.getData(o.value as string), 'spectrum').shape).toEqual([4096]);
    const e = await refused(exec(t, 'acquire_spectrum', 'eels'));
    expect(e.reason).toBe('UnknownDetector');
    expect(e.description).toMatch(/acquire_eels_spectrum/);
  });

  it('data attrs carry the real server\'s acquisition_type, upper-case image detectors and the EDS elements', async () => {
    const t = twin();
    await t.instrument.writeAttribute({ device: 'SCAN', attribute: 'imsize', value: 16 });
    const image = await t.instrument.getData((await exec(t, 'acquire_scanned_image', ['haadf', 'eds'])).value as string);
    expect(image.attrs).toMatchObject({ acquisition_type: 'stem_image', detector: 'HAADF_EDS' });
    expect(dataset(image, 'image/HAADF').attrs).toMatchObject({ acquisition_type: 'stem_image', detector: 'HAADF' });
    expect(dataset(image, `image/EDS_${scenario.specimen.elements[0]}`).attrs).toMatchObject({ acquisition_type: 'stem_image', detector: 'EDS' });
    const eds = await t.instrument.getData((await exec(t, 'acquire_spectrum', 'eds')).value as string);
    const real = { acquisition_type: 'spectrum', detector: 'eds', elements: scenario.specimen.elements };
    expect(eds.attrs).toMatchObject(real);
    expect(dataset(eds, 'spectrum').attrs).toMatchObject(real);
    const eels = await t.instrument.getData((await exec(t, 'acquire_eels_spectrum', undefined, 'EELS')).value as string);
    expect(eels.attrs).toMatchObject({ acquisition_type: 'spectrum', detector: 'eels' });
    expect(dataset(eels, 'spectrum').attrs).toMatchObject({ acquisition_type: 'spectrum', detector: 'eels' });
  });

  it('acquire_camera_image: a camera frame at the parked beam', async () => {
    covers('instrument', 'acquire_camera_image');
    const t = twin();
    const o = await exec(t, 'acquire_camera_image');
    // The CAMERA defaults: 1 ms, 1 frame, the full 1024 px sensor.
    expect(o.breakdown_s.scan).toBeCloseTo(1e-3 + LatencyModel.CAMERA_FULL_READOUT_s, 15);
    const full = await t.instrument.getData(o.value as string);
    expect(dataset(full, 'image/camera').shape).toEqual([1024, 1024]);
    expect(full.attrs).toMatchObject({ acquisition_type: 'camera_image', detector: 'BM-Ceta' });
    await t.instrument.writeAttribute({ device: 'CAMERA', attribute: 'exposure_time', value: 0.05 });
    await t.instrument.writeAttribute({ device: 'CAMERA', attribute: 'frame_combining', value: 3 });
    await t.instrument.writeAttribute({ device: 'CAMERA', attribute: 'imsize', value: 512 });
    await t.instrument.writeAttribute({ device: 'CAMERA', attribute: 'readout_area', value: 'Half' });
    const q = await exec(t, 'acquire_camera_image');
    expect(q.breakdown_s.scan).toBeCloseTo(3 * 0.05 + 0.25 * LatencyModel.CAMERA_FULL_READOUT_s, 15);
    const half = dataset(await t.instrument.getData(q.value as string), 'image/camera');
    expect(half.shape).toEqual([256, 256]);
    expect(half.attrs).toMatchObject({ readout_area: 'Half', frame_combining: 3, exposure_time_s: 0.05, detector: 'BM-Ceta' });
    // Three 50 ms frames collect 150 x the electrons of one 1 ms frame, on a quarter of the pixels.
    const sum = (v: Float64Array) => v.reduce((s, x) => s + x, 0);
    expect(sum(half.values) / sum(dataset(full, 'image/camera').values)).toBeCloseTo(150, -1);
  });

  it('get_parameters: the system state as JSON', async () => {
    covers('instrument', 'get_parameters');
    const t = twin();
    await exec(t, 'set_column_valves', 'close');
    const p = JSON.parse((await exec(t, 'get_parameters')).value as string);
    expect(p).toMatchObject({ state: 'ON', column_valves: 'closed', optical_mode: 'STEM', beam_blanked: false, high_tension_V: 200000 });
    expect(p.fov_m).toBeCloseTo(30e-6, 15);
    expect(p.deflectors.image_shift_m).toEqual([0, 0]);
    expect(p.vacuum.state).toBe('valves closed');
    // The real DigitalTwin's keys.
    expect(p).toMatchObject({ stem_mode: true, defocus_m: 0, scan_detectors: ['haadf'], spectrum_detectors: ['eds'], stage_position: [0, 0, 0, 0, 0], beam_position: [0.5, 0.5], imsize: 512 });
    expect(typeof p.manufacturer).toBe('string');
    expect(p.camera_detectors).toContain('BM-Ceta');
    expect(p.device_proxies).toMatchObject({ scan: 'asyncroscopy/scan/default', stage: 'asyncroscopy/stage/default', corrector: 'asyncroscopy/corrector/default', eels: 'asyncroscopy/eels/default' });
    await exec(t, 'move_stage', [1e-5, 0, 0, 0, 0]);
    const moved = JSON.parse((await exec(t, 'get_parameters')).value as string);
    expect(moved.stage_position).toEqual([f(1e-5), 0, 0, 0, 0]);
    expect(moved.aberrations_m.C1).toEqual(t.twin.state.aberrations.C1);
  });

  it('set_column_valves: closed valves refuse acquisitions until opened', async () => {
    covers('instrument', 'set_column_valves');
    const t = twin();
    await exec(t, 'set_column_valves', 'close');
    expect((await refused(exec(t, 'acquire_scanned_image'))).reason).toBe('ColumnValvesClosed');
    expect((await refused(exec(t, 'set_column_valves', 'shut'))).description).toMatch(/"open" or "close"/);
    await exec(t, 'set_column_valves', 'open');
    expect(t.twin.state.column_valves).toBe('open');
  });

  it('set_screen_current / get_screen_current: the beam current of later acquisitions', async () => {
    covers('instrument', 'set_screen_current', 'get_screen_current');
    const t = twin();
    expect((await exec(t, 'get_screen_current')).value).toBe(scenario.instrument.beam_current_pA);
    await exec(t, 'set_screen_current', 200);
    expect((await exec(t, 'get_screen_current')).value).toBe(200);
    await t.instrument.writeAttribute({ device: 'SCAN', attribute: 'imsize', value: 16 });
    const key = (await exec(t, 'acquire_scanned_image')).value as string;
    expect(dataset(await t.instrument.getData(key), 'image/HAADF').attrs.beam_current_pA).toBe(200);
    expect((await refused(exec(t, 'set_screen_current', 0))).reason).toBe('OutOfRange');
  });

  it('Disconnect: the device goes OFF and refuses every later command', async () => {
    covers('instrument', 'Disconnect');
    const t = twin();
    await exec(t, 'Disconnect');
    expect(t.twin.state.device).toBe('OFF');
    const e = await refused(exec(t, 'get_stage'));
    expect(e.reason).toBe('DeviceOff');
    expect((await refused(t.instrument.writeAttribute({ device: 'SCAN', attribute: 'imsize', value: 64 }))).reason).toBe('DeviceOff');
    expect(await t.instrument.readAttribute('SCAN', 'imsize')).toBe(512);
  });

  it('Connect: an OFF device turns ON again and accepts commands', async () => {
    covers('instrument', 'Connect');
    const t = twin();
    await exec(t, 'Connect');
    expect(t.twin.state.device).toBe('ON');
    await exec(t, 'Disconnect');
    expect((await refused(exec(t, 'get_stage'))).description).toMatch(/Connect/);
    await exec(t, 'Connect');
    expect(t.twin.state.device).toBe('ON');
    expect((await exec(t, 'get_stage')).value).toHaveLength(5);
  });

  it('EELS: initialize, acquire (exposure x frames + overhead), dispersions and apertures', async () => {
    covers('EELS', 'initialize_eels', 'acquire_eels_spectrum', 'get_eels_dispersion', 'set_eels_dispersion', 'get_available_dispersions');
    covers('EELS', 'get_eels_aperture', 'set_eels_aperture', 'get_available_apertures');
    const t = twin();
    expect((await exec(t, 'initialize_eels', undefined, 'EELS')).value).toBe(true);
    await t.instrument.writeAttribute({ device: 'EELS', attribute: 'exposure_time', value: 0.5 });
    await t.instrument.writeAttribute({ device: 'EELS', attribute: 'number_of_frames', value: 3 });
    const o = await exec(t, 'acquire_eels_spectrum', undefined, 'EELS');
    expect(o.breakdown_s.eels).toBeCloseTo(1.5 + scenario.instrument.eels_overhead_s, 12);
    expect(o.value).toMatch(/^spectrum_eels_/);
    expect(dataset(await t.instrument.getData(o.value as string), 'spectrum').shape).toEqual([2048]);

    expect((await exec(t, 'get_available_dispersions', undefined, 'EELS')).value).toBe(EELS_DISPERSIONS_eV.map((d, i) => `${i}: ${d} eV/channel`).join(', '));
    expect((await exec(t, 'get_eels_dispersion', undefined, 'EELS')).value).toEqual([0, f(EELS_DEFAULT_DISPERSION_eV)]);
    await exec(t, 'set_eels_dispersion', 1, 'EELS');
    expect((await exec(t, 'get_eels_dispersion', undefined, 'EELS')).value).toEqual([1, f(EELS_DISPERSIONS_eV[1])]);
    const wide = (await exec(t, 'acquire_eels_spectrum', undefined, 'EELS')).value as string;
    expect(dataset(await t.instrument.getData(wide), 'spectrum').attrs.dispersion_eV).toBe(EELS_DISPERSIONS_eV[1]);
    expect((await refused(exec(t, 'set_eels_dispersion', 99, 'EELS'))).reason).toBe('OutOfRange');

    expect((await exec(t, 'get_available_apertures', undefined, 'EELS')).value).toMatch(/^0: 1 mm, 1: 2.5 mm, 2: 5 mm$/);
    expect((await exec(t, 'get_eels_aperture', undefined, 'EELS')).value).toBe(EELS_APERTURES[2].name);
    await exec(t, 'set_eels_aperture', 0, 'EELS');
    expect((await exec(t, 'get_eels_aperture', undefined, 'EELS')).value).toBe('1 mm');
    expect((await refused(exec(t, 'set_eels_aperture', 0.5, 'EELS'))).reason).toBe('API_InvalidArgument');
  });

  it('a smaller EELS aperture collects fewer counts', async () => {
    const t = twin();
    const counts = async () => {
      const key = (await exec(t, 'acquire_eels_spectrum', undefined, 'EELS')).value as string;
      return dataset(await t.instrument.getData(key), 'spectrum').values.reduce((s, x) => s + x, 0);
    };
    const big = await counts();
    await exec(t, 'set_eels_aperture', 0, 'EELS');
    expect(await counts()).toBeLessThan(big * 0.5);
  });

  it('unknown commands and devices are refused with what exists', async () => {
    const t = twin();
    const e = await refused(exec(t, 'take_picture'));
    expect(e.reason).toBe('API_CommandNotFound');
    expect(e.description).toMatch(/acquire_scanned_image/);
    expect((await refused(exec(t, 'acquire_eels_spectrum'))).description).toMatch(/EELS device/);
    expect((await refused(t.instrument.execute({ device: 'LASER' as DeviceName, command: 'fire' }))).reason).toBe('API_DeviceNotFound');
  });

  it('State / Status on every device: the instrument ON, OFF or FAULT, support devices mirror its FAULT; always answered', async () => {
    const t = twin();
    for (const device of DEVICES) covers(device, 'State', 'Status');
    for (const device of DEVICES) {
      const o = await exec(t, 'State', undefined, device);
      expect(o.value).toBe('ON');
      expect(o.breakdown_s).toEqual({ control_overhead: expect.any(Number) });
      expect((await exec(t, 'Status', undefined, device)).value).toBe('The device is in ON state.');
    }
    await exec(t, 'Disconnect');
    expect((await exec(t, 'State')).value).toBe('OFF');
    expect((await exec(t, 'Status')).value).toBe('The device is in OFF state.');
    expect((await exec(t, 'State', undefined, 'SCAN')).value).toBe('ON');
    await exec(t, 'Connect');
    t.twin.fault('vacuum interlock');
    for (const device of DEVICES) {
      expect((await exec(t, 'State', undefined, device)).value).toBe('FAULT');
      expect((await exec(t, 'Status', undefined, device)).value).toMatch(/^The device is in FAULT state: .*vacuum interlock\.$/);
    }
    expect((await refused(exec(t, 'get_info', undefined, 'CORRECTOR'))).reason).toBe('DeviceFault');
    const before = t.twin.state;
    expect((await refused(exec(t, 'State', 1))).reason).toBe('API_InvalidArgument');
    expect(t.twin.state).toBe(before);
  });

  it('DATA commands are refused in-process (served by stem-twin serve), DATA State/Status answered', async () => {
    const t = twin();
    const served = COMMANDS.filter((c) => c.device === 'DATA' && c.name !== 'State' && c.name !== 'Status');
    expect(served.length).toBeGreaterThan(0);
    for (const c of served) {
      covers('DATA', c.name);
      const before = t.twin.state;
      const e = await refused(exec(t, c.name, c.input === 'DevVoid' ? undefined : '{}', 'DATA'));
      expect(e.reason).toBe('API_DeviceNotServed');
      expect(e.origin).toBe(`DATA.${c.name}`);
      expect(e.description).toMatch(/stem-twin serve/);
      expect(e.description).toMatch(/getData/);
      expect(t.twin.state).toBe(before);
    }
  });

  it('set_diffraction_shift / get_diffraction_shift: float32 round trip, range-checked', async () => {
    covers('instrument', 'set_diffraction_shift', 'get_diffraction_shift');
    const t = twin();
    expect((await exec(t, 'get_diffraction_shift')).value).toEqual([0, 0]);
    const o = await exec(t, 'set_diffraction_shift', [1e-3, -2e-3]);
    expect(o.breakdown_s).toEqual({ control_overhead: expect.any(Number) });
    expect((await exec(t, 'get_diffraction_shift')).value).toEqual([f(1e-3), f(-2e-3)]);
    const before = t.twin.state;
    const e = await refused(exec(t, 'set_diffraction_shift', [0.2, 0]));
    expect(e.reason).toBe('OutOfRange');
    expect(e.description).toMatch(/diffraction shift x/);
    expect((await refused(exec(t, 'set_diffraction_shift', [0]))).reason).toBe('API_InvalidArgument');
    expect(t.twin.state).toBe(before);
  });

  it('set_screen: an inserted screen stops the beam, acquisitions are refused until it is retracted', async () => {
    covers('instrument', 'set_screen');
    const t = twin();
    await exec(t, 'set_screen', 'inserted');
    expect(t.twin.state.screen).toBe('inserted');
    for (const [c, a, d] of [['acquire_scanned_image', undefined], ['acquire_spectrum', 'eds'], ['auto_focus'], ['acquire_eels_spectrum', undefined, 'EELS'], ['acquire_camera_image'], ['measure_c1a1', undefined, 'CORRECTOR']] as const) {
      const before = t.twin.state;
      const e = await refused(exec(t, c, a, d as DeviceName | undefined));
      expect(e.reason).toBe('ScreenInserted');
      expect(e.description).toMatch(/set_screen\("retracted"\)/);
      expect(t.twin.state).toBe(before);
    }
    const before = t.twin.state;
    expect((await refused(exec(t, 'set_screen', 'out'))).description).toMatch(/"inserted" or "retracted"/);
    expect(t.twin.state).toBe(before);
    await exec(t, 'set_screen', 'retracted');
    expect(JSON.parse((await exec(t, 'get_parameters')).value as string).screen).toBe('retracted');
    await t.instrument.writeAttribute({ device: 'SCAN', attribute: 'imsize', value: 16 });
    expect((await exec(t, 'acquire_scanned_image')).value).toMatch(/^stem_image_HAADF_/);
  });

  it('calibrate_screen_current: takes SCREEN_CALIBRATION_s and records when; needs the beam', async () => {
    covers('instrument', 'calibrate_screen_current');
    const t = twin();
    expect(t.twin.state.screen_current_calibrated_s).toBeNull();
    const o = await exec(t, 'calibrate_screen_current');
    expect(o.breakdown_s.settle_retune).toBe(LatencyModel.SCREEN_CALIBRATION_s);
    expect(o.end_s - o.start_s).toBeGreaterThan(LatencyModel.SCREEN_CALIBRATION_s);
    expect(t.twin.state.screen_current_calibrated_s).toBe(o.end_s);
    await exec(t, 'set_screen', 'inserted');
    await exec(t, 'calibrate_screen_current');
    await exec(t, 'blank_beam');
    const before = t.twin.state;
    expect((await refused(exec(t, 'calibrate_screen_current'))).reason).toBe('BeamBlanked');
    expect(t.twin.state).toBe(before);
  });

  it('get_image_data_cached: the index-th latest image as DevEncoded [format, base64 float32 LE]', async () => {
    covers('instrument', 'get_image_data_cached');
    const t = twin();
    expect((await refused(exec(t, 'get_image_data_cached', 0))).description).toMatch(/no image has been acquired/);
    await t.instrument.writeAttribute({ device: 'SCAN', attribute: 'imsize', value: 16 });
    const first = (await exec(t, 'acquire_scanned_image')).value as string;
    await t.instrument.writeAttribute({ device: 'SCAN', attribute: 'scan_region', value: [0, 0, 1, 0.5] });
    const second = (await exec(t, 'acquire_scanned_image')).value as string;
    await exec(t, 'acquire_spectrum', 'eds'); // no image: not cached
    const decode = ([format, data]: [string, string]) => {
      const bytes = Buffer.from(data, 'base64');
      return { format, values: Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(4 * i)) };
    };
    const o = await exec(t, 'get_image_data_cached', 0);
    expect(o.breakdown_s).toEqual({ control_overhead: expect.any(Number) });
    const latest = decode(o.value as [string, string]);
    expect(latest.format).toBe('float32 LE 8x16');
    expect(latest.values).toEqual(Array.from(dataset(await t.instrument.getData(second), 'image/HAADF').values, f));
    const older = decode((await exec(t, 'get_image_data_cached', 1)).value as [string, string]);
    expect(older.format).toBe('float32 LE 16x16');
    expect(older.values).toEqual(Array.from(dataset(await t.instrument.getData(first), 'image/HAADF').values, f));
    const before = t.twin.state;
    const e = await refused(exec(t, 'get_image_data_cached', 2));
    expect(e.reason).toBe('OutOfRange');
    expect(e.description).toMatch(/0\.\.1/);
    expect((await refused(exec(t, 'get_image_data_cached', -1))).reason).toBe('OutOfRange');
    expect((await refused(exec(t, 'get_image_data_cached', 0.5))).reason).toBe('API_InvalidArgument');
    expect(t.twin.state).toBe(before);
    for (let i = 0; i < IMAGE_CACHE_SIZE; i++) await exec(t, 'acquire_scanned_image');
    await exec(t, 'get_image_data_cached', IMAGE_CACHE_SIZE - 1);
    expect((await refused(exec(t, 'get_image_data_cached', IMAGE_CACHE_SIZE))).reason).toBe('OutOfRange');
  });

  it('acquire_scanned_data_advanced is refused as on the ElectronMicroscope base class', async () => {
    covers('instrument', 'acquire_scanned_data_advanced');
    const t = twin();
    const before = t.twin.state;
    const e = await refused(exec(t, 'acquire_scanned_data_advanced'));
    expect(e.reason).toBe('PyDs_PythonError');
    expect(e.description).toMatch(/^NotImplementedError: /);
    expect(e.timing!.breakdown_s).toEqual({ control_overhead: expect.any(Number) });
    expect(t.twin.state).toBe(before);
  });

  it('corrector get_info / reconnect: JSON-RPC replies numbered from 1, again from 1 after reconnect', async () => {
    covers('CORRECTOR', 'get_info', 'reconnect');
    const t = twin();
    const info = JSON.parse((await exec(t, 'get_info', undefined, 'CORRECTOR')).value as string);
    expect(info).toMatchObject({ jsonrpc: '2.0', id: 1, result: { name: 'DigitalTwinCorrector', device: tangoDeviceName('CORRECTOR') } });
    expect(info.result.aberrations).toEqual(expect.arrayContaining(['C1', 'A1', 'B2', 'A2', 'C3', 'S3', 'A3', 'WD']));
    expect(JSON.parse((await exec(t, 'get_info', undefined, 'CORRECTOR')).value as string).id).toBe(2);
    const o = await exec(t, 'reconnect', undefined, 'CORRECTOR');
    expect(o.value).toBeNull();
    expect(o.breakdown_s.control_overhead).toBeGreaterThan(LatencyModel.CORRECTOR_RECONNECT_s);
    expect(JSON.parse((await exec(t, 'get_info', undefined, 'CORRECTOR')).value as string).id).toBe(1);
    const before = t.twin.state;
    expect((await refused(exec(t, 'reconnect', 'now', 'CORRECTOR'))).reason).toBe('API_InvalidArgument');
    expect(t.twin.state).toBe(before);
  });

  it('a stage move shows up as C1/A1 drift (its own Rng stream); measure_c1a1 reads it in a few s', async () => {
    covers('CORRECTOR', 'measure_c1a1');
    const t = twin(21);
    const c1a1 = async () => {
      const o = await exec(t, 'measure_c1a1', undefined, 'CORRECTOR');
      return { o, r: JSON.parse(o.value as string).result as { C1: number[]; A1: number[] } };
    };
    const { o, r } = await c1a1();
    expect(o.breakdown_s.settle_retune).toBe(LatencyModel.MEASURE_C1A1_s);
    expect(r).toEqual({ C1: [0], A1: [0, 0] });
    await exec(t, 'move_stage', [10e-6, 0, 0, 0, 0]);
    const expected = new AberrationDrift(new Rng(21).fork('aberrations')).draw();
    const moved = (await c1a1()).r;
    expect(moved.C1).toEqual(expected.C1);
    expect(moved.A1).toEqual(expected.A1);
    expect(moved.C1[0]).toBeGreaterThanOrEqual(STAGE_MOVE_DRIFT_m.C1.min);
    expect(Math.hypot(moved.A1[0]!, moved.A1[1]!)).toBeGreaterThanOrEqual(STAGE_MOVE_DRIFT_m.A1.min * (1 - 1e-12));
    expect(t.twin.state.tuned).toBe(false);
    // Drift accumulates; a move to where the stage is adds none.
    await exec(t, 'move_stage', [10e-6, 0, 0, 0, 0]);
    expect(t.twin.state.aberrations.C1).toEqual(expected.C1);
    await exec(t, 'move_stage', [0, 0, 0, 0, 0]);
    expect(t.twin.state.aberrations.C1[0]).toBeGreaterThan(expected.C1[0] + STAGE_MOVE_DRIFT_m.C1.min * (1 - 1e-12));
    await exec(t, 'blank_beam');
    const before = t.twin.state;
    expect((await refused(exec(t, 'measure_c1a1', undefined, 'CORRECTOR'))).reason).toBe('BeamBlanked');
    expect(t.twin.state).toBe(before);
  });

  it('acquire_tableau: every coefficient, in TABLEAU_s of instrument time; bad type or angle refused', async () => {
    covers('CORRECTOR', 'acquire_tableau');
    const t = twin();
    const o = await exec(t, 'acquire_tableau', 'Fast 18', 'CORRECTOR');
    expect(o.breakdown_s.settle_retune).toBe(LatencyModel.TABLEAU_s.Fast);
    const reply = JSON.parse(o.value as string);
    expect(reply).toMatchObject({ jsonrpc: '2.0', id: 1, result: { type: 'Fast', angle_mrad: 18 } });
    expect(Object.keys(reply.result.aberrations)).toEqual([...ABERRATION_NAMES]);
    expect(reply.result.aberrations.B2).toEqual([20e-9, 0]);
    expect((await exec(t, 'acquire_tableau', 'enhanced 30', 'CORRECTOR')).breakdown_s.settle_retune).toBe(LatencyModel.TABLEAU_s.Enhanced);
    const before = t.twin.state;
    for (const [arg, reason, text] of [
      ['Slow 18', 'API_InvalidArgument', /types: Fast, Standard, Enhanced/],
      ['Fast', 'API_InvalidArgument', /"Fast 18"/],
      ['Fast ten', 'API_InvalidArgument', /"Fast 18"/],
      ['Fast 80', 'OutOfRange', /\(0, 50\] mrad/],
      ['', 'API_InvalidArgument', /empty/],
      [18, 'API_InvalidArgument', /must be a string/],
    ] as const) {
      const e = await refused(exec(t, 'acquire_tableau', arg, 'CORRECTOR'));
      expect(e.reason).toBe(reason);
      expect(e.description).toMatch(text);
    }
    expect(t.twin.state).toBe(before);
  });

  it('correct_aberration subtracts; C1 and A1 below the threshold retune the probe; bad names or counts change nothing', async () => {
    covers('CORRECTOR', 'correct_aberration');
    const t = twin();
    await exec(t, 'move_stage', [10e-6, 0, 0, 0, 0]);
    const { C1, A1 } = t.twin.state.aberrations;
    const o = await exec(t, 'correct_aberration', `C1 ${C1[0]}`, 'CORRECTOR');
    expect(o.breakdown_s.settle_retune).toBe(LatencyModel.CORRECTION_s);
    expect(JSON.parse(o.value as string)).toEqual({ jsonrpc: '2.0', id: 1, result: { name: 'C1', value: [0] } });
    expect(t.twin.state.tuned).toBe(false); // A1 is still there
    const tuning = t.twin.state.tuning_changed_s;
    const a = await exec(t, 'correct_aberration', `A1 ${A1[0]} ${A1[1]}`, 'CORRECTOR');
    expect(t.twin.state.aberrations.A1).toEqual([0, 0]);
    expect(t.twin.state.tuned).toBe(true);
    expect(t.twin.state.tuning_changed_s).toBe(a.end_s);
    expect(a.end_s).toBeGreaterThan(tuning);
    await exec(t, 'correct_aberration', 'B2 5e-9 -1e-9', 'CORRECTOR');
    expect(t.twin.state.aberrations.B2[0]).toBeCloseTo(15e-9, 22);
    expect(t.twin.state.aberrations.B2[1]).toBe(1e-9);
    const before = t.twin.state;
    for (const [arg, reason, text] of [
      ['Z9 1e-9', 'UnknownAberration', /knows WD, C1, A1/],
      ['C1 1e-9 2e-9', 'API_InvalidArgument', /"C1 <value>"/],
      ['A1 1e-9', 'API_InvalidArgument', /"A1 <x> <y>"/],
      ['A1 1e-9 abc', 'API_InvalidArgument', /"A1 <x> <y>"/],
      ['   ', 'API_InvalidArgument', /empty/],
    ] as const) {
      const e = await refused(exec(t, 'correct_aberration', arg, 'CORRECTOR'));
      expect(e.reason).toBe(reason);
      expect(e.description).toMatch(text);
    }
    expect(t.twin.state).toBe(before);
  });

  it('get_aberrations_coeff_sim / set_aberrations_coeff_sim: JSON by name; left out = default; unknown names refused', async () => {
    covers('CORRECTOR', 'get_aberrations_coeff_sim', 'set_aberrations_coeff_sim');
    const t = twin();
    const get = async () => JSON.parse((await exec(t, 'get_aberrations_coeff_sim', undefined, 'CORRECTOR')).value as string);
    expect(await get()).toEqual(Object.fromEntries(ABERRATIONS.map((a) => [a.name, [...a.default]])));
    const o = await exec(t, 'set_aberrations_coeff_sim', JSON.stringify({ C1: [40e-9], A3: [1e-6, 2e-6] }), 'CORRECTOR');
    expect(o.value).toBeNull();
    expect(o.breakdown_s).toEqual({ control_overhead: expect.any(Number) });
    const set = await get();
    expect(set.C1).toEqual([40e-9]);
    expect(set.A3).toEqual([1e-6, 2e-6]);
    expect(set.B2).toEqual([20e-9, 0]);
    expect(t.twin.state.tuned).toBe(false);
    await exec(t, 'set_aberrations_coeff_sim', JSON.stringify({ C1: 1e-10 }), 'CORRECTOR');
    expect(t.twin.state.tuned).toBe(true);
    expect((await get()).A3).toEqual([0.5e-6, 0]);
    const before = t.twin.state;
    for (const [arg, reason, text] of [
      ['{"C7": [1]}', 'UnknownAberration', /no aberration "C7"/],
      ['{"A1": [1e-9]}', 'API_InvalidArgument', /A1 .* takes 2 values/],
      ['{"C1": [null]}', 'API_InvalidArgument', /C1 .* takes 1 value/],
      ['[1, 2]', 'API_InvalidArgument', /JSON object/],
      ['{C1: 1}', 'API_InvalidArgument', /JSON object/],
    ] as const) {
      const e = await refused(exec(t, 'set_aberrations_coeff_sim', arg, 'CORRECTOR'));
      expect(e.reason).toBe(reason);
      expect(e.description).toMatch(text);
    }
    expect(t.twin.state).toBe(before);
  });

  it('covers every command of the protocol', () => {
    expect([...tested].sort()).toEqual(COMMANDS.map((c) => `${c.device}.${c.name}`).sort());
  });
});

describe('instrument attributes', () => {
  const good: Record<string, unknown> = {
    'SCAN.dwell_time': 3e-6,
    'SCAN.imsize': 128,
    'SCAN.scan_region': [0.1, 0.2, 0.5, 0.5],
    'SCAN.output_format': '.tiff',
    'EDS.exposure_time': 2.5,
    'EELS.exposure_time': 0.2,
    'EELS.number_of_frames': 4,
    'EELS.offset': -5,
    'STAGE.position': [1e-5, -2e-5, 1e-6, 3, 0],
    'STAGE.x': 2e-5,
    'STAGE.y': -4e-5,
    'STAGE.z': 5e-6,
    'STAGE.alpha': -10,
    'STAGE.beta': 0,
    'STAGE.beta_tilt_enabled': true,
    'CAMERA.exposure_time': 0.02,
    'CAMERA.imsize': 256,
    'CAMERA.readout_area': 'Quarter',
    'CAMERA.camera_detector': 'BM-Ceta',
    'CAMERA.frame_combining': 4,
  };
  const bad: Record<string, unknown> = {
    'SCAN.dwell_time': -1e-6,
    'SCAN.imsize': 100.5,
    'SCAN.scan_region': [0.6, 0, 0.5, 1],
    'SCAN.output_format': '.png',
    'EDS.exposure_time': 101,
    'EELS.exposure_time': 6,
    'EELS.number_of_frames': 0,
    'EELS.offset': 'zero',
    'STAGE.position': [1e-5, 0, 0],
    'STAGE.x': 2e-3,
    'STAGE.y': NaN,
    'STAGE.z': 1,
    'STAGE.alpha': 80,
    'STAGE.beta': 5,
    'STAGE.beta_tilt_enabled': 'yes',
    'CAMERA.exposure_time': 11,
    'CAMERA.imsize': 8,
    'CAMERA.readout_area': 'Eighth',
    'CAMERA.camera_detector': 'Falcon',
    'CAMERA.frame_combining': 0,
  };

  it('lists a good and a bad value for every attribute', () => {
    const all = ATTRIBUTES.map((a) => `${a.device}.${a.name}`).sort();
    expect(Object.keys(good).sort()).toEqual(all);
    expect(Object.keys(bad).sort()).toEqual(all);
  });

  for (const a of ATTRIBUTES) {
    const key = `${a.device}.${a.name}`;
    it(`${key}: write then read back; a bad value is refused and changes nothing`, async () => {
      const t = twin();
      const before = t.twin.state;
      const e = await refused(t.instrument.writeAttribute({ device: a.device, attribute: a.name, value: bad[key] }));
      expect(['API_InvalidArgument', 'OutOfRange']).toContain(e.reason);
      expect(e.origin).toBe(key);
      expect(t.twin.state).toBe(before);
      const o = await t.instrument.writeAttribute({ device: a.device, attribute: a.name, value: good[key] });
      expect(o.value).toBeNull();
      expect(o.breakdown_s.control_overhead).toBeGreaterThan(0);
      expect(await t.instrument.readAttribute(a.device, a.name)).toEqual(good[key]);
    });
  }

  it('writing a STAGE attribute moves the stage like move_stage (travel, settle, detune)', async () => {
    const t = twin();
    const o = await t.instrument.writeAttribute({ device: 'STAGE', attribute: 'x', value: 20e-6 });
    expect(o.breakdown_s.stage_travel).toBeCloseTo(2, 12);
    expect(o.breakdown_s.settle_retune).toBe(2);
    expect(t.twin.state.stage).toEqual([20e-6, 0, 0, 0, 0]);
    expect(t.twin.state.tuned).toBe(false);
  });

  it('the .tiff output format names scanned images .tiff', async () => {
    const t = twin();
    await t.instrument.writeAttribute({ device: 'SCAN', attribute: 'output_format', value: '.tiff' });
    await t.instrument.writeAttribute({ device: 'SCAN', attribute: 'imsize', value: 16 });
    const key = (await exec(t, 'acquire_scanned_image')).value as string;
    expect(key).toMatch(/\.tiff$/);
    expect((await t.instrument.getData(key)).format).toBe('tiff');
  });

  it('unknown attributes are refused, naming the ones the device has', async () => {
    const t = twin();
    const e = await refused(t.instrument.writeAttribute({ device: 'SCAN', attribute: 'exposure_time', value: 1 }));
    expect(e.reason).toBe('API_AttributeNotFound');
    expect(e.description).toMatch(/dwell_time/);
    expect(e.description).toMatch(/EDS, EELS/);
    await expect(t.instrument.readAttribute('CAMERA', 'dwell_time')).rejects.toMatchObject({ reason: 'API_AttributeNotFound' });
  });
});

describe('the beam, the clock and telemetry', () => {
  it('serializes concurrent callers FIFO on the one beam and records the holder', async () => {
    const t = twin();
    const a = t.twin.execute({ command: 'move_stage', args: [10e-6, 0, 0, 0, 0] }, 'alice');
    const b = t.twin.execute({ command: 'get_stage' }, 'bob');
    const both = t.sim.runUntilSettled(Promise.all([a, b]));
    const [oa, ob] = await both;
    expect(ob.start_s).toBe(oa.end_s);
    expect(ob.value).toEqual([f(10e-6), 0, 0, 0, 0]);
    const starts = t.records.filter((r) => r.type === 'command-start');
    expect(starts.map((r) => r.type === 'command-start' && r.client)).toEqual(['alice', 'bob']);
  });

  it('names the command holding the beam while it runs', async () => {
    const t = twin();
    const p = t.twin.execute({ command: 'auto_focus' }, 'alice');
    let holder: unknown;
    t.sim.schedule(1, () => (holder = t.twin.beam.holder));
    await t.sim.runUntilSettled(p);
    expect(String(holder)).toMatch(/alice: DigitalTwin.auto_focus/);
  });

  it('charges a refused command its round trip and leaves the state alone', async () => {
    const t = twin();
    const before = t.twin.state;
    const t0 = await t.instrument.now_s();
    await refused(exec(t, 'move_stage', [5e-3, 0, 0, 0, 0]));
    const t1 = await t.instrument.now_s();
    expect(t1 - t0).toBeGreaterThanOrEqual(0.01);
    expect(t1 - t0).toBeLessThan(0.03);
    expect(t.twin.state).toBe(before);
    const end = t.records.at(-1)!;
    expect(end).toMatchObject({ type: 'command-end', ok: false, error: { reason: 'OutOfRange' } });
  });

  it('emits command-start, state patches, acquisition and command-end records in order', async () => {
    const t = twin();
    await t.instrument.writeAttribute({ device: 'SCAN', attribute: 'imsize', value: 16 });
    const o = await exec(t, 'acquire_scanned_image');
    await exec(t, 'move_stage', [1e-5, 0, 0, 0, 0]);
    const types = t.records.map((r) => r.type);
    expect(types).toEqual(['command-start', 'state', 'command-end', 'command-start', 'acquisition', 'command-end', 'command-start', 'state', 'command-end']);
    const acq = t.records[4]!;
    expect(acq).toEqual({ type: 'acquisition', t_s: o.end_s, key: o.value, kind: 'haadf' });
    const state = t.records[7]!;
    expect(state.type === 'state' && state.patches.map((p) => p.path.join('.'))).toEqual(expect.arrayContaining(['stage', 'tuned', 'tuning_changed_s']));
    const end = t.records[5]!;
    expect(end).toMatchObject({ type: 'command-end', seq: 2, start_s: o.start_s, end_s: o.end_s, ok: true, breakdown_s: o.breakdown_s });
  });

  it('fault() refuses commands until clearFault()', async () => {
    const t = twin();
    t.twin.fault('stage encoder error');
    const e = await refused(exec(t, 'get_stage'));
    expect(e.reason).toBe('DeviceFault');
    expect(e.description).toMatch(/stage encoder error/);
    t.twin.clearFault();
    expect((await exec(t, 'get_stage')).value).toEqual([0, 0, 0, 0, 0]);
    await exec(t, 'Disconnect');
    t.twin.fault('late alarm');
    t.twin.clearFault();
    expect(t.twin.state.device).toBe('OFF');
  });

  it('the in-process adapter refuses calls after close and reads unknown keys with a clear error', async () => {
    const t = twin();
    await expect(t.instrument.getData('stem_image_HAADF_x.h5')).rejects.toMatchObject({ reason: 'API_DataNotFound' });
    await t.instrument.close();
    await expect(exec(t, 'get_stage')).rejects.toMatchObject({ reason: 'API_ConnectionClosed' });
  });
});

describe('detuning after a stage move', () => {
  it('degrades the HAADF signal until auto_focus', async () => {
    const t = twin();
    await t.instrument.writeAttribute({ device: 'SCAN', attribute: 'imsize', value: 64 });
    await t.instrument.writeAttribute({ device: 'SCAN', attribute: 'dwell_time', value: 1e-5 });
    await exec(t, 'move_stage', [5e-6, 5e-6, 0, 0, 0]);
    const image = async () => dataset(await t.instrument.getData((await exec(t, 'acquire_scanned_image')).value as string), 'image/HAADF');
    const detuned = await image();
    await exec(t, 'auto_focus');
    const tuned = await image();
    const sum = (v: Float64Array) => v.reduce((s, x) => s + x, 0);
    const max = (v: Float64Array) => v.reduce((m, x) => Math.max(m, x), 0);
    expect(sum(detuned.values)).toBeLessThan(sum(tuned.values));
    expect(max(detuned.values)).toBeLessThan(max(tuned.values));
    const keyAttrs = (await t.instrument.getData((await exec(t, 'acquire_scanned_image')).value as string)).attrs;
    expect(keyAttrs.tuned).toBe(true);
  });
});

describe('retuning through the corrector', () => {
  it('correcting the measured C1 and A1 restores the tuned HAADF signal, as auto_focus does', async () => {
    const t = twin();
    await t.instrument.writeAttribute({ device: 'SCAN', attribute: 'imsize', value: 64 });
    await t.instrument.writeAttribute({ device: 'SCAN', attribute: 'dwell_time', value: 1e-5 });
    await exec(t, 'move_stage', [5e-6, 5e-6, 0, 0, 0]);
    const sum = async () => dataset(await t.instrument.getData((await exec(t, 'acquire_scanned_image')).value as string), 'image/HAADF').values.reduce((s, x) => s + x, 0);
    const detuned = await sum();
    const { C1, A1 } = JSON.parse((await exec(t, 'measure_c1a1', undefined, 'CORRECTOR')).value as string).result;
    await exec(t, 'correct_aberration', `C1 ${C1[0]}`, 'CORRECTOR');
    await exec(t, 'correct_aberration', `A1 ${A1[0]} ${A1[1]}`, 'CORRECTOR');
    expect(t.twin.state.tuned).toBe(true);
    expect(await sum()).toBeGreaterThan(detuned / scenario.instrument.detuned_signal_factor * 0.9);
  });
});

describe('determinism', () => {
  async function trace(seed: number): Promise<string> {
    const t = twin(seed);
    await t.instrument.writeAttribute({ device: 'SCAN', attribute: 'imsize', value: 16 });
    await exec(t, 'move_stage', [12e-6, -3e-6, 0, 0, 0]);
    await exec(t, 'auto_focus');
    const key = (await exec(t, 'acquire_scanned_image', ['haadf', 'eds'])).value as string;
    await exec(t, 'place_beam', [0.3, 0.6]);
    const eels = (await exec(t, 'acquire_eels_spectrum', undefined, 'EELS')).value as string;
    await refused(exec(t, 'set_image_shift', [1, 0]));
    const data = [key, eels].map((k) => t.twin.getData(k).datasets.map((d) => Array.from(d.values)));
    return JSON.stringify({ records: t.records, data });
  }

  it('gives identical telemetry and data for one seed, and different round trips for another', async () => {
    const a = await trace(11);
    expect(await trace(11)).toBe(a);
    expect(await trace(12)).not.toBe(a);
  });
});

describe('requests the protocol does not know', () => {
  it('refuses a command name that is not a string', async () => {
    const t = twin();
    const e = await refused(t.instrument.execute({ command: 42 } as unknown as CommandRequest));
    expect(e.reason).toBe('API_InvalidArgument');
  });
});
