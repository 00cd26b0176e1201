import { commandNotFound, DEVICES, findAttribute, findCommand, tangoDeviceName, type CommandSpec, type DeviceName } from '../../protocol/commands.js';
import { InstrumentError } from '../../protocol/instrument.js';
import { finiteNumber, inRange, integer, invalid, noArgument, numberArray, text, textArray } from './args.js';
import type { ScanDetector } from './acquisition.js';
import { CORRECTOR, setAberrations } from './corrector.js';
import { checkBeamReach, checkImageShift, checkStageLimits } from './geometry.js';
import { change, read, requireBeam, type CommandHandler } from './handler-kit.js';
import { encodeImage } from './image-cache.js';
import { LatencyModel } from './latency.js';
import type { Plan, PlanContext } from './plan.js';
import { EELS_APERTURES, EELS_DISPERSIONS_eV, READOUT_AREAS, type InstrumentState, type StagePosition } from './state.js';
import { builtinHandlers, dataDeviceHandlers } from './tango-builtins.js';

/**
 * The twin's command handlers: one per entry of src/protocol/commands.ts COMMANDS, by device:
 * the instrument and EELS here, the corrector in corrector.ts, Tango's State/Status and the
 * DATA device in tango-builtins.ts. Each checks its argument against the current snapshot and
 * returns a Plan, or throws InstrumentError (nothing has changed yet when it throws).
 */
export type { CommandHandler } from './handler-kit.js';
export { requireBeam } from './handler-kit.js';

/** Limits of settings the scenario does not give (deflector and lens ranges of a typical 200 kV STEM). */
export const LIMITS = {
  fov_m: { min: 1e-9, max: 1e-3 },
  defocus_m: { min: -100e-6, max: 100e-6 },
  beam_tilt_rad: 0.1,
  diffraction_shift_rad: 0.05,
  screen_current_pA: { min: 1e-3, max: 1e5 },
} as const;

/** Fixed facts get_parameters reports. */
export const HIGH_TENSION_V = 200_000;
const COLUMN_VACUUM_Pa = 2e-6;
const MANUFACTURER = 'stem-twin (DigitalTwin)';

/** Plans a stage move to `to` (shared by move_stage and the STAGE attributes). */
export function planStageMove(ctx: PlanContext, to: StagePosition): Plan {
  checkStageLimits(ctx.origin, to, ctx.spec, ctx.state.beta_tilt_enabled);
  const from = ctx.state.stage;
  if (!LatencyModel.stageChanges(from, to)) return { breakdown: {} };
  const drift = ctx.drift.draw();
  return {
    breakdown: ctx.latency.stageMove(from, to),
    recipe: (d, end_s) => {
      d.stage = [...to];
      const next = { ...d.aberrations, C1: [d.aberrations.C1[0]! + drift.C1[0]], A1: [d.aberrations.A1[0]! + drift.A1[0], d.aberrations.A1[1]! + drift.A1[1]] };
      setAberrations(d, next, end_s);
      d.tuning_changed_s = end_s;
    },
  };
}

function beamFraction(ctx: PlanContext, what: string, fx: number, fy: number): [number, number] {
  inRange(ctx.origin, `${what} x`, fx, 0, 1, '(fraction of the field)');
  inRange(ctx.origin, `${what} y`, fy, 0, 1, '(fraction of the field)');
  checkBeamReach(ctx.origin, ctx.state, [fx, fy], ctx.spec);
  return [fx, fy];
}

const SCAN_DETECTORS: readonly ScanDetector[] = ['haadf', 'eds'];

function detectorsOf(ctx: PlanContext, args: unknown): ScanDetector[] {
  if (args === undefined || args === null) return ['haadf'];
  const names = textArray(ctx.origin, 'detectors', args).map((d) => d.toLowerCase());
  if (names.length === 0) throw invalid(ctx.origin, 'detectors must name at least one detector, e.g. ["haadf"] or ["haadf", "eds"]');
  const out: ScanDetector[] = [];
  for (const d of names) {
    if (!(SCAN_DETECTORS as readonly string[]).includes(d)) {
      throw new InstrumentError('UnknownDetector', `no scan detector "${d}"; available: ${SCAN_DETECTORS.map((x) => `"${x}"`).join(', ')} (add "eds" for an EDX frame)`, ctx.origin);
    }
    if (out.includes(d as ScanDetector)) throw invalid(ctx.origin, `detector "${d}" is listed twice`);
    out.push(d as ScanDetector);
  }
  return out;
}

/** The support devices the instrument reaches, by key, as the real one's `<key>_device_address` properties name them. */
const DEVICE_PROXIES = Object.fromEntries(DEVICES.filter((d) => d !== 'instrument').map((d) => [d.toLowerCase(), tangoDeviceName(d)]));
const CAMERA_DETECTORS = [...(findAttribute('CAMERA', 'camera_detector')?.choices ?? [])];

function parametersJson(s: InstrumentState): string {
  return JSON.stringify({
    // The real DigitalTwin's keys (the README, "Against a served twin"); scans here also take
    // "eds" for an EDX frame, which the real configuration reports under spectrum_detectors.
    manufacturer: MANUFACTURER,
    stem_mode: true,
    defocus_m: s.defocus_m,
    device_proxies: DEVICE_PROXIES,
    scan_detectors: ['haadf'],
    spectrum_detectors: ['eds'],
    camera_detectors: CAMERA_DETECTORS,
    stage_position: s.stage,
    beam_position: s.beam_fraction,
    fov_m: s.fov_m,
    imsize: s.scan.imsize,
    // The twin's own.
    state: s.device,
    fault: s.fault || undefined,
    vacuum: { state: s.column_valves === 'open' ? 'ready' : 'valves closed', column_Pa: COLUMN_VACUUM_Pa },
    column_valves: s.column_valves,
    high_tension_V: HIGH_TENSION_V,
    optical_mode: 'STEM',
    beam_blanked: s.beam_blanked,
    screen_current_pA: s.beam_current_pA,
    probe_tuned: s.tuned,
    aberrations_m: { C1: s.aberrations.C1, A1: s.aberrations.A1 },
    stage: s.stage,
    apertures: { eels_entrance: EELS_APERTURES[s.eels.aperture_index]!.name },
    deflectors: { image_shift_m: s.image_shift_m, beam_tilt_rad: s.beam_tilt_rad, diffraction_shift_rad: s.diffraction_shift_rad, beam_position_fraction: s.beam_fraction },
    screen: s.screen,
    screen_current_calibrated_s: s.screen_current_calibrated_s,
    camera: { ...s.camera },
    eels: { initialized: s.eels.initialized, dispersion_eV_per_channel: EELS_DISPERSIONS_eV[s.eels.dispersion_index] },
  });
}

const INSTRUMENT: Record<string, CommandHandler> = {
  get_stage: read((s) => [...s.stage]),

  move_stage: (ctx, args) => planStageMove(ctx, numberArray(ctx.origin, 'position [x, y, z, alpha, beta]', args, 5) as StagePosition),

  place_beam: (ctx, args) => {
    const [fx, fy] = numberArray(ctx.origin, 'beam position [x, y]', args, 2) as [number, number];
    const at = beamFraction(ctx, 'beam position', fx, fy);
    return { breakdown: ctx.latency.beamShift(1), recipe: (d) => void (d.beam_fraction = at) };
  },

  place_beam_list: (ctx, args) => {
    const xy = numberArray(ctx.origin, 'beam positions', args, { even: true, min: 2 });
    const steps = xy.length / 2;
    for (let k = 0; k < steps; k++) beamFraction(ctx, `beam position ${k}`, xy[2 * k]!, xy[2 * k + 1]!);
    const last: [number, number] = [xy[xy.length - 2]!, xy[xy.length - 1]!];
    return { breakdown: ctx.latency.beamShift(steps), recipe: (d) => void (d.beam_fraction = last) };
  },

  blank_beam: change((d) => void (d.beam_blanked = true)),
  unblank_beam: change((d) => void (d.beam_blanked = false)),

  set_image_shift: (ctx, args) => {
    const shift = numberArray(ctx.origin, 'image shift [x, y] (m)', args, 2) as [number, number];
    checkImageShift(ctx.origin, shift, ctx.spec);
    return { breakdown: ctx.latency.beamShift(1), recipe: (d) => void (d.image_shift_m = shift) };
  },
  get_image_shift: read((s) => [...s.image_shift_m]),

  set_beam_tilt: (ctx, args) => {
    const tilt = numberArray(ctx.origin, 'beam tilt [x, y] (rad)', args, 2) as [number, number];
    tilt.forEach((t, i) => inRange(ctx.origin, `beam tilt ${'xy'[i]}`, t, -LIMITS.beam_tilt_rad, LIMITS.beam_tilt_rad, 'rad'));
    return { breakdown: {}, recipe: (d) => void (d.beam_tilt_rad = tilt) };
  },
  get_beam_tilt: read((s) => [...s.beam_tilt_rad]),

  set_diffraction_shift: (ctx, args) => {
    const shift = numberArray(ctx.origin, 'diffraction shift [x, y] (rad)', args, 2) as [number, number];
    shift.forEach((t, i) => inRange(ctx.origin, `diffraction shift ${'xy'[i]}`, t, -LIMITS.diffraction_shift_rad, LIMITS.diffraction_shift_rad, 'rad'));
    return { breakdown: {}, recipe: (d) => void (d.diffraction_shift_rad = shift) };
  },
  get_diffraction_shift: read((s) => [...s.diffraction_shift_rad]),

  set_fov: (ctx, args) => {
    const fov_m = inRange(ctx.origin, 'field of view', finiteNumber(ctx.origin, 'field of view (m)', args), LIMITS.fov_m.min, LIMITS.fov_m.max, 'm');
    return { breakdown: {}, recipe: (d) => void (d.fov_m = fov_m) };
  },
  get_fov: read((s) => s.fov_m),

  set_defocus: (ctx, args) => {
    const defocus_m = inRange(ctx.origin, 'defocus', finiteNumber(ctx.origin, 'defocus (m)', args), LIMITS.defocus_m.min, LIMITS.defocus_m.max, 'm');
    return { breakdown: {}, recipe: (d) => void (d.defocus_m = defocus_m) };
  },
  get_defocus: read((s) => s.defocus_m),

  auto_focus: (ctx, args) => {
    noArgument(ctx.origin, args);
    requireBeam(ctx);
    return {
      breakdown: ctx.latency.autoFocus(),
      recipe: (d, end_s) => {
        // Removes what the corrector sees as C1 and A1 (the drift of stage moves); the higher orders stay.
        setAberrations(d, { ...d.aberrations, C1: [0], A1: [0, 0] }, end_s);
        d.defocus_m = 0;
        d.tuning_changed_s = end_s;
      },
    };
  },

  acquire_scanned_image: (ctx, args) => {
    const detectors = detectorsOf(ctx, args);
    requireBeam(ctx);
    const { imsize, scan_region, dwell_time } = ctx.state.scan;
    const { rows, cols } = LatencyModel.scanShape(imsize, scan_region);
    const breakdown = detectors.includes('eds') ? ctx.latency.edxFrame() : ctx.latency.haadfScan(rows * cols, dwell_time);
    const frame_s = (breakdown.edx ?? 0) + (breakdown.scan ?? 0);
    return { breakdown, acquisition: ctx.acquisitions.scan(ctx.state, detectors, frame_s) };
  },

  acquire_spectrum: (ctx, args) => {
    const detector = text(ctx.origin, 'detector', args ?? 'eds').toLowerCase();
    if (detector !== 'eds') {
      const hint = detector === 'eels' ? ' (EELS spectra come from the EELS device: EELS.acquire_eels_spectrum)' : '';
      throw new InstrumentError('UnknownDetector', `no spectrum detector "${detector}"; available: "eds"${hint}`, ctx.origin);
    }
    requireBeam(ctx);
    return { breakdown: ctx.latency.edxPoint(ctx.state.eds.exposure_time), acquisition: ctx.acquisitions.edxPoint(ctx.state) };
  },

  acquire_camera_image: (ctx, args) => {
    noArgument(ctx.origin, args);
    requireBeam(ctx);
    const { exposure_time, frame_combining, readout_area } = ctx.state.camera;
    const side = READOUT_AREAS[readout_area];
    return { breakdown: ctx.latency.cameraImage(exposure_time, frame_combining, side * side), acquisition: ctx.acquisitions.camera(ctx.state) };
  },

  acquire_scanned_data_advanced: (ctx) => {
    // What the real DigitalTwin answers: the ElectronMicroscope base class raises, and PyTango
    // wraps a Python exception in a command as PyDs_PythonError with the exception's text.
    throw new InstrumentError('PyDs_PythonError', 'NotImplementedError: acquire_scanned_data_advanced is not implemented on the ElectronMicroscope base class; use acquire_scanned_image with the SCAN settings.', ctx.origin);
  },

  get_image_data_cached: (ctx, args) => {
    const index = integer(ctx.origin, 'image index', args);
    const image = index >= 0 ? ctx.images.at(index) : undefined;
    if (!image) {
      const held = ctx.images.size ? `0..${ctx.images.size - 1} (0 = the latest)` : 'none: no image has been acquired yet';
      throw new InstrumentError('OutOfRange', `no cached image ${index}; the instrument keeps the latest images, index ${held}`, ctx.origin);
    }
    return { breakdown: {}, value: encodeImage(image) };
  },

  calibrate_screen_current: (ctx, args) => {
    noArgument(ctx.origin, args);
    // The screen's reading is calibrated against the beam: valves open and the beam on. The
    // screen may be inserted (that is where it reads), so this is not requireBeam.
    if (ctx.state.column_valves !== 'open') throw new InstrumentError('ColumnValvesClosed', 'the column valves are closed, so no beam reaches the screen; call set_column_valves("open") first.', ctx.origin);
    if (ctx.state.beam_blanked) throw new InstrumentError('BeamBlanked', 'the beam is blanked; call unblank_beam first.', ctx.origin);
    return { breakdown: ctx.latency.screenCalibration(), recipe: (d, end_s) => void (d.screen_current_calibrated_s = end_s) };
  },

  set_screen: (ctx, args) => {
    const v = text(ctx.origin, 'screen position', args);
    if (v !== 'inserted' && v !== 'retracted') throw invalid(ctx.origin, `screen position must be "inserted" or "retracted", got "${v}"`);
    return { breakdown: {}, recipe: (d) => void (d.screen = v) };
  },

  get_parameters: read(parametersJson),

  set_column_valves: (ctx, args) => {
    const v = text(ctx.origin, 'valves', args);
    if (v !== 'open' && v !== 'close') throw invalid(ctx.origin, `valves must be "open" or "close", got "${v}"`);
    return { breakdown: {}, recipe: (d) => void (d.column_valves = v === 'open' ? 'open' : 'closed') };
  },

  set_screen_current: (ctx, args) => {
    const pA = finiteNumber(ctx.origin, 'screen current (pA)', args);
    inRange(ctx.origin, 'screen current', pA, LIMITS.screen_current_pA.min, LIMITS.screen_current_pA.max, 'pA');
    return { breakdown: {}, recipe: (d) => void (d.beam_current_pA = pA) };
  },
  get_screen_current: read((s) => s.beam_current_pA),

  Disconnect: change((d) => void (d.device = 'OFF')),
  // The one command an OFF device accepts (see Twin.checkDeviceState): a served twin shared by
  // several clients must not stay OFF for good because one of them disconnected.
  Connect: change((d) => void (d.device = 'ON')),
};

const EELS: Record<string, CommandHandler> = {
  initialize_eels: (ctx, args) => {
    noArgument(ctx.origin, args);
    return { breakdown: {}, value: true, recipe: (d) => void (d.eels.initialized = true) };
  },

  acquire_eels_spectrum: (ctx, args) => {
    noArgument(ctx.origin, args);
    requireBeam(ctx);
    const { exposure_time, number_of_frames } = ctx.state.eels;
    return { breakdown: ctx.latency.eels(exposure_time, number_of_frames), acquisition: ctx.acquisitions.eels(ctx.state) };
  },

  get_eels_dispersion: read((s) => [s.eels.dispersion_index, EELS_DISPERSIONS_eV[s.eels.dispersion_index]!]),

  set_eels_dispersion: (ctx, args) => {
    const i = integer(ctx.origin, 'dispersion index', args);
    inRange(ctx.origin, 'dispersion index', i, 0, EELS_DISPERSIONS_eV.length - 1, `(see get_available_dispersions)`);
    return { breakdown: {}, recipe: (d) => void (d.eels.dispersion_index = i) };
  },

  get_available_dispersions: read(() => EELS_DISPERSIONS_eV.map((eV, i) => `${i}: ${eV} eV/channel`).join(', ')),

  get_eels_aperture: read((s) => EELS_APERTURES[s.eels.aperture_index]!.name),

  set_eels_aperture: (ctx, args) => {
    const i = integer(ctx.origin, 'aperture index', args);
    inRange(ctx.origin, 'aperture index', i, 0, EELS_APERTURES.length - 1, `(see get_available_apertures)`);
    return { breakdown: {}, recipe: (d) => void (d.eels.aperture_index = i) };
  },

  get_available_apertures: read(() => EELS_APERTURES.map((a, i) => `${i}: ${a.name}`).join(', ')),
};

/** Handlers by device; every device also answers Tango's State and Status. */
const HANDLERS: Record<DeviceName, Record<string, CommandHandler>> = Object.fromEntries(
  DEVICES.map((device) => {
    const own: Record<string, CommandHandler> = device === 'instrument' ? INSTRUMENT : device === 'EELS' ? EELS : device === 'CORRECTOR' ? CORRECTOR : device === 'DATA' ? dataDeviceHandlers() : {};
    return [device, { ...own, ...builtinHandlers(device) }];
  }),
) as Record<DeviceName, Record<string, CommandHandler>>;

/** The handler of a command, or API_CommandNotFound with a pointer to what exists. */
export function commandHandler(device: DeviceName, command: string, origin: string): { spec: CommandSpec; handler: CommandHandler } {
  const spec = findCommand(device, command);
  const handler = spec ? HANDLERS[device]?.[command] : undefined;
  if (spec && handler) return { spec, handler };
  throw commandNotFound(device, command, origin);
}
