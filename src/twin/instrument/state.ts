import { enablePatches, freeze, produceWithPatches, type Draft, type Patch } from 'immer';
import { findAttribute, type DeviceName } from '../../protocol/commands.js';
import type { InstrumentSpec } from '../../protocol/scenario.js';
import { EELS_DEFAULT_DISPERSION_eV } from '../signals/index.js';
import { defaultAberrations, type Aberrations } from './aberrations.js';

enablePatches();

/** Tango device states the twin uses. */
export type DeviceState = 'ON' | 'OFF' | 'FAULT';

/** [x, y, z in m, alpha, beta in deg], the real server's stage vector. */
export type StagePosition = [number, number, number, number, number];

export interface ScanSettings {
  dwell_time: number;
  imsize: number;
  /** [left, top, width, height], fractions of the field. */
  scan_region: [number, number, number, number];
  output_format: '.h5' | '.tiff';
}

/** Part of the camera sensor read out, and the share of its side each keeps. */
export const READOUT_AREAS = { Full: 1, Half: 0.5, Quarter: 0.25 } as const;
export type ReadoutArea = keyof typeof READOUT_AREAS;

export interface CameraSettings {
  exposure_time: number;
  imsize: number;
  readout_area: ReadoutArea;
  camera_detector: string;
  frame_combining: number;
}

export interface EelsSettings {
  exposure_time: number;
  number_of_frames: number;
  offset: number;
  dispersion_index: number;
  aperture_index: number;
  initialized: boolean;
}

/**
 * One immutable snapshot of everything the instrument remembers. Commands replace it through
 * `transition`, which also yields the immer patches that telemetry streams.
 */
export interface InstrumentState {
  device: DeviceState;
  /** Why the device is in FAULT (empty otherwise). */
  fault: string;
  stage: StagePosition;
  beta_tilt_enabled: boolean;
  /** Beam (image) shift of the field, m; the field centre is stage + image shift. */
  image_shift_m: [number, number];
  /** Parked beam, fractions 0..1 of the scan field. */
  beam_fraction: [number, number];
  fov_m: number;
  defocus_m: number;
  beam_tilt_rad: [number, number];
  diffraction_shift_rad: [number, number];
  /** The corrector's coefficients by name, m (aberrations.ts). */
  aberrations: Aberrations;
  /** Residual C1 and A1 below TUNED_RESIDUAL_m (aberrations.ts isTuned); false after a stage move until auto_focus or a correction. */
  tuned: boolean;
  /** Virtual time of the last stage move (detuned since) or autofocus (tuned since), s. */
  tuning_changed_s: number;
  beam_blanked: boolean;
  column_valves: 'open' | 'closed';
  beam_current_pA: number;
  /** Virtual time of the last calibrate_screen_current, s (null: never calibrated). */
  screen_current_calibrated_s: number | null;
  /** The fluorescent screen; inserted, it stops the beam before the specimen's detectors. */
  screen: 'inserted' | 'retracted';
  /** Corrector JSON-RPC replies sent since it (re)connected: the id of the last reply. */
  corrector_reply_id: number;
  scan: ScanSettings;
  camera: CameraSettings;
  eds: { exposure_time: number };
  eels: EelsSettings;
}

function attributeDefault<T>(device: DeviceName, name: string): T {
  const spec = findAttribute(device, name);
  if (!spec) throw new Error(`no attribute ${device}.${name} in ATTRIBUTES`);
  return (Array.isArray(spec.default) ? [...spec.default] : spec.default) as T;
}

/** The state a freshly started twin is in: ON, valves open, beam on, probe tuned at the stage origin. */
export function initialState(spec: InstrumentSpec): InstrumentState {
  return freeze(
    {
      device: 'ON',
      fault: '',
      stage: [0, 0, 0, 0, 0],
      beta_tilt_enabled: attributeDefault<boolean>('STAGE', 'beta_tilt_enabled'),
      image_shift_m: [0, 0],
      beam_fraction: [0.5, 0.5],
      fov_m: spec.fov_um * 1e-6,
      defocus_m: 0,
      beam_tilt_rad: [0, 0],
      diffraction_shift_rad: [0, 0],
      aberrations: defaultAberrations(),
      tuned: true,
      tuning_changed_s: 0,
      beam_blanked: false,
      column_valves: 'open',
      beam_current_pA: spec.beam_current_pA,
      screen_current_calibrated_s: null,
      screen: 'retracted',
      corrector_reply_id: 0,
      scan: {
        dwell_time: attributeDefault('SCAN', 'dwell_time'),
        imsize: attributeDefault('SCAN', 'imsize'),
        scan_region: attributeDefault('SCAN', 'scan_region'),
        output_format: attributeDefault('SCAN', 'output_format'),
      },
      camera: {
        exposure_time: attributeDefault('CAMERA', 'exposure_time'),
        imsize: attributeDefault('CAMERA', 'imsize'),
        readout_area: attributeDefault('CAMERA', 'readout_area'),
        camera_detector: attributeDefault('CAMERA', 'camera_detector'),
        frame_combining: attributeDefault('CAMERA', 'frame_combining'),
      },
      eds: { exposure_time: attributeDefault('EDS', 'exposure_time') },
      eels: {
        exposure_time: attributeDefault('EELS', 'exposure_time'),
        number_of_frames: attributeDefault('EELS', 'number_of_frames'),
        offset: attributeDefault('EELS', 'offset'),
        dispersion_index: DEFAULT_DISPERSION_INDEX,
        aperture_index: DEFAULT_APERTURE_INDEX,
        initialized: false,
      },
    },
    true,
  );
}

/** A change of state: a recipe on an immer draft. */
export type Recipe = (draft: Draft<InstrumentState>) => void;

/** Applies a recipe; returns the next frozen snapshot and the patches that lead to it. */
export function transition(state: InstrumentState, recipe: Recipe): { state: InstrumentState; patches: Patch[] } {
  const [next, patches] = produceWithPatches(state, recipe);
  return { state: next, patches };
}

/**
 * EELS dispersions offered by the spectrometer, eV per channel (index = position). The default,
 * the signal model's, spans 0-51 eV over 2048 channels: the low-loss region of the target feature.
 */
export const EELS_DISPERSIONS_eV = [EELS_DEFAULT_DISPERSION_eV, 0.05, 0.1, 0.25, 0.5, 1] as const;
export const DEFAULT_DISPERSION_INDEX = 0;

/**
 * EELS entrance apertures and the share of the inelastic signal each collects, relative to the
 * largest (a smaller aperture trades counts for energy resolution; the twin models the counts).
 */
export const EELS_APERTURES = [
  { name: '1 mm', collection: 0.25 },
  { name: '2.5 mm', collection: 0.6 },
  { name: '5 mm', collection: 1 },
] as const;
export const DEFAULT_APERTURE_INDEX = 2;
