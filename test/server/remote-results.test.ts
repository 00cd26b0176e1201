import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { InstrumentError } from '../../src/protocol/instrument.js';
import { parseDevFailed } from '../../src/protocol/dev-failed.js';
import { resultValue, toolError } from '../../src/protocol/mcp-results.js';

/** The remote adapter's reading of tool results and errors, in each bridge's shapes (written out by hand here). */

const text = (t: string, structured?: Record<string, unknown>): CallToolResult => ({ content: [{ type: 'text', text: t }], ...(structured ? { structuredContent: structured } : {}) });

describe('results', () => {
  it('reads a string as raw text, a list as JSON, a void as null, in both bridges\' shapes', () => {
    // FastMCP: raw text plus {result}.
    expect(resultValue(text('stem_image_HAADF_20260101T000000000000.h5', { result: 'stem_image_HAADF_20260101T000000000000.h5' }), 'DevString')).toBe('stem_image_HAADF_20260101T000000000000.h5');
    // The served twin before issue 9: a JSON-encoded string plus {result}.
    expect(resultValue(text('"key.h5"', { result: 'key.h5' }), 'DevString')).toBe('key.h5');
    // A DevString that looks like JSON stays a string (get_parameters), even without structured content.
    expect(resultValue(text('{"manufacturer":"twin"}'), 'DevString')).toBe('{"manufacturer":"twin"}');
    expect(resultValue(text('ON'), 'DevState')).toBe('ON');
    expect(resultValue(text('[1.5,2]'), 'DevVarFloatArray')).toEqual([1.5, 2]);
    expect(resultValue(text('[1.5,2]', { result: [1.5, 2] }))).toEqual([1.5, 2]);
    expect(resultValue({ content: [] }, 'DevVoid')).toBeNull();
    expect(resultValue({ content: [] })).toBeNull();
    // The older served twin sent "null" for a void command.
    expect(resultValue(text('null', { result: null }), 'DevVoid')).toBeNull();
    // A PNG preview block beside the key is not the value.
    expect(resultValue({ content: [{ type: 'text', text: 'k.h5' }, { type: 'image', data: 'iVBOR', mimeType: 'image/png' }] }, 'DevString')).toBe('k.h5');
  });
});

describe('DevFailed texts', () => {
  const oneLine = "Error calling tool 'DigitalTwin_move_stage': DevFailed[ DevError[ desc = alpha 50 deg is beyond +-35, tilt less, origin = DigitalTwin.move_stage, reason = OutOfRange, severity = ERR] ]";
  const pyTango = "Error calling tool 'AutoScriptMicroscope_set_fov': DevFailed[\nDevError[\n    desc = fov 1 m beyond the range [1e-9, 1e-3]\n  origin = AutoScriptMicroscope.set_fov\n  reason = API_InvalidArgument\nseverity = ERR]\n\nDevError[\n    desc = re-thrown\n  origin = Device_3Impl::command_inout\n  reason = API_CommandFailed\nseverity = ERR]\n]";

  it('parses the one-line and the multi-line layout, first DevError first', () => {
    expect(parseDevFailed(oneLine)?.[0]).toEqual({ desc: 'alpha 50 deg is beyond +-35, tilt less', origin: 'DigitalTwin.move_stage', reason: 'OutOfRange', severity: 'ERR' });
    expect(parseDevFailed(pyTango)?.[0]).toEqual({ desc: 'fov 1 m beyond the range [1e-9, 1e-3]', origin: 'AutoScriptMicroscope.set_fov', reason: 'API_InvalidArgument', severity: 'ERR' });
    expect(parseDevFailed("Error calling tool 'x': ValueError: odd count")).toBeUndefined();
  });

  it('turns tool errors into InstrumentError(reason, desc, origin)', () => {
    const err = (t: string) => toolError({ isError: true, content: [{ type: 'text', text: t }] }, 'instrument.move_stage');
    expect(err(oneLine)).toMatchObject({ reason: 'OutOfRange', description: 'alpha 50 deg is beyond +-35, tilt less', origin: 'DigitalTwin.move_stage' });
    expect(err(pyTango)).toBeInstanceOf(InstrumentError);
    // The served twin's older JSON body.
    expect(err(JSON.stringify({ reason: 'BeamShiftRange', description: 'beyond the deflectors', origin: 'DigitalTwin.set_image_shift' }))).toMatchObject({ reason: 'BeamShiftRange', origin: 'DigitalTwin.set_image_shift' });
    // A Python exception without DevFailed: its text, FastMCP's prefix dropped, and our origin.
    expect(err("Error calling tool 'get_data_from_key': Could not resolve data key 'nope.h5'")).toMatchObject({ reason: 'API_CommandFailed', description: "Could not resolve data key 'nope.h5'", origin: 'instrument.move_stage' });
  });
});
