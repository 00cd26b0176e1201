import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { COMMANDS, DEVICES, tangoClass } from '../../src/protocol/commands.js';
import { dataset, InstrumentError, type Instrument } from '../../src/protocol/instrument.js';
import { Microscope } from '../../src/protocol/microscope.js';
import { connectRemoteInstrument } from '../../src/protocol/remote.js';
import { LATENCY_CATEGORIES } from '../../src/protocol/timing.js';
import type { RunningServer } from '../../src/server/http/server.js';
import { call, f32, http, mcpClient, serve, textOf, toolError } from './server-fixtures.js';

const sum = (b: Record<string, number | undefined>) => LATENCY_CATEGORIES.reduce((s, c) => s + (b[c] ?? 0), 0);

describe('MCP with the official SDK client', () => {
  let server: RunningServer;
  let client: Client;

  beforeAll(async () => {
    server = await serve();
    client = await mcpClient(server);
  });
  afterAll(async () => {
    await client?.close();
    await server?.close();
  });

  it('lists one tool per command, named and described as the bridge does, and the data tools', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    for (const c of COMMANDS) expect(names).toContain(`${tangoClass(c.device)}_${c.name}`);
    for (const extra of ['list_devices', 'get_data_from_key', 'DigitalTwin_get_clock', 'DigitalTwin_get_scenario', 'DigitalTwin_reset', 'SCAN_write_attribute', 'CAMERA_read_attribute']) expect(names).toContain(extra);
    const move = tools.find((t) => t.name === 'DigitalTwin_move_stage')!;
    expect(move.description).toContain('Tango Device Class: DigitalTwin');
    expect(move.description).toContain('Input Type: DevVarFloatArray');
    expect(move.inputSchema.required).toEqual(['position']);
    // A void command has no output schema, so the SDK client takes its empty content.
    expect(move.outputSchema).toBeUndefined();
    expect(tools.find((t) => t.name === 'DigitalTwin_get_stage')!.outputSchema).toMatchObject({ properties: { result: { type: 'array' } }, required: ['result'] });
    for (const extra of tools.filter((t) => /(_write_attribute|_read_attribute|_get_clock|_get_scenario|_reset|_lease)$/.test(t.name))) expect(extra.description).toMatch(/^Twin extra/);
    const devices = await call(client, 'list_devices');
    expect(devices.structuredContent).toEqual({ result: DEVICES.map((d) => `asyncroscopy/${d.toLowerCase()}/default`) });
    expect(JSON.parse(textOf(devices))).toContain('asyncroscopy/scan/default');
  });

  it('moves the stage, acquires an overview, an EDX frame and an EELS spectrum, and reads them back by key', async () => {
    expect((await call(client, 'SCAN_write_attribute', { attribute: 'imsize', value: 64 })).isError).toBeFalsy();
    expect((await call(client, 'SCAN_read_attribute', { attribute: 'imsize' })).structuredContent).toEqual({ result: 64 });

    const move = await call(client, 'DigitalTwin_move_stage', { position: [5e-6, -4e-6, 0, 0, 0] });
    expect(move.isError).toBeFalsy();
    // A void command: empty content, no structured content, the timing in _meta.
    expect(move.content).toEqual([]);
    expect(move.structuredContent).toBeUndefined();
    const timing = move._meta as { start_s: number; end_s: number; breakdown_s: Record<string, number> };
    expect(timing.breakdown_s.stage_travel).toBeGreaterThan(0);
    expect(timing.end_s - timing.start_s).toBeCloseTo(sum(timing.breakdown_s), 9);
    const stage = await call(client, 'DigitalTwin_get_stage');
    expect(stage.structuredContent).toEqual({ result: f32([5e-6, -4e-6, 0, 0, 0]) });
    expect(JSON.parse(textOf(stage))).toEqual(f32([5e-6, -4e-6, 0, 0, 0]));
    await call(client, 'DigitalTwin_auto_focus');

    const acquired = await call(client, 'DigitalTwin_acquire_scanned_image', { detector_list: ['haadf'] });
    const overview = acquired.structuredContent as { result: string };
    expect(overview.result).toMatch(/^stem_image_HAADF_\d{8}T\d{12}\.h5$/);
    // A string result: its raw text (not JSON-quoted) and {result}.
    expect(textOf(acquired)).toBe(overview.result);
    const edx = (await call(client, 'DigitalTwin_acquire_scanned_image', { arg: ['haadf', 'eds'] })).structuredContent as { result: string };
    // Marked required, as on the real bridge, but an optional argument left out takes the instrument's default (["haadf"]).
    expect(textOf(await call(client, 'DigitalTwin_acquire_scanned_image', {}))).toMatch(/^stem_image_HAADF_\d{8}T\d{12}\.h5$/);
    expect(edx.result).toMatch(/^stem_image_HAADF_EDS_/);
    await call(client, 'DigitalTwin_place_beam', { position: [0.5, 0.5] });
    const eels = await call(client, 'EELS_acquire_eels_spectrum');
    const eelsKey = (eels.structuredContent as { result: string }).result;
    expect(eelsKey).toMatch(/^spectrum_eels_/);
    expect((eels._meta as { breakdown_s: Record<string, number> }).breakdown_s.eels).toBeGreaterThan(0);

    const whole = await call(client, 'get_data_from_key', { key: overview.result, max_values: 64 * 64 });
    const record = whole.structuredContent as { key: string; datasets: { name: string; shape: number[]; preview: number[] }[] };
    expect(record.key).toBe(overview.result);
    const haadf = record.datasets.find((d) => d.name === 'image/HAADF')!;
    expect(haadf.shape).toEqual([64, 64]);
    expect(haadf.preview).toEqual(Array.from(dataset(server.twin.twin.data.get(overview.result), 'image/HAADF').values));

    const short = (await call(client, 'get_data_from_key', { key: overview.result })).structuredContent as typeof record;
    expect(short.datasets[0]!.preview).toHaveLength(64);

    const edxRecord = (await call(client, 'get_data_from_key', { key: edx.result, max_values: 10 })).structuredContent as typeof record;
    expect(edxRecord.datasets.map((d) => d.name)).toEqual(expect.arrayContaining(['image/HAADF', 'image/EDS_Au', 'image/EDS_Co', 'image/EDS_Ni', 'image/EDS_background']));
    const spectrum = (await call(client, 'get_data_from_key', { key: eelsKey, max_values: 5000 })).structuredContent as typeof record;
    expect(spectrum.datasets[0]!.shape).toEqual([2048]);
    expect(spectrum.datasets[0]!.preview).toHaveLength(2048);

    const clock = (await call(client, 'DigitalTwin_get_clock')).structuredContent as { result: number };
    expect(clock.result).toBe(server.twin.sim.now);
  });

  it('answers bad calls with a tool error naming the reason, and leaves the state unchanged', async () => {
    const before = server.twin.twin.state;
    const far = await call(client, 'DigitalTwin_move_stage', { position: [1, 0, 0, 0, 0] });
    expect(far.isError).toBe(true);
    expect(toolError(far)).toMatchObject({ reason: 'OutOfRange', origin: 'DigitalTwin.move_stage' });
    expect(textOf(far)).toMatch(/^Error calling tool 'DigitalTwin_move_stage': DevFailed\[ DevError\[ desc = .+, origin = DigitalTwin\.move_stage, reason = OutOfRange, severity = ERR\] \]$/);
    const wrongType = await call(client, 'DigitalTwin_set_fov', { fov: 'wide' });
    expect(toolError(wrongType)).toMatchObject({ reason: 'API_InvalidArgument' });
    expect(toolError(wrongType)!.description).toMatch(/must be a number/);
    const unknownArg = await call(client, 'DigitalTwin_get_stage', { speed: 3 });
    expect(toolError(unknownArg)).toMatchObject({ reason: 'API_InvalidArgument' });
    expect(toolError(unknownArg)!.description).toContain('DigitalTwin_get_stage takes no arguments');
    const misnamed = await call(client, 'DigitalTwin_set_fov', { field: 2e-6 });
    expect(toolError(misnamed)!.description).toBe('unknown argument "field"; DigitalTwin_set_fov takes "fov" (or "arg", the older bridge\'s name for it).');
    const both = await call(client, 'DigitalTwin_set_fov', { fov: 2e-6, arg: 2e-6 });
    expect(toolError(both)!.description).toMatch(/^both "fov" and "arg" given; DigitalTwin_set_fov takes "fov"/);
    const missing = await call(client, 'DigitalTwin_set_fov', {});
    expect(toolError(missing)!.description).toMatch(/^missing argument "fov"; DigitalTwin_set_fov takes "fov"/);
    const unknownTool = await call(client, 'DigitalTwin_fly');
    expect(toolError(unknownTool)).toMatchObject({ reason: 'API_CommandNotFound' });
    const noData = await call(client, 'get_data_from_key', { key: 'nope.h5' });
    expect(toolError(noData)).toMatchObject({ reason: 'API_DataNotFound' });
    expect(toolError(noData)!.description).toMatch(/^Could not resolve data key: no data under key "nope.h5"/);
    expect(server.twin.twin.state).toBe(before);
  });
});

describe('remote instrument adapter', () => {
  let server: RunningServer;
  let remote: Instrument;

  beforeAll(async () => {
    server = await serve();
    remote = await connectRemoteInstrument(server.mcpUrl, { clientName: 'adapter-test' });
  });
  afterAll(async () => {
    await remote?.close();
    await server?.close();
  });

  it('drives the served twin through the Microscope facade, with exact simulated times', async () => {
    const traces: { start_s: number; end_s: number }[] = [];
    const m = new Microscope(remote, (t) => traces.push(t));
    await m.setScan({ imsize: 32 });
    await m.moveStageXY(3e-6, 2e-6);
    expect(await m.getStage()).toEqual(f32([3e-6, 2e-6, 0, 0, 0]));
    const key = await m.acquireScannedImage(['haadf']);
    const record = await m.getData(key);
    const local = server.twin.twin.data.get(key);
    expect(record.datasets.map((d) => d.name)).toEqual(local.datasets.map((d) => d.name));
    expect(dataset(record, 'image/HAADF').values).toEqual(dataset(local, 'image/HAADF').values);
    expect(dataset(record, 'image/HAADF').values).toBeInstanceOf(Float64Array);
    expect(await remote.now_s()).toBe(server.twin.sim.now);
    expect(traces.at(-1)!.end_s).toBe(server.twin.sim.now);
    for (let i = 1; i < traces.length; i++) expect(traces[i]!.start_s).toBeGreaterThanOrEqual(traces[i - 1]!.end_s);
    expect(await remote.readAttribute('SCAN', 'imsize')).toBe(32);
    expect(m.breakdown_s.stage_travel).toBeGreaterThan(0);
  });

  it('turns tool errors into InstrumentError with the server reason and description', async () => {
    const e = await remote.execute({ command: 'move_stage', args: [0, 0, 0, 90, 0] }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InstrumentError);
    expect((e as InstrumentError).reason).toBe('OutOfRange');
    expect((e as InstrumentError).description).toMatch(/alpha/);
    const missing = await remote.execute({ command: 'teleport' }).catch((x: unknown) => x);
    expect(missing).toMatchObject({ reason: 'API_CommandNotFound' });
    const attr = await remote.writeAttribute({ device: 'SCAN', attribute: 'dwell_time', value: -1 }).catch((x: unknown) => x);
    expect(attr).toMatchObject({ reason: 'OutOfRange' });
    expect(await remote.getData('missing.h5').catch((x: unknown) => x)).toMatchObject({ reason: 'API_DataNotFound' });
  });

  it('names the client in the holder and in telemetry', async () => {
    const seen: string[] = [];
    const sub = server.twin.telemetry.records$.subscribe((r) => r.type === 'command-start' && seen.push(String(r.client)));
    await remote.execute({ command: 'get_fov' });
    sub.unsubscribe();
    expect(seen).toEqual(['adapter-test']);
  });
});

describe('token', () => {
  const token = 'correct-horse-battery';
  let server: RunningServer;

  beforeAll(async () => {
    server = await serve({ token });
  });
  afterAll(async () => server?.close());

  it('needs the token for state changes; reads stay open on loopback', async () => {
    const anonymous = await connectRemoteInstrument(server.mcpUrl);
    expect((await anonymous.execute({ command: 'get_stage' })).value).toEqual([0, 0, 0, 0, 0]);
    await expect(anonymous.execute({ command: 'move_stage', args: [1e-6, 0, 0, 0, 0] })).rejects.toMatchObject({ reason: 'Unauthorized' });
    await expect(anonymous.writeAttribute({ device: 'SCAN', attribute: 'imsize', value: 64 })).rejects.toMatchObject({ reason: 'Unauthorized' });
    await anonymous.close();

    const trusted = await connectRemoteInstrument(server.mcpUrl, { token });
    await trusted.execute({ command: 'move_stage', args: [1e-6, 0, 0, 0, 0] });
    expect((await trusted.execute({ command: 'get_stage' })).value).toEqual(f32([1e-6, 0, 0, 0, 0]));
    await trusted.close();

    await expect(connectRemoteInstrument(server.mcpUrl, { token: 'wrong-token-123' })).rejects.toMatchObject({ reason: 'Unauthorized' });

    expect((await http(server, 'POST', '/api/commands', { command: 'move_stage', args: [0, 0, 0, 0, 0] })).status).toBe(401);
    expect((await http(server, 'PUT', '/api/devices/SCAN/attributes/imsize', { value: 64 })).status).toBe(401);
    expect((await http(server, 'GET', '/api/state')).status).toBe(200);
    const ok = await http(server, 'POST', '/api/commands', { command: 'move_stage', args: [0, 0, 0, 0, 0] }, { authorization: `Bearer ${token}` });
    expect(ok.status).toBe(200);
    expect((await http(server, 'GET', '/api/state', undefined, { authorization: 'Bearer nope-nope-nope' })).status).toBe(401);
  });
});
