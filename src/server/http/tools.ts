import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { ATTRIBUTES, COMMANDS, DEVICES, tangoClass, tangoDeviceName, type AttributeSpec, type CommandSpec, type DeviceName } from '../../protocol/commands.js';
import { schemaOfType } from './arguments.js';
import { DEFAULT_LEASE_IDLE_s, MAX_LEASE_IDLE_s } from './lease.js';
import { DEFAULT_MAX_VALUES, MAX_MAX_VALUES } from './serialization.js';
import { MAX_SEED } from './twin-service.js';

/**
 * The MCP tool catalogue, as asyncroscopy's bridge publishes it (see the README, "Against a served
 * twin"): one tool per Tango command, `<TangoClass>_<command>` (DigitalTwin_move_stage,
 * DigitalTwinCorrector_measure_c1a1, EELS_acquire_eels_spectrum, SCAN_State), its one argument
 * named after the command's Python parameter (`position`, `detector_list`; the older bridge's
 * `arg` is accepted too, see mcp.ts) and marked required, results in FastMCP's shapes; plus the
 * bridge's `list_devices` and `get_data_from_key`. Twin extras, which the real bridge does not
 * publish: `<DEVICE>_write_attribute` / `<DEVICE>_read_attribute` for device settings,
 * DigitalTwin_get_clock, DigitalTwin_get_scenario, DigitalTwin_reset, and
 * DigitalTwin_acquire_lease / DigitalTwin_release_lease. Every command result carries its
 * simulated timing in `_meta` ({start_s, end_s, breakdown_s}), so a remote client can account
 * instrument time exactly.
 */
export type ToolAction =
  | { kind: 'command'; spec: CommandSpec }
  | { kind: 'write-attribute'; device: DeviceName }
  | { kind: 'read-attribute'; device: DeviceName }
  | { kind: 'list-devices' }
  | { kind: 'get-data' }
  | { kind: 'get-clock' }
  | { kind: 'get-scenario' }
  | { kind: 'reset' }
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

/** The name of a command tool's one argument: the Python parameter (the current bridge's name). */
export function argumentName(spec: CommandSpec): string | undefined {
  return spec.parameter;
}

/** The older bridge called every command's argument this. */
export const LEGACY_ARGUMENT = 'arg';

/**
 * FastMCP's output schema for a command's result: a value wrapped as {result}. A command that
 * returns nothing gets none, as a Python `-> None` tool does, so a client accepts empty content.
 */
function commandOutputSchema(spec: CommandSpec): Tool['outputSchema'] {
  if (spec.output === 'DevVoid') return undefined;
  return { type: 'object', properties: { result: schemaOfType(spec.output) }, required: ['result'] };
}

function commandTool(spec: CommandSpec): ToolEntry {
  const parameter = argumentName(spec);
  const lines = [
    `Tango Device Class: ${tangoClass(spec.device)}`,
    `Tango Command: ${spec.name}`,
    `Input Type: ${spec.input}`,
    ...(parameter ? [`Input Description: ${spec.description}${spec.optional ? ' (may be left out: the instrument applies its default)' : ''}`] : []),
    `Output Type: ${spec.output}`,
    ...(parameter ? [] : [`Description: ${spec.description}`]),
    ...(parameter ? [`Argument: ${parameter} (the older bridge's name "${LEGACY_ARGUMENT}" is accepted too).`] : []),
    spec.changesState ? 'Changes the instrument state (needs the bearer token on a server started with --token).' : 'Read-only.',
    TIMING_NOTE,
  ];
  const inputSchema: Tool['inputSchema'] = parameter
    ? { type: 'object', properties: { [parameter]: schemaOfType(spec.input, spec.description) }, required: [parameter], additionalProperties: false }
    : { type: 'object', properties: {}, additionalProperties: false };
  const outputSchema = commandOutputSchema(spec);
  return {
    tool: {
      name: commandToolName(spec),
      description: lines.join('\n'),
      inputSchema,
      ...(outputSchema ? { outputSchema } : {}),
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
        // Returns nothing (empty content), as a Tango attribute write does.
        inputSchema: { type: 'object', properties: { attribute, value: { description: "the new value, of the attribute's type" } }, required: ['attribute', 'value'], additionalProperties: false },
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

/** The devices this server exports, as Tango names asyncroscopy/<key>/default (EELS is the twin's extra, see protocol/commands.ts). */
export function exportedDevices(): string[] {
  return DEVICES.map(tangoDeviceName);
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

/** DigitalTwin_get_scenario and DigitalTwin_reset: {name, seed, digest} (unwrapped, as FastMCP returns a dict). */
export const SCENARIO_SCHEMA = {
  type: 'object',
  properties: { name: { type: 'string' }, seed: { type: 'integer' }, digest: { type: 'string' } },
  required: ['name', 'seed', 'digest'],
} as const satisfies Tool['outputSchema'];

const BRIDGE_TOOLS: ToolEntry[] = [
  {
    tool: {
      name: 'list_devices',
      description: 'List the exported Tango devices, as names asyncroscopy/<key>/default (asyncroscopy/instrument/default, asyncroscopy/scan/default, ...).',
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
      name: 'DigitalTwin_get_scenario',
      description:
        'Twin extra: the scenario this twin serves, {name, seed, digest}; digest fingerprints its specimen and instrument (twinDigest), ' +
        'so a client can check that it drives the twin it means to (same scenario file, same seed). Read-only.',
      inputSchema: { type: 'object', properties: {}, additionalProperties: false },
      outputSchema: SCENARIO_SCHEMA,
      annotations: { readOnlyHint: true },
    },
    action: { kind: 'get-scenario' },
    changesState: false,
  },
  {
    tool: {
      name: 'DigitalTwin_reset',
      description:
        'Twin extra: replace the twin by a fresh one from the same scenario (clock 0, instrument state, data keys and images cleared), ' +
        'so a second campaign starts clean without restarting the server. With seed, a new specimen is drawn from the scenario with that seed; ' +
        'without, the served seed is kept. Runs after the commands queued before it; refused while another client holds the lease. ' +
        'Result: {name, seed, digest}, as DigitalTwin_get_scenario. Changes the instrument state (needs the bearer token on a server started with --token).',
      inputSchema: {
        type: 'object',
        properties: { seed: { type: 'integer', minimum: 0, maximum: MAX_SEED, description: 'draw a new specimen with this seed' } },
        additionalProperties: false,
      },
      outputSchema: SCENARIO_SCHEMA,
    },
    action: { kind: 'reset' },
    changesState: true,
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
