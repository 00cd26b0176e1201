import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server/http/server.js';
import { call, mcpClient, serve, textOf } from './server-fixtures.js';

/**
 * The call sequences of asyncroscopy's notebooks and tests (camera, stage, defocus, EDS, overview,
 * parameters, data read-back), as an MCP client of the real bridge sends them: tool names and
 * argument shapes as the real surface gives them, over the official SDK client, once with the
 * current bridge's argument names and once with the older bridge's `arg`.
 */
type Style = 'named' | 'arg';

interface Step {
  name: string;
  tool: string;
  /** The argument's Python parameter name and value, or nothing. */
  argument?: [string, unknown];
  check(result: CallToolResult, keys: Record<string, string>): void;
}

const value = (r: CallToolResult) => (r.structuredContent as { result: unknown } | undefined)?.result;
const voidResult = (r: CallToolResult) => {
  expect(r.content).toEqual([]);
  expect(r.structuredContent).toBeUndefined();
};
const datasets = (r: CallToolResult) => (r.structuredContent as { datasets: { name: string; shape: number[]; attrs: Record<string, unknown> }[] }).datasets;

const STEPS: Step[] = [
  { name: 'list_devices', tool: 'list_devices', check: (r) => expect(value(r)).toEqual(expect.arrayContaining(['asyncroscopy/instrument/default', 'asyncroscopy/camera/default', 'asyncroscopy/data/default'])) },
  { name: 'instrument state', tool: 'DigitalTwin_State', check: (r) => expect(textOf(r)).toBe('ON') },
  {
    name: 'camera image',
    tool: 'DigitalTwin_acquire_camera_image',
    check: (r, keys) => {
      keys.camera = textOf(r);
      expect(keys.camera).toMatch(/\.h5$/);
    },
  },
  { name: 'camera read-back', tool: 'get_data_from_key', argument: ['key', '<camera>'], check: (r) => expect(datasets(r).length).toBeGreaterThan(0) },
  { name: 'stage read', tool: 'DigitalTwin_get_stage', check: (r) => expect(value(r)).toEqual([0, 0, 0, 0, 0]) },
  { name: 'stage move', tool: 'DigitalTwin_move_stage', argument: ['position', [2e-6, -1e-6, 0, 0, 0]], check: voidResult },
  { name: 'stage read back, float32', tool: 'DigitalTwin_get_stage', check: (r) => expect(value(r)).toEqual([Math.fround(2e-6), Math.fround(-1e-6), 0, 0, 0]) },
  { name: 'defocus set', tool: 'DigitalTwin_set_defocus', argument: ['defocus', 8e-9], check: voidResult },
  // As PyTango gives it back: 8e-9 through float32.
  { name: 'defocus read', tool: 'DigitalTwin_get_defocus', check: (r) => expect(textOf(r)).toBe('7.999999773744548e-9') },
  { name: 'field of view set', tool: 'DigitalTwin_set_fov', argument: ['fov', 2e-6], check: voidResult },
  { name: 'field of view read', tool: 'DigitalTwin_get_fov', check: (r) => expect(value(r)).toBe(Math.fround(2e-6)) },
  {
    name: 'overview',
    tool: 'DigitalTwin_acquire_scanned_image',
    argument: ['detector_list', ['haadf']],
    check: (r, keys) => {
      keys.overview = textOf(r);
      expect(keys.overview).toMatch(/^stem_image_HAADF_\d{8}T\d{12}\.h5$/);
    },
  },
  { name: 'overview read-back', tool: 'get_data_from_key', argument: ['key', '<overview>'], check: (r) => expect(datasets(r).map((d) => d.name)).toContain('image/HAADF') },
  { name: 'park the beam', tool: 'DigitalTwin_place_beam', argument: ['position', [0.5, 0.5]], check: voidResult },
  {
    name: 'EDS spectrum',
    tool: 'DigitalTwin_acquire_spectrum',
    argument: ['detector_name', 'eds'],
    check: (r, keys) => {
      keys.spectrum = textOf(r);
      expect(keys.spectrum).toMatch(/^spectrum_eds_/);
    },
  },
  { name: 'spectrum read-back', tool: 'get_data_from_key', argument: ['key', '<spectrum>'], check: (r) => expect(datasets(r).map((d) => d.name)).toEqual(['spectrum']) },
  {
    name: 'parameters',
    tool: 'DigitalTwin_get_parameters',
    check: (r) => {
      const parameters = JSON.parse(textOf(r)) as Record<string, unknown>;
      for (const k of ['manufacturer', 'stem_mode', 'defocus_m', 'device_proxies', 'scan_detectors', 'spectrum_detectors', 'camera_detectors', 'stage_position', 'beam_position', 'fov_m', 'imsize']) {
        expect(parameters, k).toHaveProperty(k);
      }
      expect(parameters.defocus_m).toBe(Math.fround(8e-9));
      expect(parameters.camera_detectors).toContain('BM-Ceta');
    },
  },
];

describe.each<Style>(['named', 'arg'])('notebook sequences over the SDK client, %s arguments', (style) => {
  let server: RunningServer;
  let client: Client;
  const keys: Record<string, string> = {};

  beforeAll(async () => {
    server = await serve();
    client = await mcpClient(server, { name: `notebook-${style}` });
  });
  afterAll(async () => {
    await client?.close();
    await server?.close();
  });

  it('has 17 steps', () => expect(STEPS).toHaveLength(17));

  // Each step runs after the ones before it (vitest runs a file's tests in order).
  it.each(STEPS.map((s, i) => [i + 1, s.name, s] as const))('step %i: %s', async (_i, _name, step) => {
    const args: Record<string, unknown> = {};
    if (step.argument) {
      const [parameter, given] = step.argument;
      const v = typeof given === 'string' && given.startsWith('<') ? keys[given.slice(1, -1)] : given;
      // get_data_from_key has always named its arguments; command tools take `arg` on the older bridge.
      args[step.tool === 'get_data_from_key' || style === 'named' ? parameter : 'arg'] = v;
    }
    const result = await call(client, step.tool, args);
    expect(result.isError, `${step.tool}: ${textOf(result)}`).toBeFalsy();
    step.check(result, keys);
  });
});
