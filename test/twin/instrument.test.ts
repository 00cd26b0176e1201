import { describe, expect, it } from 'vitest';
import { ATTRIBUTES, COMMANDS, type DeviceName } from '../../src/protocol/commands.js';
import { dataset, InstrumentError, type CommandOutcome, type CommandRequest } from '../../src/protocol/instrument.js';
import { LATENCY_CATEGORIES } from '../../src/protocol/timing.js';
import { createTwin, type Twin } from '../../src/twin/index.js';
import { LatencyModel } from '../../src/twin/instrument/latency.js';
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
    const o = await exec(t, 'auto_focus');
    expect(o.breakdown_s.settle_retune).toBe(5);
    expect(t.twin.state.tuned).toBe(true);
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
