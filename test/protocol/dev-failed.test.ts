import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { formatDevFailed, parseDevFailed, parseToolError, toolErrorText } from '../../src/protocol/dev-failed.js';

/** A field the one-line form carries unambiguously: no field marker of its own, no edge spaces. */
const plainField = (s: string) => s.trim() === s && !/(origin|reason|severity)\s*=/.test(s);

describe('DevFailed texts, as the MCP bridge carries Tango errors', () => {
  it('formats a refusal in the bridge shape exactly', () => {
    const text = toolErrorText('DigitalTwin_move_stage', { reason: 'OutOfRange', description: 'alpha 50 deg is beyond +-35', origin: 'DigitalTwin.move_stage' });
    expect(text).toBe(
      "Error calling tool 'DigitalTwin_move_stage': DevFailed[ DevError[ desc = alpha 50 deg is beyond +-35, origin = DigitalTwin.move_stage, reason = OutOfRange, severity = ERR] ]",
    );
  });

  it('reads the bridge one-line text back into an InstrumentError', () => {
    const e = parseToolError(
      "Error calling tool 'DigitalTwin_set_fov': DevFailed[ DevError[ desc = fov must be positive, got -1, origin = DigitalTwin.set_fov, reason = API_InvalidArgument, severity = ERR] ]",
      'fallback',
    );
    expect(e.toJSON()).toEqual({ reason: 'API_InvalidArgument', description: 'fov must be positive, got -1', origin: 'DigitalTwin.set_fov' });
  });

  it("reads PyTango's own multi-line str(DevFailed), origins with commas, and error stacks (first entry first)", () => {
    const text = [
      'DevFailed[',
      'DevError[',
      '    desc = ValueError: bad value, really',
      '  origin = File "/x/y.py", line 12, in move_stage',
      '  reason = PyDs_PythonError',
      'severity = ERR]',
      '',
      'DevError[',
      '    desc = Failed to execute command_inout on device asyncroscopy/instrument/default, command move_stage',
      '  origin = Connection::command_inout()',
      '  reason = API_CommandFailed',
      'severity = ERR]',
      ']',
    ].join('\n');
    const errors = parseDevFailed(text)!;
    expect(errors).toHaveLength(2);
    expect(errors[0]).toEqual({ desc: 'ValueError: bad value, really', origin: 'File "/x/y.py", line 12, in move_stage', reason: 'PyDs_PythonError', severity: 'ERR' });
    expect(errors[1]!.reason).toBe('API_CommandFailed');
    expect(parseToolError(`Error calling tool 'DigitalTwin_move_stage': ${text}`, 'x').reason).toBe('PyDs_PythonError');
  });

  it('keeps a text without DevFailed as the description, naming the tool it names', () => {
    const e = parseToolError("Error calling tool 'DigitalTwin_get_fov': RuntimeError: device not exported", 'DigitalTwin.get_fov');
    expect(e.toJSON()).toEqual({ reason: 'API_CommandFailed', description: 'RuntimeError: device not exported', origin: 'DigitalTwin_get_fov' });
    expect(parseToolError('Unknown tool: foo', 'foo', 'API_CommandNotFound').toJSON()).toEqual({ reason: 'API_CommandNotFound', description: 'Unknown tool: foo', origin: 'foo' });
    expect(parseDevFailed('DevFailed[ nothing ]')).toBeUndefined();
  });

  test.prop([
    fc.string({ minLength: 1 }).filter(plainField),
    fc.string({ minLength: 1 }).filter(plainField),
    fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]*$/),
  ])('format and parse are inverse (property)', (description, origin, reason) => {
    const e = parseToolError(toolErrorText('T_x', { reason, description, origin }), 'fallback');
    expect(e.toJSON()).toEqual({ reason, description, origin });
  });

  it('formats several entries as one stack', () => {
    const text = formatDevFailed([
      { reason: 'A', desc: 'first', origin: 'o1', severity: 'ERR' },
      { reason: 'B', desc: 'second', origin: 'o2', severity: 'WARN' },
    ]);
    expect(parseDevFailed(text)!.map((e) => e.reason)).toEqual(['A', 'B']);
  });
});
