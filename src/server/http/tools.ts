import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { ATTRIBUTES, COMMANDS, tangoClass, type AttributeSpec, type CommandSpec, type DeviceName } from '../../protocol/commands.js';
import { schemaOfType } from './arguments.js';
import { DEFAULT_LEASE_IDLE_s, MAX_LEASE_IDLE_s } from './lease.js';
import { DEFAULT_MAX_VALUES, MAX_MAX_VALUES } from './serialization.js';

/**
 * The MCP tool catalogue, named as asyncroscopy's bridge names its tools: one per Tango command,
 * `<TangoClass>_<command>` (DigitalTwin_move_stage, EELS_acquire_eels_spectrum), taking the one
 * Tango argument as `arg` and returning `{result}` (FastMCP's wrapped result), plus the bridge's
 * `list_devices` and `get_data_from_key`. The twin adds what the real bridge does not publish:
 * `<DEVICE>_write_attribute` / `<DEVICE>_read_attribute` for device settings and
 * `DigitalTwin_get_clock`, and DigitalTwin_acquire_lease / DigitalTwin_release_lease. Every command result carries its simulated timing in `_meta`
 * ({start_s, end_s, breakdown_s}), so a remote client can account instrument time exactly.
 */
export type ToolAction =
  | { kind: 'command'; spec: CommandSpec }
  | { kind: 'write-attribute'; device: DeviceName }
  | { kind: 'read-attribute'; device: DeviceName }
  | { kind: 'list-devices' }
  | { kind: 'get-data' }
  | { kind: 'get-clock' }
  | { kind: 'acquire-lease' }
  | { kind: 'release-lease' };

export interface ToolEntry {
  tool: Tool;
  action: ToolAction;
  /** Needs write access (a bearer token on a shared server). */
  changesState: boolean;
}

export function commandToolName(spec: CommandSpec): string {
  return `${tangoClass(spec.device)}_${spec.name}`;
}

const TIMING_NOTE = 'The result carries the simulated timing in _meta: {start_s, end_s, breakdown_s} (seconds on the instrument clock, per latency category).';

function commandTool(spec: CommandSpec): ToolEntry {
  const optional = spec.optional === true;
  const parameter = spec.parameter ?? 'arg';
  const lines = [
    `Tango Device Class: ${tangoClass(spec.device)}`,
    `Tango Command: ${spec.name}`,
    `Input Type: ${spec.input}`,
    ...(spec.input === 'DevVoid' ? [] : [`Input Description: ${spec.description}${optional ? ' (optional)' : ''}`]),
    `Output Type: ${spec.output}`,
    ...(spec.input === 'DevVoid' ? [`Description: ${spec.description}`] : []),
    spec.changesState ? 'Changes the instrument state (needs the bearer token on a server started with --token).' : 'Read-only.',
    TIMING_NOTE,
  ];
  const inputSchema: Tool['inputSchema'] =
    spec.input === 'DevVoid'
      ? { type: 'object', properties: {}, additionalProperties: false }
      : {
          type: 'object',
          properties: { [parameter]: schemaOfType(spec.input, spec.description) },
          ...(optional ? {} : { required: [parameter] }),
          additionalProperties: false,
        };
  return {
    tool: {
      name: commandToolName(spec),
      description: lines.join('\n'),
      inputSchema,
      outputSchema: { type: 'object', properties: { result: schemaOfType(spec.output) }, required: ['result'] },
      annotations: { readOnlyHint: !spec.changesState },
    },
    action: { kind: 'command', spec },
    changesState: spec.changesState,
  };
}

function attributeLine(a: AttributeSpec): string {
  const range = a.min !== undefined || a.max !== undefined ? `, ${a.min ?? '-inf'}..${a.max ?? 'inf'}` : '';
  const length = a.length ? `, length ${a.length}` : '';
  const unit = a.unit ? ` ${a.unit}` : '';
  return `  - ${a.name} (${a.type}${unit}${range}${length}; default ${JSON.stringify(a.default)}): ${a.description}`;
}

function attributeTools(device: DeviceName): ToolEntry[] {
  const attributes = ATTRIBUTES.filter((a) => a.device === device);
  const names = attributes.map((a) => a.name);
  const listing = attributes.map(attributeLine).join('\n');
  const attribute = { type: 'string', enum: names, description: `one of ${names.join(', ')}` };
  return [
    {
      tool: {
        name: `${device}_write_attribute`,
        description: [
          `Twin extra (the real bridge publishes commands only): writes a Tango attribute (device setting) of ${device}.`,
          `Arguments: attribute (name), value (of the attribute's type). Attributes of ${device}:`,
          listing,
          'Changes the instrument state (needs the bearer token on a server started with --token).',
          TIMING_NOTE,
        ].join('\n'),
        inputSchema: { type: 'object', properties: { attribute, value: { description: "the new value, of the attribute's type" } }, required: ['attribute', 'value'], additionalProperties: false },
        outputSchema: { type: 'object', properties: { result: { type: 'null' } }, required: ['result'] },
      },
      action: { kind: 'write-attribute', device },
      changesState: true,
    },
    {
      tool: {
        name: `${device}_read_attribute`,
        description: [`Twin extra (the real bridge publishes commands only): reads a Tango attribute (device setting) of ${device}. Attributes of ${device}:`, listing, 'Read-only.'].join('\n'),
        inputSchema: { type: 'object', properties: { attribute }, required: ['attribute'], additionalProperties: false },
        outputSchema: { type: 'object', properties: { result: {} }, required: ['result'] },
        annotations: { readOnlyHint: true },
      },
      action: { kind: 'read-attribute', device },
      changesState: false,
    },
  ];
}

/** The devices this server exports, as Tango names `asyncroscopy/<key>/default`. */
export function exportedDevices(): string[] {
  const keys = new Set<DeviceName>(['instrument']);
  for (const c of COMMANDS) keys.add(c.device);
  for (const a of ATTRIBUTES) keys.add(a.device);
  keys.add('DATA');
  return [...keys].map((k) => `asyncroscopy/${k}/default`);
}

const DATASET_SCHEMA = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    shape: { type: 'array', items: { type: 'integer' } },
    dtype: { type: 'string' },
    attrs: { type: 'object', additionalProperties: true },
    preview: { type: 'array', items: { type: ['number', 'null'] } },
  },
  required: ['name', 'shape', 'dtype', 'attrs', 'preview'],
};

/** The get_data_from_key result, as JSON Schema (also used by the REST route). */
export const DATA_RECORD_SCHEMA = {
  type: 'object',
  properties: {
    key: { type: 'string' },
    uri: { type: 'string' },
    format: { type: 'string' },
    attrs: { type: 'object', additionalProperties: true },
    datasets: { type: 'array', items: DATASET_SCHEMA },
  },
  required: ['key', 'uri', 'format', 'attrs', 'datasets'],
} as const;

const BRIDGE_TOOLS: ToolEntry[] = [
  {
    tool: {
      name: 'list_devices',
      description: 'List the exported Tango devices, as names asyncroscopy/<key>/default.',
      inputSchema: { type: 'object', properties: {}, additionalProperties: false },
      outputSchema: { type: 'object', properties: { result: { type: 'array', items: { type: 'string' } } }, required: ['result'] },
      annotations: { readOnlyHint: true },
    },
    action: { kind: 'list-devices' },
    changesState: false,
  },
  {
    tool: {
      name: 'get_data_from_key',
      description:
        'Read an acquisition by its data key (returned by the acquire_* commands): {key, uri, format, attrs, datasets: [{name, shape, dtype, attrs, preview}]}. ' +
        `preview holds the first max_values values of each dataset, row-major (default ${DEFAULT_MAX_VALUES}); raise max_values (up to ${MAX_MAX_VALUES}) for longer ones; whole arrays stream as binary from GET /api/data/<key>/raw?dataset=<name>.`,
      inputSchema: {
        type: 'object',
        properties: {
          key: { type: 'string', maxLength: 500, description: 'a data key, e.g. stem_image_HAADF_20260101T000012345678.h5' },
          max_values: { type: 'integer', minimum: 0, maximum: MAX_MAX_VALUES, default: DEFAULT_MAX_VALUES, description: 'values per dataset preview' },
        },
        required: ['key'],
        additionalProperties: false,
      },
      outputSchema: DATA_RECORD_SCHEMA as unknown as Tool['outputSchema'],
      annotations: { readOnlyHint: true },
    },
    action: { kind: 'get-data' },
    changesState: false,
  },
  {
    tool: {
      name: 'DigitalTwin_get_clock',
      description: 'Twin extra: seconds on the instrument clock (virtual time) since the twin started. Read-only.',
      inputSchema: { type: 'object', properties: {}, additionalProperties: false },
      outputSchema: { type: 'object', properties: { result: { type: 'number' } }, required: ['result'] },
      annotations: { readOnlyHint: true },
    },
    action: { kind: 'get-clock' },
    changesState: false,
  },
  {
    tool: {
      name: 'DigitalTwin_acquire_lease',
      description:
        'Twin extra: take the instrument exclusively. While you hold the lease, other clients\' state-changing commands are refused (InstrumentLeased); ' +
        'their reads still run. The lease lapses after idle_s seconds (wall clock) without a command from you; calling again renews it. ' +
        'Result: {lease_id, client, since_ms, expires_ms, idle_s}.',
      inputSchema: {
        type: 'object',
        properties: { idle_s: { type: 'number', exclusiveMinimum: 0, maximum: MAX_LEASE_IDLE_s, default: DEFAULT_LEASE_IDLE_s, description: 'seconds without a command before the lease lapses' } },
        additionalProperties: false,
      },
    },
    action: { kind: 'acquire-lease' },
    changesState: true,
  },
  {
    tool: {
      name: 'DigitalTwin_release_lease',
      description:
        'Twin extra: give the lease up. Result: {lease, foreign: {ran, refused}}: the other clients\' commands during the lease, by "<Class>.<command>", ' +
        'those that ran (reads) and those refused.',
      inputSchema: { type: 'object', properties: { lease_id: { type: 'string', maxLength: 100 } }, additionalProperties: false },
    },
    action: { kind: 'release-lease' },
    changesState: true,
  },
];

function buildCatalogue(): ReadonlyMap<string, ToolEntry> {
  const devicesWithAttributes = [...new Set(ATTRIBUTES.map((a) => a.device))];
  const entries = [...BRIDGE_TOOLS, ...COMMANDS.map(commandTool), ...devicesWithAttributes.flatMap(attributeTools)];
  return new Map(entries.map((e) => [e.tool.name, e]));
}

/** Every tool by name. */
export const TOOL_CATALOGUE: ReadonlyMap<string, ToolEntry> = buildCatalogue();
