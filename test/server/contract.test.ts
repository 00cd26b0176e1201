import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server/http/server.js';
import { mcpClient, serve } from './server-fixtures.js';

/**
 * The contract: every tool asyncroscopy's bridge publishes for the DigitalTwin configuration, with
 * its argument name and Tango types, written out by hand from the real server's surface (devices,
 * instrument commands with their Python parameter names, bridge shapes; see the README, "Against
 * a served twin"). Deliberately NOT derived from src/protocol/commands.ts: if the table drifts from
 * the real surface, this fails.
 *
 * [tool, argument (null: none), Tango input type, Tango output type]
 */
type Row = readonly [tool: string, argument: string | null, input: string, output: string];

const INSTRUMENT: Row[] = [
  ['DigitalTwin_Connect', null, 'DevVoid', 'DevVoid'],
  ['DigitalTwin_Disconnect', null, 'DevVoid', 'DevVoid'],
  ['DigitalTwin_get_stage', null, 'DevVoid', 'DevVarFloatArray'],
  ['DigitalTwin_move_stage', 'position', 'DevVarFloatArray', 'DevVoid'],
  ['DigitalTwin_place_beam', 'position', 'DevVarFloatArray', 'DevVoid'],
  ['DigitalTwin_place_beam_list', 'positions', 'DevVarFloatArray', 'DevVoid'],
  ['DigitalTwin_blank_beam', null, 'DevVoid', 'DevVoid'],
  ['DigitalTwin_unblank_beam', null, 'DevVoid', 'DevVoid'],
  ['DigitalTwin_auto_focus', null, 'DevVoid', 'DevVoid'],
  ['DigitalTwin_calibrate_screen_current', null, 'DevVoid', 'DevVoid'],
  ['DigitalTwin_set_image_shift', 'shift', 'DevVarFloatArray', 'DevVoid'],
  ['DigitalTwin_get_image_shift', null, 'DevVoid', 'DevVarFloatArray'],
  ['DigitalTwin_set_beam_tilt', 'tilt', 'DevVarFloatArray', 'DevVoid'],
  ['DigitalTwin_get_beam_tilt', null, 'DevVoid', 'DevVarFloatArray'],
  ['DigitalTwin_set_diffraction_shift', 'shift', 'DevVarFloatArray', 'DevVoid'],
  ['DigitalTwin_get_diffraction_shift', null, 'DevVoid', 'DevVarFloatArray'],
  ['DigitalTwin_set_fov', 'fov', 'DevFloat', 'DevVoid'],
  ['DigitalTwin_get_fov', null, 'DevVoid', 'DevFloat'],
  ['DigitalTwin_set_defocus', 'defocus', 'DevFloat', 'DevVoid'],
  ['DigitalTwin_get_defocus', null, 'DevVoid', 'DevFloat'],
  ['DigitalTwin_acquire_scanned_image', 'detector_list', 'DevVarStringArray', 'DevString'],
  ['DigitalTwin_acquire_spectrum', 'detector_name', 'DevString', 'DevString'],
  ['DigitalTwin_acquire_camera_image', null, 'DevVoid', 'DevString'],
  ['DigitalTwin_acquire_scanned_data_advanced', null, 'DevVoid', 'DevString'],
  ['DigitalTwin_get_image_data_cached', 'index', 'DevLong', 'DevEncoded'],
  ['DigitalTwin_get_parameters', null, 'DevVoid', 'DevString'],
  ['DigitalTwin_set_column_valves', 'state', 'DevString', 'DevVoid'],
  ['DigitalTwin_set_screen', 'position', 'DevString', 'DevVoid'],
  ['DigitalTwin_set_screen_current', 'current', 'DevFloat', 'DevVoid'],
  ['DigitalTwin_get_screen_current', null, 'DevVoid', 'DevFloat'],
];

/**
 * The support devices' commands. The real surface gives the types (corrector replies are JSON-RPC
 * strings; DATA returns JSON and keys) and some parameter names (config_json, dispersion_index,
 * aperture_index); the other names here are the ones the twin publishes, pinned so they cannot
 * change unnoticed.
 */
const DEVICES: Row[] = [
  ['DigitalTwinCorrector_get_info', null, 'DevVoid', 'DevString'],
  ['DigitalTwinCorrector_acquire_tableau', 'args', 'DevString', 'DevString'],
  ['DigitalTwinCorrector_measure_c1a1', null, 'DevVoid', 'DevString'],
  ['DigitalTwinCorrector_correct_aberration', 'args', 'DevString', 'DevString'],
  ['DigitalTwinCorrector_get_aberrations_coeff_sim', null, 'DevVoid', 'DevString'],
  ['DigitalTwinCorrector_set_aberrations_coeff_sim', 'json_aberrations_string', 'DevString', 'DevVoid'],
  ['DigitalTwinCorrector_reconnect', null, 'DevVoid', 'DevVoid'],
  ['DATA_get_config', null, 'DevVoid', 'DevString'],
  ['DATA_configure', 'config_json', 'DevString', 'DevString'],
  ['DATA_start_tiled_server', null, 'DevVoid', 'DevString'],
  ['DATA_stop_tiled_server', null, 'DevVoid', 'DevString'],
  ['DATA_register_path', 'path', 'DevString', 'DevString'],
  ['DATA_register_save_path', null, 'DevVoid', 'DevString'],
  ['DATA_copy_and_register_remote_file', 'request_json', 'DevString', 'DevString'],
  ['EELS_initialize_eels', null, 'DevVoid', 'DevBoolean'],
  ['EELS_acquire_eels_spectrum', null, 'DevVoid', 'DevString'],
  ['EELS_get_eels_dispersion', null, 'DevVoid', 'DevVarFloatArray'],
  ['EELS_set_eels_dispersion', 'dispersion_index', 'DevLong', 'DevVoid'],
  ['EELS_get_available_dispersions', null, 'DevVoid', 'DevString'],
  ['EELS_get_eels_aperture', null, 'DevVoid', 'DevString'],
  ['EELS_set_eels_aperture', 'aperture_index', 'DevLong', 'DevVoid'],
  ['EELS_get_available_apertures', null, 'DevVoid', 'DevString'],
];

/** Tango's own State and Status on every exported device, by Tango class. */
const CLASSES = ['DigitalTwin', 'SCAN', 'EDS', 'STAGE', 'CAMERA', 'DigitalTwinCorrector', 'DATA', 'EELS'];
const BUILTINS: Row[] = CLASSES.flatMap((c): Row[] => [
  [`${c}_State`, null, 'DevVoid', 'DevState'],
  [`${c}_Status`, null, 'DevVoid', 'DevString'],
]);

const CONTRACT: Row[] = [...INSTRUMENT, ...DEVICES, ...BUILTINS];

const DEVICE_NAMES = [
  'asyncroscopy/instrument/default',
  'asyncroscopy/scan/default',
  'asyncroscopy/eds/default',
  'asyncroscopy/stage/default',
  'asyncroscopy/camera/default',
  'asyncroscopy/corrector/default',
  'asyncroscopy/data/default',
  'asyncroscopy/eels/default',
];

describe('contract: the real bridge tool surface of the DigitalTwin configuration', () => {
  let server: RunningServer;
  let client: Client;
  let tools: Map<string, Tool>;

  beforeAll(async () => {
    server = await serve();
    client = await mcpClient(server);
    tools = new Map((await client.listTools()).tools.map((t) => [t.name, t]));
  });
  afterAll(async () => {
    await client?.close();
    await server?.close();
  });

  it.each(CONTRACT)('%s(%s): %s -> %s', (name, argument, input, output) => {
    const tool = tools.get(name);
    expect(tool, `${name} is missing`).toBeDefined();
    const lines = tool!.description!.split('\n');
    expect(lines).toContain(`Tango Command: ${name.slice(name.indexOf('_') + 1)}`);
    expect(lines).toContain(`Tango Device Class: ${name.slice(0, name.indexOf('_'))}`);
    expect(lines).toContain(`Input Type: ${input}`);
    expect(lines).toContain(`Output Type: ${output}`);
    const properties = Object.keys(tool!.inputSchema.properties ?? {});
    if (argument === null) {
      expect(properties).toEqual([]);
    } else {
      expect(properties).toEqual([argument]);
      // No default on the real bridge: required.
      expect(tool!.inputSchema.required).toEqual([argument]);
    }
    // FastMCP: a value is wrapped as {result}; nothing returned, no output schema.
    if (output === 'DevVoid') expect(tool!.outputSchema).toBeUndefined();
    else expect(tool!.outputSchema).toMatchObject({ type: 'object', required: ['result'] });
  });

  it('publishes the bridge tools list_devices and get_data_from_key(key, max_values), and the real device names', async () => {
    expect(Object.keys(tools.get('get_data_from_key')!.inputSchema.properties ?? {})).toEqual(['key', 'max_values']);
    expect(tools.get('get_data_from_key')!.inputSchema.required).toEqual(['key']);
    const listed = (await client.callTool({ name: 'list_devices', arguments: {} })).structuredContent as { result: string[] };
    expect([...listed.result].sort()).toEqual([...DEVICE_NAMES].sort());
  });

  it('publishes nothing else but twin extras, each described as one', () => {
    const contract = new Set([...CONTRACT.map((r) => r[0]), 'list_devices', 'get_data_from_key']);
    const extras = [...tools.values()].filter((t) => !contract.has(t.name));
    expect(extras.map((t) => t.name).sort()).toEqual(
      [
        'DigitalTwin_acquire_lease',
        'DigitalTwin_get_clock',
        'DigitalTwin_get_scenario',
        'DigitalTwin_release_lease',
        'DigitalTwin_reset',
        ...['SCAN', 'EDS', 'EELS', 'STAGE', 'CAMERA'].flatMap((d) => [`${d}_read_attribute`, `${d}_write_attribute`]),
      ].sort(),
    );
    for (const t of extras) expect(t.description, t.name).toMatch(/^Twin extra/);
  });
});
