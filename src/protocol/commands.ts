import { InstrumentError } from './instrument.js';

/**
 * The real control server's command surface (asyncroscopy, PyTango, 2026), as data. Names,
 * argument shapes and units are the real server's: those of asyncroscopy's ElectronMicroscope base class (see the README, "Against a served twin").
 *
 * The twin implements these; the MCP server publishes them as `<TangoClass>_<command>` tools;
 * the remote adapter finds them by suffix. Tango commands take at most one argument.
 */

/** Tango devices, by their key in `asyncroscopy/<key>/default`. */
export const DEVICES = ['instrument', 'SCAN', 'EDS', 'EELS', 'STAGE', 'CAMERA', 'CORRECTOR', 'DATA'] as const;
export type DeviceName = (typeof DEVICES)[number];

/** Tango argument types, as the bridge describes them. */
export type ArgType = 'DevVoid' | 'DevDouble' | 'DevLong' | 'DevBoolean' | 'DevString' | 'DevVarDoubleArray' | 'DevVarStringArray';

export interface CommandSpec {
  device: DeviceName;
  name: string;
  input: ArgType;
  output: ArgType;
  /** What the argument means, with units. */
  description: string;
  /** False for pure reads: those are accepted without a token on a shared server. */
  changesState: boolean;
}

function cmd(device: DeviceName, name: string, input: ArgType, output: ArgType, changesState: boolean, description: string): CommandSpec {
  return { device, name, input, output, changesState, description };
}

export const COMMANDS: readonly CommandSpec[] = [
  cmd('instrument', 'get_stage', 'DevVoid', 'DevVarDoubleArray', false, 'Stage position [x, y, z in m, alpha, beta in deg].'),
  cmd('instrument', 'move_stage', 'DevVarDoubleArray', 'DevVoid', true, 'Absolute stage move to [x, y, z in m, alpha, beta in deg].'),
  cmd('instrument', 'place_beam', 'DevVarDoubleArray', 'DevVoid', true, 'Park the beam at [x, y], fractions 0..1 of the scan field.'),
  cmd('instrument', 'place_beam_list', 'DevVarDoubleArray', 'DevVoid', true, 'Step the parked beam through [x0, y0, x1, y1, ...], fractions 0..1.'),
  cmd('instrument', 'blank_beam', 'DevVoid', 'DevVoid', true, 'Blank the beam.'),
  cmd('instrument', 'unblank_beam', 'DevVoid', 'DevVoid', true, 'Unblank the beam.'),
  cmd('instrument', 'set_image_shift', 'DevVarDoubleArray', 'DevVoid', true, 'Beam (image) shift of the field, [x, y] in m, within the deflector range.'),
  cmd('instrument', 'get_image_shift', 'DevVoid', 'DevVarDoubleArray', false, 'Image shift [x, y] in m.'),
  cmd('instrument', 'set_beam_tilt', 'DevVarDoubleArray', 'DevVoid', true, 'Beam tilt [x, y] in rad.'),
  cmd('instrument', 'get_beam_tilt', 'DevVoid', 'DevVarDoubleArray', false, 'Beam tilt [x, y] in rad.'),
  cmd('instrument', 'set_fov', 'DevDouble', 'DevVoid', true, 'Scan field of view in m.'),
  cmd('instrument', 'get_fov', 'DevVoid', 'DevDouble', false, 'Scan field of view in m.'),
  cmd('instrument', 'set_defocus', 'DevDouble', 'DevVoid', true, 'Defocus in m.'),
  cmd('instrument', 'get_defocus', 'DevVoid', 'DevDouble', false, 'Defocus in m.'),
  cmd('instrument', 'auto_focus', 'DevVoid', 'DevVoid', true, 'Autofocus / retune the probe (OptiSTEM C1A1 on the real instrument).'),
  cmd('instrument', 'acquire_scanned_image', 'DevVarStringArray', 'DevString', true, 'Scan with the SCAN settings; detectors, default ["haadf"] (add "eds" for an EDX frame). Returns a data key.'),
  cmd('instrument', 'acquire_spectrum', 'DevString', 'DevString', true, 'Point spectrum at the parked beam with the detector\'s exposure_time ("eds"). Returns a data key.'),
  cmd('instrument', 'acquire_camera_image', 'DevVoid', 'DevString', true, 'Camera image. Returns a data key.'),
  cmd('instrument', 'get_parameters', 'DevVoid', 'DevString', false, 'System state as a JSON string: vacuum, valves, high tension, mode, blanker, fov, apertures, deflectors.'),
  cmd('instrument', 'set_column_valves', 'DevString', 'DevVoid', true, 'Column valves, "open" or "close".'),
  cmd('instrument', 'set_screen_current', 'DevDouble', 'DevVoid', true, 'Screen (beam) current in pA.'),
  cmd('instrument', 'get_screen_current', 'DevVoid', 'DevDouble', false, 'Screen (beam) current in pA.'),
  cmd('instrument', 'Disconnect', 'DevVoid', 'DevVoid', true, 'Disconnect; the device state becomes OFF (Connect turns it ON again).'),
  cmd('instrument', 'Connect', 'DevVoid', 'DevVoid', true, 'Connect; an OFF device (after Disconnect) becomes ON again. A no-op when ON; refused in FAULT.'),
  cmd('EELS', 'initialize_eels', 'DevVoid', 'DevBoolean', true, 'Initialise the spectrometer.'),
  cmd('EELS', 'acquire_eels_spectrum', 'DevVoid', 'DevString', true, 'EELS spectrum at the parked beam: exposure_time x number_of_frames. Returns a data key.'),
  cmd('EELS', 'get_eels_dispersion', 'DevVoid', 'DevVarDoubleArray', false, '[index, eV per channel] of the current dispersion.'),
  cmd('EELS', 'set_eels_dispersion', 'DevLong', 'DevVoid', true, 'Select a dispersion by index (see get_available_dispersions).'),
  cmd('EELS', 'get_available_dispersions', 'DevVoid', 'DevString', false, 'Available dispersions, as a string.'),
  cmd('EELS', 'get_eels_aperture', 'DevVoid', 'DevString', false, 'Current spectrometer entrance aperture.'),
  cmd('EELS', 'set_eels_aperture', 'DevLong', 'DevVoid', true, 'Select an aperture by index (see get_available_apertures).'),
  cmd('EELS', 'get_available_apertures', 'DevVoid', 'DevString', false, 'Available apertures, as a string.'),
];

export function findCommand(device: DeviceName, name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.device === device && c.name === name);
}

/** The Tango class of a device as tools, errors and telemetry name it: the instrument device is the DigitalTwin. */
export function tangoClass(device: DeviceName): string {
  return device === 'instrument' ? 'DigitalTwin' : device;
}

/** API_CommandNotFound for a command not on `device`, pointing at the device that has it or at the ones this device has. */
export function commandNotFound(device: DeviceName, command: string, origin: string): InstrumentError {
  const elsewhere = COMMANDS.find((c) => c.name === command);
  const hint = elsewhere
    ? `it is a command of the ${elsewhere.device} device (pass device "${elsewhere.device}")`
    : `${tangoClass(device)} commands: ${COMMANDS.filter((c) => c.device === device).map((c) => c.name).join(', ') || '(none)'}`;
  return new InstrumentError('API_CommandNotFound', `no command "${command}" on device ${device}; ${hint}.`, origin);
}

/** Device settings (Tango attributes). The MCP bridge does not publish these; our server adds tools for them. */
export interface AttributeSpec {
  device: DeviceName;
  name: string;
  type: 'float' | 'int' | 'string' | 'float[]' | 'bool';
  unit: string;
  min?: number;
  max?: number;
  /** For float[] attributes: required length. */
  length?: number;
  default: number | string | boolean | number[];
  description: string;
}

export const ATTRIBUTES: readonly AttributeSpec[] = [
  { device: 'SCAN', name: 'dwell_time', type: 'float', unit: 's', min: 1e-9, max: 10, default: 1e-6, description: 'Pixel dwell time.' },
  { device: 'SCAN', name: 'imsize', type: 'int', unit: 'px', min: 16, max: 4096, default: 512, description: 'Image size (square).' },
  { device: 'SCAN', name: 'scan_region', type: 'float[]', unit: 'fraction', min: 0, max: 1, length: 4, default: [0, 0, 1, 1], description: '[left, top, width, height], fractions 0..1 of the field.' },
  { device: 'SCAN', name: 'output_format', type: 'string', unit: '', default: '.h5', description: '".h5" or ".tiff".' },
  { device: 'EDS', name: 'exposure_time', type: 'float', unit: 's', min: 1e-6, max: 100, default: 1, description: 'Point-spectrum live time.' },
  { device: 'EELS', name: 'exposure_time', type: 'float', unit: 's', min: 1e-6, max: 5, default: 1, description: 'Exposure per frame.' },
  { device: 'EELS', name: 'number_of_frames', type: 'int', unit: '', min: 1, max: 5, default: 1, description: 'Frames summed per spectrum.' },
  { device: 'EELS', name: 'offset', type: 'float', unit: 'eV', min: -1000, max: 3000, default: 0, description: 'Energy offset of the first channel.' },
  { device: 'STAGE', name: 'position', type: 'float[]', unit: 'm, m, m, deg, deg', length: 5, default: [0, 0, 0, 0, 0], description: '[x, y, z, alpha, beta]. Writing it moves the stage.' },
  { device: 'STAGE', name: 'x', type: 'float', unit: 'm', default: 0, description: 'Stage x. Writing it moves the stage.' },
  { device: 'STAGE', name: 'y', type: 'float', unit: 'm', default: 0, description: 'Stage y. Writing it moves the stage.' },
  { device: 'STAGE', name: 'z', type: 'float', unit: 'm', default: 0, description: 'Stage z. Writing it moves the stage.' },
  { device: 'STAGE', name: 'alpha', type: 'float', unit: 'deg', min: -35, max: 35, default: 0, description: 'Alpha tilt.' },
  { device: 'STAGE', name: 'beta', type: 'float', unit: 'deg', min: -20, max: 20, default: 0, description: 'Beta tilt.' },
  { device: 'STAGE', name: 'beta_tilt_enabled', type: 'bool', unit: '', default: false, description: 'Whether the holder has a beta axis.' },
];

export function findAttribute(device: DeviceName, name: string): AttributeSpec | undefined {
  return ATTRIBUTES.find((a) => a.device === device && a.name === name);
}
