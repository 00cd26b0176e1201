import { COMMANDS, commandNotFound, DEVICES, tangoClass, type ArgType, type CommandSpec, type DeviceName } from '../../protocol/commands.js';
import { InstrumentError, shown } from '../../protocol/instrument.js';

/**
 * Argument checks at the HTTP boundary, by Tango type, before anything reaches the instrument
 * (as the real bridge's schema validation does before Tango sees a call). Ranges and meanings are
 * the instrument's business; here only shapes: a wrong shape costs no instrument time.
 */


/** Bounds on sizes, so one request cannot ask the instrument for absurd work. */
export const MAX_ARRAY_LENGTH = 10_000;
export const MAX_STRING_LENGTH = 1_000;


/** The command, or API_CommandNotFound / API_DeviceNotFound naming what exists. */
export function lookupCommand(device: unknown, command: unknown): CommandSpec {
  const d = (device ?? 'instrument') as DeviceName;
  if (!(DEVICES as readonly unknown[]).includes(d)) {
    throw new InstrumentError('API_DeviceNotFound', `no device ${shown(device)}; devices: ${DEVICES.join(', ')}.`, String(device));
  }
  const origin = `${tangoClass(d)}.${typeof command === 'string' ? command : shown(command)}`;
  if (typeof command !== 'string') throw new InstrumentError('API_InvalidArgument', `command must be a string naming a command, got ${shown(command)}.`, origin);
  const spec = COMMANDS.find((c) => c.device === d && c.name === command);
  if (spec) return spec;
  throw commandNotFound(d, command, origin);
}

function invalid(origin: string, description: string): InstrumentError {
  return new InstrumentError('API_InvalidArgument', description, origin);
}

function finite(origin: string, what: string, v: unknown): number {
  if (typeof v !== 'number') throw invalid(origin, `${what} must be a number, got ${shown(v)}`);
  if (!Number.isFinite(v)) throw invalid(origin, `${what} must be a finite number, got ${v}`);
  return v;
}

function checkArray(origin: string, v: unknown, item: (x: unknown, i: number) => void, kind: string): void {
  if (!Array.isArray(v)) throw invalid(origin, `the argument must be an array of ${kind} (Tango ${kind === 'numbers' ? 'DevVarFloatArray' : 'DevVarStringArray'}), got ${shown(v)}`);
  if (v.length > MAX_ARRAY_LENGTH) throw invalid(origin, `the argument holds ${v.length} ${kind}; at most ${MAX_ARRAY_LENGTH} are accepted`);
  v.forEach(item);
}

function checkString(origin: string, what: string, v: unknown): void {
  if (typeof v !== 'string') throw invalid(origin, `${what} must be a string, got ${shown(v)}`);
  if (v.length > MAX_STRING_LENGTH) throw invalid(origin, `${what} is ${v.length} characters long; at most ${MAX_STRING_LENGTH} are accepted`);
}

/** Checks the argument's shape against the command's Tango input type; returns it unchanged. */
export function checkArgument(spec: CommandSpec, value: unknown): unknown {
  const origin = `${tangoClass(spec.device)}.${spec.name}`;
  const type: ArgType = spec.input;
  // Named as the tool's argument is (the Python parameter), so a refusal points at what the caller sent.
  const name = spec.parameter ?? 'argument';
  const what = spec.parameter ?? 'the argument';
  if (value === undefined || value === null) {
    if (type === 'DevVoid' || spec.optional) return undefined;
    throw invalid(origin, `takes one argument (Tango ${type}): ${spec.description}`);
  }
  switch (type) {
    case 'DevVoid':
      throw invalid(origin, `takes no argument, got ${shown(value)}`);
    case 'DevState':
    case 'DevEncoded':
      throw invalid(origin, `no command takes a Tango ${type} argument`);
    case 'DevFloat':
      finite(origin, what, value);
      break;
    case 'DevLong':
      if (!Number.isInteger(finite(origin, what, value)) || Math.abs(value as number) > 2 ** 31 - 1) {
        throw invalid(origin, `${what} must be a whole number (Tango DevLong, 32 bits), got ${shown(value)}`);
      }
      break;
    case 'DevBoolean':
      if (typeof value !== 'boolean') throw invalid(origin, `${what} must be true or false, got ${shown(value)}`);
      break;
    case 'DevString':
      checkString(origin, what, value);
      break;
    case 'DevVarFloatArray':
      checkArray(origin, value, (x, i) => finite(origin, `${name}[${i}]`, x), 'numbers');
      break;
    case 'DevVarStringArray':
      checkArray(origin, value, (x, i) => checkString(origin, `${name}[${i}]`, x), 'strings');
      break;
  }
  return value;
}

/** JSON Schema of a Tango type, as tool input and output schemas describe it. */
export function schemaOfType(type: ArgType, description?: string): Record<string, unknown> {
  const withDescription = (s: Record<string, unknown>) => (description ? { ...s, description } : s);
  switch (type) {
    case 'DevVoid':
      return withDescription({ type: 'null' });
    case 'DevFloat':
      return withDescription({ type: 'number' });
    case 'DevState':
      return withDescription({ type: 'string', description: 'Tango DevState: ON, OFF, FAULT, ALARM, INIT, ...' });
    case 'DevEncoded':
      return withDescription({ type: 'array', prefixItems: [{ type: 'string' }, { type: 'string' }], minItems: 2, maxItems: 2, description: '[format, base64 data]' });
    case 'DevLong':
      return withDescription({ type: 'integer', minimum: -(2 ** 31 - 1), maximum: 2 ** 31 - 1 });
    case 'DevBoolean':
      return withDescription({ type: 'boolean' });
    case 'DevString':
      return withDescription({ type: 'string', maxLength: MAX_STRING_LENGTH });
    case 'DevVarFloatArray':
      return withDescription({ type: 'array', items: { type: 'number' }, maxItems: MAX_ARRAY_LENGTH });
    case 'DevVarStringArray':
      return withDescription({ type: 'array', items: { type: 'string', maxLength: MAX_STRING_LENGTH }, maxItems: MAX_ARRAY_LENGTH });
  }
}
