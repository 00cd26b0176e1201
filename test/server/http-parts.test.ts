import { describe, expect, it } from 'vitest';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { COMMANDS, ATTRIBUTES, tangoClass } from '../../src/protocol/commands.js';
import { InstrumentError, type DataRecord } from '../../src/protocol/instrument.js';
import { findCommandTool } from '../../src/protocol/remote.js';
import { checkArgument, lookupCommand } from '../../src/server/http/arguments.js';
import { AccessPolicy, bearerToken, hostHeaderAllowed, hostName, isLoopbackAddress, isLoopbackHost, sameSecret } from '../../src/server/http/auth.js';
import { BeamQueue } from '../../src/server/http/beam-queue.js';
import { clientIdHeader } from '../../src/server/http/clients.js';
import { describeError, httpStatusOf } from '../../src/server/http/errors.js';
import { dataRecordToWire, errorBody, toWire } from '../../src/server/http/serialization.js';
import { publishProblem } from '../../src/server/http/telemetry.js';
import { commandToolName, exportedDevices, TOOL_CATALOGUE } from '../../src/server/http/tools.js';

function refusal(f: () => unknown): InstrumentError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(InstrumentError);
    return e as InstrumentError;
  }
  throw new Error('expected a refusal');
}

describe('access policy', () => {
  it('knows loopback addresses and hosts', () => {
    for (const a of ['127.0.0.1', '127.5.6.7', '::1', '::ffff:127.0.0.1']) expect(isLoopbackAddress(a)).toBe(true);
    for (const a of ['10.0.0.1', '::ffff:192.168.1.2', '0.0.0.0', '::', undefined, '128.0.0.1']) expect(isLoopbackAddress(a)).toBe(false);
    expect(isLoopbackHost('localhost')).toBe(true);
    expect(isLoopbackHost('0.0.0.0')).toBe(false);
  });

  it('opens everything without a token', () => {
    expect(new AccessPolicy(undefined).decide('10.1.1.1', undefined)).toEqual({ ok: true, access: 'write' });
  });

  it('with a token: writes need it, loopback reads are open, remote reads and wrong tokens are refused', () => {
    const p = new AccessPolicy('s3cret-token');
    expect(p.decide('127.0.0.1', 's3cret-token')).toEqual({ ok: true, access: 'write' });
    expect(p.decide('10.0.0.2', 's3cret-token')).toEqual({ ok: true, access: 'write' });
    expect(p.decide('127.0.0.1', undefined)).toEqual({ ok: true, access: 'read' });
    expect(p.decide('10.0.0.2', undefined).ok).toBe(false);
    expect(p.decide('127.0.0.1', 's3cret-tokem').ok).toBe(false);
    expect(p.decide('127.0.0.1', '').ok).toBe(false);
  });

  it('compares secrets exactly and reads bearer headers', () => {
    expect(sameSecret('abc', 'abc')).toBe(true);
    expect(sameSecret('abc', 'abcd')).toBe(false);
    expect(bearerToken({ authorization: 'Bearer  tok ' })).toBe('tok');
    expect(bearerToken({ authorization: 'Basic xyz' })).toBe('');
    expect(bearerToken({})).toBeUndefined();
  });

  it('answers on loopback only to loopback Host names (no DNS rebinding)', () => {
    expect(hostName('127.0.0.1:8000')).toBe('127.0.0.1');
    expect(hostName('[::1]:8000')).toBe('::1');
    expect(hostName('LOCALHOST')).toBe('localhost');
    for (const h of ['127.0.0.1:8000', 'localhost:8000', '[::1]:9', 'localhost']) expect(hostHeaderAllowed('127.0.0.1', h)).toBe(true);
    for (const h of ['evil.example:8000', 'evil.example', '10.0.0.1:8000', undefined]) expect(hostHeaderAllowed('127.0.0.1', h)).toBe(false);
    expect(hostHeaderAllowed('0.0.0.0', 'lab-pc.example:8000')).toBe(true);
  });

  it('cleans client names', () => {
    expect(clientIdHeader({ 'x-client-id': 'policy-1@lab' })).toBe('policy-1@lab');
    expect(clientIdHeader({ 'x-client-id': '<script>' })).toBe('_script_');
    expect(clientIdHeader({ 'x-client-id': 'x'.repeat(500) })!.length).toBe(100);
    expect(clientIdHeader({})).toBeUndefined();
  });
});

describe('argument shapes', () => {
  const spec = (name: string, device: 'instrument' | 'EELS' = 'instrument') => lookupCommand(device, name);

  it('accepts each Tango type and refuses wrong shapes with the argument named', () => {
    expect(checkArgument(spec('move_stage'), [0, 0, 0, 0, 0])).toEqual([0, 0, 0, 0, 0]);
    expect(refusal(() => checkArgument(spec('move_stage'), [0, 'a'])).description).toMatch(/position\[1\] must be a number/);
    expect(refusal(() => checkArgument(spec('move_stage'), 5)).description).toMatch(/array of numbers/);
    expect(refusal(() => checkArgument(spec('move_stage'), undefined)).description).toMatch(/takes one argument/);
    expect(refusal(() => checkArgument(spec('set_fov'), Infinity)).description).toMatch(/finite/);
    expect(checkArgument(spec('set_fov'), 1e-6)).toBe(1e-6);
    expect(refusal(() => checkArgument(spec('set_eels_dispersion', 'EELS'), 1.5)).description).toMatch(/whole number/);
    expect(refusal(() => checkArgument(spec('get_stage'), [1])).description).toMatch(/takes no argument/);
    expect(checkArgument(spec('acquire_scanned_image'), undefined)).toBeUndefined();
    expect(refusal(() => checkArgument(spec('acquire_scanned_image'), ['haadf', 3])).description).toMatch(/detector_list\[1\] must be a string/);
    expect(refusal(() => checkArgument(spec('set_column_valves'), 'x'.repeat(5000))).description).toMatch(/characters/);
    expect(refusal(() => checkArgument(spec('place_beam_list'), new Array(20_000).fill(0.5))).description).toMatch(/at most/);
  });

  it('names unknown commands and devices', () => {
    expect(refusal(() => lookupCommand('instrument', 'fly')).reason).toBe('API_CommandNotFound');
    expect(refusal(() => lookupCommand('instrument', 'acquire_eels_spectrum')).description).toMatch(/EELS device/);
    expect(refusal(() => lookupCommand('LASER', 'fire')).reason).toBe('API_DeviceNotFound');
    expect(refusal(() => lookupCommand(undefined, 42)).reason).toBe('API_InvalidArgument');
    expect(lookupCommand(undefined, 'get_stage').device).toBe('instrument');
  });
});

describe('tool catalogue', () => {
  it('has one tool per command, named as the bridge names it, with the bridge description lines', () => {
    for (const c of COMMANDS) {
      const name = commandToolName(c);
      expect(name).toBe(`${tangoClass(c.device)}_${c.name}`);
      const entry = TOOL_CATALOGUE.get(name)!;
      expect(entry.changesState).toBe(c.changesState);
      expect(entry.tool.description).toContain(`Tango Command: ${c.name}`);
      expect(entry.tool.description).toContain(`Input Type: ${c.input}`);
      expect(entry.tool.description).toContain(`Output Type: ${c.output}`);
    }
    expect(TOOL_CATALOGUE.has('DigitalTwin_move_stage')).toBe(true);
    expect(TOOL_CATALOGUE.has('EELS_acquire_eels_spectrum')).toBe(true);
    for (const extra of ['list_devices', 'get_data_from_key', 'DigitalTwin_get_clock', 'SCAN_write_attribute', 'SCAN_read_attribute', 'EDS_write_attribute', 'EELS_write_attribute', 'STAGE_write_attribute']) {
      expect(TOOL_CATALOGUE.has(extra), extra).toBe(true);
    }
    const scanWrite = TOOL_CATALOGUE.get('SCAN_write_attribute')!;
    for (const a of ATTRIBUTES.filter((x) => x.device === 'SCAN')) expect(scanWrite.tool.description).toContain(a.name);
    expect(exportedDevices()).toContain('asyncroscopy/instrument/default');
    expect(exportedDevices()).toContain('asyncroscopy/eels/default');
    expect(exportedDevices()).toContain('asyncroscopy/corrector/default');
  });

  it('lets the remote adapter find tools by suffix on the real bridge and on the twin', () => {
    const tool = (name: string): Tool => ({ name, inputSchema: { type: 'object' } });
    const bridge = ['AutoScriptMicroscope_move_stage', 'AutoScriptMicroscope_place_beam', 'AutoScriptMicroscope_place_beam_list', 'EELS_acquire_eels_spectrum', 'CAMERA_get_stage', 'get_data_from_key'].map(tool);
    expect(findCommandTool(bridge, 'instrument', 'move_stage')?.name).toBe('AutoScriptMicroscope_move_stage');
    expect(findCommandTool(bridge, 'instrument', 'place_beam')?.name).toBe('AutoScriptMicroscope_place_beam');
    expect(findCommandTool(bridge, 'EELS', 'acquire_eels_spectrum')?.name).toBe('EELS_acquire_eels_spectrum');
    // A device's tool with the same suffix is not the instrument's.
    expect(findCommandTool(bridge, 'instrument', 'get_stage')).toBeUndefined();
    const twin = [...TOOL_CATALOGUE.values()].map((e) => e.tool);
    for (const c of COMMANDS) expect(findCommandTool(twin, c.device, c.name)?.name).toBe(commandToolName(c));
  });
});

describe('wire forms', () => {
  const record: DataRecord = {
    key: 'k.h5',
    uri: 'twin://data/k.h5',
    format: 'hdf5',
    attrs: { center_m: [1, 2] },
    datasets: [{ name: 'spectrum', shape: [4], dtype: 'float64', attrs: { bad: NaN }, values: new Float64Array([1, NaN, 3, 4]) }],
  };

  it('cuts previews to max_values and turns non-finite numbers into null', () => {
    expect(dataRecordToWire(record, 2).datasets[0]!.preview).toEqual([1, null]);
    expect(dataRecordToWire(record, 100).datasets[0]!.preview).toEqual([1, null, 3, 4]);
    expect(dataRecordToWire(record, 2).datasets[0]!.attrs).toEqual({ bad: null });
    expect(toWire({ a: new Float64Array([1, 2]), b: undefined, c: Infinity, d: [undefined] })).toStrictEqual({ a: [1, 2], c: null, d: [null] });
  });

  it('maps errors to a reason, a description and an HTTP status', () => {
    expect(errorBody(new InstrumentError('OutOfRange', 'too far', 'DigitalTwin.move_stage'))).toEqual({ reason: 'OutOfRange', description: 'too far', origin: 'DigitalTwin.move_stage' });
    expect(errorBody(new Error('boom'))).toEqual({ reason: 'InternalError', description: 'boom' });
    expect(httpStatusOf('OutOfRange')).toBe(400);
    expect(httpStatusOf('API_DataNotFound')).toBe(404);
    expect(httpStatusOf('BeamBlanked')).toBe(409);
    expect(httpStatusOf('InstrumentBusy')).toBe(423);
    expect(describeError(Object.assign(new Error('body/command must be string'), { validation: [] })).status).toBe(400);
  });

  it('checks published campaign events', () => {
    expect(publishProblem({ type: 'iteration', i: 1 })).toBeUndefined();
    expect(publishProblem(null)).toMatch(/object/);
    expect(publishProblem([1])).toMatch(/object/);
    expect(publishProblem({ kind: 'x' })).toMatch(/type/);
    expect(publishProblem({ type: 'x', pad: 'y'.repeat(70_000) })).toMatch(/bytes/);
  });
});

describe('one beam', () => {
  it('runs jobs one at a time in arrival order, naming the holder', async () => {
    const q = new BeamQueue();
    const log: string[] = [];
    const holders: (string | null)[] = [];
    q.holder$.subscribe((h) => holders.push(h ? h.client : null));
    const job = (name: string, ms: number) => async () => {
      log.push(`start ${name}`);
      expect(q.holder?.client).toBe(name);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`end ${name}`);
      if (name === 'b') throw new Error('b fails');
      return name;
    };
    const results = await Promise.allSettled([q.run('a', 'x', job('a', 5)), q.run('b', 'x', job('b', 1)), q.run('c', 'x', job('c', 1))]);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(holders).toEqual(['a', null, 'b', null, 'c', null]);
    expect(q.holder).toBeNull();
  });

  it('refuses work beyond the queue limit', async () => {
    const q = new BeamQueue(1);
    let release!: () => void;
    const first = q.run('a', 'x', () => new Promise<void>((r) => (release = r)));
    await new Promise((r) => setTimeout(r, 0));
    expect(q.holder?.client).toBe('a');
    const second = q.run('b', 'x', async () => 'b');
    expect(q.queued).toBe(1);
    await expect(q.run('c', 'x', async () => 'c')).rejects.toMatchObject({ reason: 'InstrumentBusy' });
    release();
    await first;
    await expect(second).resolves.toBe('b');
  });
});
