import { InstrumentError } from './instrument.js';

/**
 * The real control server's command surface (asyncroscopy, PyTango, 2026), as data. Names,
 * argument shapes and units are the real server's: those of asyncroscopy's ElectronMicroscope base class (see the README, "Against a served twin").
 *
 * The twin implements these; the MCP server publishes them as `<TangoClass>_<command>` tools;
 * the remote adapter finds them by suffix. Tango commands take at most one argument.
 */

/** Tango devices, by our short name; on the wire `asyncroscopy/<key>/default` with key = the name lower-cased (tangoDeviceName). */
export const DEVICES = ['instrument', 'SCAN', 'EDS', 'EELS', 'STAGE', 'CAMERA', 'CORRECTOR', 'DATA'] as const;
export type DeviceName = (typeof DEVICES)[number];

/**
 * Tango argument types, as the bridge describes them. DevFloat and DevVarFloatArray are 32-bit:
 * values pass through float32 on the real server (tango-types.ts rounds them the same way).
 */
export const ARG_TYPES = ['DevVoid', 'DevFloat', 'DevLong', 'DevBoolean', 'DevString', 'DevVarFloatArray', 'DevVarStringArray', 'DevState', 'DevEncoded'] as const;
export type ArgType = (typeof ARG_TYPES)[number];

export interface CommandSpec {
  device: DeviceName;
  name: string;
  input: ArgType;
  output: ArgType;
  /**
   * The Python parameter name of the command's one argument (the current bridge names the MCP
   * argument after it; the older bridge called it `arg`). Absent for DevVoid input.
   */
  parameter?: string;
  /** What the argument means, with units. */
  description: string;
  /** False for pure reads: those are accepted without a token on a shared server. */
  changesState: boolean;
  /** The argument may be left out (the instrument applies its default); the real bridge still marks it required. */
  optional?: boolean;
}

type Io = [input: ArgType, output: ArgType, parameter?: string];

function cmd(device: DeviceName, name: string, [input, output, parameter]: Io, changesState: boolean, description: string, optional = false): CommandSpec {
  if ((input === 'DevVoid') !== (parameter === undefined)) throw new Error(`${device}.${name}: a parameter name goes with a non-void input`);
  return { device, name, input, output, ...(parameter ? { parameter } : {}), changesState, description, ...(optional ? { optional } : {}) };
}

const VOID: Io = ['DevVoid', 'DevVoid'];
const READ_FLOAT: Io = ['DevVoid', 'DevFloat'];
const READ_FLOATS: Io = ['DevVoid', 'DevVarFloatArray'];
const READ_TEXT: Io = ['DevVoid', 'DevString'];
const floats = (parameter: string): Io => ['DevVarFloatArray', 'DevVoid', parameter];
const float = (parameter: string): Io => ['DevFloat', 'DevVoid', parameter];

/** Every device has Tango's own State and Status commands (always allowed, even OFF or in FAULT). */
function tangoBuiltins(device: DeviceName): CommandSpec[] {
  return [
    cmd(device, 'State', ['DevVoid', 'DevState'], false, 'The Tango device state: ON, OFF, FAULT, ...'),
    cmd(device, 'Status', READ_TEXT, false, 'The Tango device status, as text.'),
  ];
}

export const COMMANDS: readonly CommandSpec[] = [
  cmd('instrument', 'get_stage', READ_FLOATS, false, 'Stage position [x, y, z in m, alpha, beta in deg].'),
  cmd('instrument', 'move_stage', floats('position'), true, 'Absolute stage move to [x, y, z in m, alpha, beta in deg].'),
  cmd('instrument', 'place_beam', floats('position'), true, 'Park the beam at [x, y], fractions 0..1 of the scan field.'),
  cmd('instrument', 'place_beam_list', floats('positions'), true, 'Step the parked beam through [x0, y0, x1, y1, ...], fractions 0..1; an odd count is an error.'),
  cmd('instrument', 'blank_beam', VOID, true, 'Blank the beam.'),
  cmd('instrument', 'unblank_beam', VOID, true, 'Unblank the beam.'),
  cmd('instrument', 'set_image_shift', floats('shift'), true, 'Beam (image) shift of the field, [x, y] in m, within the deflector range.'),
  cmd('instrument', 'get_image_shift', READ_FLOATS, false, 'Image shift [x, y] in m.'),
  cmd('instrument', 'set_beam_tilt', floats('tilt'), true, 'Beam tilt [x, y] in rad.'),
  cmd('instrument', 'get_beam_tilt', READ_FLOATS, false, 'Beam tilt [x, y] in rad.'),
  cmd('instrument', 'set_diffraction_shift', floats('shift'), true, 'Diffraction shift [x, y] in rad.'),
  cmd('instrument', 'get_diffraction_shift', READ_FLOATS, false, 'Diffraction shift [x, y] in rad.'),
  cmd('instrument', 'set_fov', float('fov'), true, 'Scan field of view in m.'),
  cmd('instrument', 'get_fov', READ_FLOAT, false, 'Scan field of view in m.'),
  cmd('instrument', 'set_defocus', float('defocus'), true, 'Defocus in m.'),
  cmd('instrument', 'get_defocus', READ_FLOAT, false, 'Defocus in m.'),
  cmd('instrument', 'auto_focus', VOID, true, 'Autofocus / retune the probe: removes the defocus (C1) and two-fold astigmatism (A1) a stage move leaves.'),
  cmd('instrument', 'calibrate_screen_current', VOID, true, 'Calibrate the screen current reading.'),
  cmd('instrument', 'acquire_scanned_image', ['DevVarStringArray', 'DevString', 'detector_list'], true, 'Scan with the SCAN settings; detectors, default ["haadf"] (add "eds" for an EDX frame). Returns a data key.', true),
  cmd('instrument', 'acquire_spectrum', ['DevString', 'DevString', 'detector_name'], true, 'Point spectrum at the parked beam with the detector\'s exposure_time ("eds"). Returns a data key.', true),
  cmd('instrument', 'acquire_camera_image', READ_TEXT, true, 'Camera image with the CAMERA settings. Returns a data key.'),
  cmd('instrument', 'acquire_scanned_data_advanced', READ_TEXT, true, 'Not supported on the ElectronMicroscope base class (refused, as on the real DigitalTwin).'),
  cmd('instrument', 'get_image_data_cached', ['DevLong', 'DevEncoded', 'index'], false, 'The index-th most recent image (0 = the latest), as Tango DevEncoded [format, base64 data].'),
  cmd('instrument', 'get_parameters', READ_TEXT, false, 'System state as a JSON string: manufacturer, stem_mode, defocus_m, device_proxies, detectors, stage_position, beam_position, fov_m, imsize, vacuum, valves, ...'),
  cmd('instrument', 'set_column_valves', ['DevString', 'DevVoid', 'state'], true, 'Column valves, "open" or "close".'),
  cmd('instrument', 'set_screen', ['DevString', 'DevVoid', 'position'], true, 'Fluorescent screen, "inserted" or "retracted" (inserted, it stops the beam).'),
  cmd('instrument', 'set_screen_current', float('current'), true, 'Screen (beam) current in pA.'),
  cmd('instrument', 'get_screen_current', READ_FLOAT, false, 'Screen (beam) current in pA.'),
  cmd('instrument', 'Disconnect', VOID, true, 'Disconnect; the device state becomes OFF (Connect turns it ON again).'),
  cmd('instrument', 'Connect', VOID, true, 'Connect; an OFF device (after Disconnect) becomes ON again. A no-op when ON; refused in FAULT.'),
  cmd('EELS', 'initialize_eels', ['DevVoid', 'DevBoolean'], true, 'Initialise the spectrometer.'),
  cmd('EELS', 'acquire_eels_spectrum', READ_TEXT, true, 'EELS spectrum at the parked beam: exposure_time x number_of_frames. Returns a data key.'),
  cmd('EELS', 'get_eels_dispersion', READ_FLOATS, false, '[index, eV per channel] of the current dispersion.'),
  cmd('EELS', 'set_eels_dispersion', ['DevLong', 'DevVoid', 'dispersion_index'], true, 'Select a dispersion by index (see get_available_dispersions).'),
  cmd('EELS', 'get_available_dispersions', READ_TEXT, false, 'Available dispersions, as a string.'),
  cmd('EELS', 'get_eels_aperture', READ_TEXT, false, 'Current spectrometer entrance aperture.'),
  cmd('EELS', 'set_eels_aperture', ['DevLong', 'DevVoid', 'aperture_index'], true, 'Select an aperture by index (see get_available_apertures).'),
  cmd('EELS', 'get_available_apertures', READ_TEXT, false, 'Available apertures, as a string.'),
  cmd('CORRECTOR', 'get_info', READ_TEXT, false, 'Corrector identity, as a JSON-RPC reply string.'),
  cmd('CORRECTOR', 'acquire_tableau', ['DevString', 'DevString', 'args'], true, 'Measure all aberrations: "<type> <angle mrad>", e.g. "Fast 18". JSON-RPC reply string with the coefficients (m).'),
  cmd('CORRECTOR', 'measure_c1a1', READ_TEXT, true, 'Measure defocus C1 and two-fold astigmatism A1 (m). JSON-RPC reply string.'),
  cmd('CORRECTOR', 'correct_aberration', ['DevString', 'DevString', 'args'], true, 'Subtract a correction: "<name> <value> [value]" in m, e.g. "A1 1e-9 0". JSON-RPC reply string with the new value.'),
  cmd('CORRECTOR', 'get_aberrations_coeff_sim', READ_TEXT, false, 'The simulated aberration coefficients, as JSON {name: [values in m]}.'),
  cmd('CORRECTOR', 'set_aberrations_coeff_sim', ['DevString', 'DevVoid', 'json_aberrations_string'], true, 'Set simulated aberration coefficients from JSON {name: [values in m]}; names left out take their defaults.'),
  cmd('CORRECTOR', 'reconnect', VOID, true, 'Reconnect the corrector backend.'),
  cmd('DATA', 'get_config', READ_TEXT, false, 'Data server configuration, JSON {host, port, uri, save_path, tiled_server, tiled_server_status, tiled_server_serving}; uri serves the acquisition files.'),
  cmd('DATA', 'configure', ['DevString', 'DevString', 'config_json'], true, 'Change host, port or save_path from JSON ({"host": ..., "port": ..., "save_path": ...}); returns the new configuration. On the twin, host and port only change the URL that get_config and get_data_from_key report (the server keeps listening where it was started); save_path is where new acquisitions are written.'),
  cmd('DATA', 'start_tiled_server', READ_TEXT, true, 'Start serving the save path; returns the configuration.'),
  cmd('DATA', 'stop_tiled_server', READ_TEXT, true, 'Stop serving; returns the configuration.'),
  cmd('DATA', 'register_path', ['DevString', 'DevString', 'path'], true, 'Register an HDF5 file under the save path with the data server; returns its key.'),
  cmd('DATA', 'register_save_path', READ_TEXT, true, 'Register every file of the save path; returns a JSON report.'),
  cmd('DATA', 'copy_and_register_remote_file', ['DevString', 'DevString', 'request_json'], true, 'Copy a file ({"source_path": ...}) into the save path and register it; returns its key.'),
  ...DEVICES.flatMap(tangoBuiltins),
];

export function findCommand(device: DeviceName, name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.device === device && c.name === name);
}

/** The Tango class of a device as tools, errors and telemetry name it: DigitalTwin, DigitalTwinCorrector, else the name. */
export function tangoClass(device: DeviceName): string {
  return device === 'instrument' ? 'DigitalTwin' : device === 'CORRECTOR' ? 'DigitalTwinCorrector' : device;
}

/** The exported Tango device name, e.g. asyncroscopy/scan/default. */
export function tangoDeviceName(device: DeviceName): string {
  return `asyncroscopy/${device.toLowerCase()}/default`;
}

/** The device whose Tango class is `name` (DigitalTwinCorrector -> CORRECTOR), if any. */
export function deviceOfClass(name: string): DeviceName | undefined {
  return DEVICES.find((d) => tangoClass(d) === name);
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
  /** For string attributes with a fixed set of values. */
  choices?: readonly string[];
  /** Read-only on the real device. */
  readOnly?: boolean;
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
  { device: 'STAGE', name: 'beta_tilt_enabled', type: 'bool', unit: '', default: false, readOnly: true, description: 'Whether the holder has a beta axis.' },
  { device: 'CAMERA', name: 'exposure_time', type: 'float', unit: 's', min: 1e-7, max: 10, default: 1e-3, description: 'Camera exposure per frame.' },
  { device: 'CAMERA', name: 'imsize', type: 'int', unit: 'px', min: 16, max: 4096, default: 1024, description: 'Camera image size (square, before the readout area).' },
  { device: 'CAMERA', name: 'readout_area', type: 'string', unit: '', choices: ['Full', 'Half', 'Quarter'], default: 'Full', description: 'Part of the sensor read out: Full, Half or Quarter (side).' },
  { device: 'CAMERA', name: 'camera_detector', type: 'string', unit: '', choices: ['BM-Ceta'], default: 'BM-Ceta', description: 'Camera in use.' },
  { device: 'CAMERA', name: 'frame_combining', type: 'int', unit: '', min: 1, max: 100, default: 1, description: 'Frames summed per image.' },
];

export function findAttribute(device: DeviceName, name: string): AttributeSpec | undefined {
  return ATTRIBUTES.find((a) => a.device === device && a.name === name);
}
