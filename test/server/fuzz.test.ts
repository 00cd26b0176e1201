import { fc, test } from '@fast-check/vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { ATTRIBUTES, COMMANDS, type ArgType } from '../../src/protocol/commands.js';
import type { RunningServer } from '../../src/server/http/server.js';
import { commandToolName, TOOL_CATALOGUE } from '../../src/server/http/tools.js';
import { io as connect, type Socket } from 'socket.io-client';
import { MAX_DEPTH, MAX_MAX_VALUES } from '../../src/server/http/serialization.js';
import { call, deepJson, http, mcpClient, rawMcp, serve, toolCall, toolError } from './server-fixtures.js';

/**
 * Malformed requests of every kind, thousands of them: each must be answered with an error, the
 * state snapshot must not change, and the server must keep serving.
 */

/** Numbers beyond every range of the surface (stage +-1 mm, fractions 0..1, currents <= 1e5 pA, imsize <= 4096, ...). */
const huge = fc.double({ min: 1e6, max: 1e300, noNaN: true }).chain((x) => fc.constantFrom(x, -x));
const notANumber = fc.oneof(fc.string({ maxLength: 8 }), fc.boolean(), fc.constant({}), fc.array(fc.integer(), { maxLength: 3 }));
const KNOWN_NAMES = new Set(COMMANDS.map((c) => c.name));

/** An argument that is wrong for a command of this Tango input type, by shape or by range. */
function badArgument(input: ArgType, name: string): fc.Arbitrary<unknown> {
  switch (input) {
    case 'DevVoid':
      return fc.oneof(fc.integer(), fc.string({ minLength: 1 }), fc.array(fc.double(), { minLength: 1, maxLength: 3 }), huge);
    case 'DevFloat':
      return fc.oneof(notANumber, huge);
    case 'DevLong':
      return fc.oneof(notANumber, fc.integer({ min: 100, max: 2 ** 31 - 1 }), fc.double({ min: 0.1, max: 0.9 }), huge);
    case 'DevBoolean':
      return fc.oneof(fc.integer(), fc.string());
    case 'DevString': {
      const valid = name === 'set_column_valves' ? ['open', 'close'] : ['eds'];
      return fc.oneof(fc.integer(), fc.array(fc.string(), { maxLength: 2 }), fc.string({ maxLength: 12 }).filter((s) => !valid.includes(s.toLowerCase())));
    }
    case 'DevVarFloatArray':
      return fc.oneof(
        notANumber.filter((v) => !Array.isArray(v)),
        fc.array(huge, { minLength: 1, maxLength: 6 }),
        fc.tuple(fc.array(fc.double({ min: 0, max: 1 }), { maxLength: 3 }), notANumber).map(([a, b]) => [...a, b]),
      );
    case 'DevState':
    case 'DevEncoded':
      throw new Error(`no command takes ${input}`);
    case 'DevVarStringArray':
      return fc.oneof(
        fc.constant([]),
        fc.string(),
        fc.array(fc.integer(), { minLength: 1, maxLength: 3 }),
        fc.array(fc.string({ minLength: 1, maxLength: 10 }).filter((s) => !['haadf', 'eds'].includes(s.toLowerCase())), { minLength: 1, maxLength: 3 }),
      );
  }
}

const stateChanging = COMMANDS.filter((c) => c.changesState && c.name !== 'Disconnect');
const badCommandCall = fc
  .constantFrom(...stateChanging)
  .chain((spec) => badArgument(spec.input, spec.name).map((args) => ({ spec, args })));

const unknownName = fc.string({ minLength: 1, maxLength: 30 }).filter((s) => !KNOWN_NAMES.has(s));

/** A random JSON body for POST /api/commands that is wrong one way or another. */
const badCommandBody = fc.oneof(
  badCommandCall.map(({ spec, args }) => ({ device: spec.device, command: spec.name, args })),
  fc.record({ command: unknownName, args: fc.jsonValue() }),
  fc.record({ device: fc.string({ maxLength: 10 }), command: fc.constantFrom(...KNOWN_NAMES) }),
  fc.record({ command: fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string())) }),
  fc.record({ command: fc.constantFrom(...KNOWN_NAMES), args: fc.jsonValue(), junk: fc.jsonValue() }),
  fc.jsonValue().filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)),
  fc.dictionary(fc.string({ maxLength: 8 }).filter((k) => k !== 'command'), fc.jsonValue(), { maxKeys: 4 }),
);

const numericAttributes = ATTRIBUTES.filter((a) => a.type === 'float' || a.type === 'int' || a.type === 'float[]');
const badAttributeWrite = fc.oneof(
  fc.record({ device: fc.constantFrom('SCAN', 'EDS', 'EELS', 'STAGE'), attribute: unknownName.filter((s) => /^\w+$/.test(s) && !ATTRIBUTES.some((a) => a.name === s)), value: fc.jsonValue() }),
  fc.constantFrom(...numericAttributes).chain((a) =>
    fc.record({ device: fc.constant(a.device), attribute: fc.constant(a.name), value: a.type === 'float[]' ? fc.array(huge, { minLength: a.length ?? 1, maxLength: a.length ?? 4 }) : fc.oneof(huge, fc.string()) }),
  ),
  fc.record({ device: fc.constant('SCAN'), attribute: fc.constant('output_format'), value: fc.oneof(fc.integer(), fc.string({ maxLength: 6 }).filter((s) => s !== '.h5' && s !== '.tiff')) }),
);

const badPath = fc.oneof(
  fc.string({ minLength: 1, maxLength: 20 }).map((s) => `/api/data/${encodeURIComponent(s)}x.none`),
  fc.string({ maxLength: 20 }).map((s) => `/nothing/${encodeURIComponent(s)}`),
  fc.string({ minLength: 1, maxLength: 20 }).map((s) => `/api/state/${encodeURIComponent(s)}`),
  fc.string({ minLength: 1, maxLength: 8 }).map((s) => `/api/data/x.h5?max_values=${encodeURIComponent(`-${s}`)}`),
);

describe('fuzzing the server with malformed requests', () => {
  let server: RunningServer;
  let client: Client;
  let before: unknown;
  let answered = 0;
  // A telemetry subscriber throughout: encoding every record for it is what once let one deep write kill the server.
  let socket: Socket;
  let stateBefore: unknown;

  beforeAll(async () => {
    server = await serve();
    client = await mcpClient(server);
    socket = connect(server.socketUrl, { path: '/socket.io', transports: ['websocket'], reconnection: false });
    await new Promise<void>((resolve) => socket.once('hello', () => resolve()));
    before = server.twin.twin.state;
    stateBefore = (await http(server, 'GET', '/api/state')).body.state;
  });
  afterAll(async () => {
    expect(server.twin.twin.state).toBe(before);
    const state = await http(server, 'GET', '/api/state');
    expect(state.status).toBe(200);
    expect(state.body.state).toEqual(stateBefore);
    expect(socket.connected).toBe(true);
    // A client that was not part of the fuzz is served.
    const fresh = await mcpClient(server, { name: 'fresh' });
    expect((await call(fresh, 'DigitalTwin_get_fov')).isError).toBeFalsy();
    await fresh.close();
    expect(answered).toBeGreaterThanOrEqual(2000);
    socket.close();
    await client?.close();
    await server?.close();
  });

  const unchanged = () => expect(server.twin.twin.state).toBe(before);

  test.prop([badCommandBody], { numRuns: 500 })('REST commands', async (body) => {
    const r = await http(server, 'POST', '/api/commands', body);
    answered++;
    expect(r.status, JSON.stringify(body)).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(typeof r.body.reason).toBe('string');
    expect(typeof r.body.description).toBe('string');
    unchanged();
  });

  test.prop([badAttributeWrite], { numRuns: 300 })('REST attribute writes', async ({ device, attribute, value }) => {
    const r = await http(server, 'PUT', `/api/devices/${device}/attributes/${attribute}`, { value });
    answered++;
    expect(r.status, JSON.stringify({ device, attribute, value })).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(typeof r.body.reason).toBe('string');
    unchanged();
  });

  test.prop([fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'), badPath, fc.option(fc.string({ maxLength: 40 }), { nil: undefined })], { numRuns: 250 })(
    'REST unknown routes, bad keys and raw bodies',
    async (method, path, raw) => {
      const body = method === 'GET' || method === 'DELETE' ? undefined : (raw ?? '{');
      const r = await http(server, method, path, body);
      answered++;
      expect(r.status, `${method} ${path}`).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      expect(typeof r.body.reason).toBe('string');
      unchanged();
    },
  );

  test.prop([fc.string({ maxLength: 60 })], { numRuns: 150 })('REST malformed JSON', async (raw) => {
    const r = await http(server, 'POST', '/api/commands', `{${raw}`);
    answered++;
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    unchanged();
  });

  /** The names a tool call may carry: every parameter name, the older `arg`, and the extras' own. */
  const ARGUMENT_NAMES = new Set([...COMMANDS.flatMap((c) => (c.parameter ? [c.parameter] : [])), 'arg', 'key', 'max_values', 'attribute', 'value', 'seed', 'idle_s', 'lease_id']);
  const withParameter = COMMANDS.filter((c) => c.parameter !== undefined && c.changesState && c.name !== 'Disconnect');
  const badToolCall = fc.oneof(
    // A bad value under either name: the current bridge's (the Python parameter) or the older `arg`.
    fc.tuple(badCommandCall, fc.boolean()).map(([{ spec, args }, named]) => ({ name: commandToolName(spec), arguments: { [named && spec.parameter ? spec.parameter : 'arg']: args } as Record<string, unknown> })),
    // A good-looking value under both names at once, or under another command's parameter name.
    fc.constantFrom(...withParameter).map((spec) => ({ name: commandToolName(spec), arguments: { [spec.parameter!]: 0, arg: 0 } as Record<string, unknown> })),
    fc.tuple(fc.constantFrom(...withParameter), fc.constantFrom(...ARGUMENT_NAMES)).filter(([spec, k]) => k !== spec.parameter && k !== 'arg').map(([spec, k]) => ({ name: commandToolName(spec), arguments: { [k]: 0 } as Record<string, unknown> })),
    // Non-void commands called with nothing (those whose argument is optional excepted).
    fc.constantFrom(...withParameter.filter((c) => !c.optional)).map((spec) => ({ name: commandToolName(spec), arguments: {} as Record<string, unknown> })),
    fc.record({ name: fc.constant('DigitalTwin_reset'), arguments: fc.record({ seed: fc.oneof(fc.integer({ max: -1 }), fc.double({ min: 0.5, max: 10.5 }), fc.string(), fc.integer({ min: 2 ** 31, max: 2 ** 40 })) }) }),
    fc.record({ name: fc.string({ maxLength: 30 }).filter((s) => !TOOL_CATALOGUE.has(s)), arguments: fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue(), { maxKeys: 3 }) }),
    fc.record({
      name: fc.constantFrom(...[...TOOL_CATALOGUE.keys()]),
      arguments: fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }).filter((k) => !ARGUMENT_NAMES.has(k)), fc.jsonValue(), { minKeys: 1, maxKeys: 3 }),
    }),
    fc.record({ name: fc.constant('get_data_from_key'), arguments: fc.record({ key: fc.oneof(fc.string({ maxLength: 40 }), fc.integer()), max_values: fc.oneof(fc.integer({ max: -1 }), fc.double({ min: 0.5, max: 10.5 }), fc.string()) }) }),
    badAttributeWrite.map(({ device, attribute, value }) => ({ name: `${device}_write_attribute`, arguments: { attribute, value } as Record<string, unknown> })),
  );

  test.prop([badToolCall], { numRuns: 600 })('MCP tool calls', async ({ name, arguments: args }) => {
    const r = await call(client, name, args);
    answered++;
    expect(r.isError, `${name} ${JSON.stringify(args)}`).toBe(true);
    const e = toolError(r)!;
    expect(typeof e.reason).toBe('string');
    // A misnamed argument is refused naming the tool and what it takes.
    if (e.description.startsWith('unknown argument') || e.description.startsWith('both ')) expect(e.description).toContain(name.slice(0, 100));
    unchanged();
  });

  test.prop([fc.jsonValue(), fc.option(fc.uuid(), { nil: undefined })], { numRuns: 200 })('MCP raw JSON-RPC garbage', async (body, session) => {
    const headers: Record<string, string> = { accept: 'application/json, text/event-stream' };
    if (session) headers['mcp-session-id'] = session;
    const r = await http(server, 'POST', '/mcp', body, headers);
    answered++;
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    unchanged();
  });

  const overDeep = fc.integer({ min: MAX_DEPTH + 1, max: 9000 });
  const deepTarget = fc.constantFrom(
    (d: number) => ['POST', '/api/commands', `{"command":"move_stage","args":${deepJson(d)}}`] as const,
    (d: number) => ['PUT', '/api/devices/STAGE/attributes/position', `{"value":${deepJson(d)}}`] as const,
    (d: number) => ['PUT', '/api/devices/SCAN/attributes/dwell_time', `{"value":${deepJson(d, '{"a":0}')}}`] as const,
  );

  test.prop([overDeep, deepTarget], { numRuns: 40 })('REST values nested too deep', async (depth, target) => {
    const [method, path, body] = target(depth);
    const r = await http(server, method, path, body);
    answered++;
    expect(r.status, `${path} at depth ${depth}`).toBe(400);
    expect(r.body.description).toContain(`nested deeper than ${MAX_DEPTH} levels`);
    unchanged();
  });

  test.prop([overDeep, fc.constantFrom('DigitalTwin_move_stage', 'STAGE_write_attribute', 'get_data_from_key')], { numRuns: 30 })('MCP arguments nested too deep', async (depth, tool) => {
    const mcp = await rawMcp(server);
    const r = await mcp.post(toolCall(1, tool, `{"${tool === 'DigitalTwin_move_stage' ? (depth % 2 ? 'arg' : 'position') : 'value'}":${deepJson(depth)}}`));
    answered++;
    expect(r.body.result.isError).toBe(true);
    unchanged();
  });

  test.prop([fc.integer({ min: MAX_MAX_VALUES + 1, max: 2 ** 31 })], { numRuns: 30 })('huge max_values', async (max) => {
    const rest = await http(server, 'GET', `/api/data/x.h5?max_values=${max}`);
    const mcp = await call(client, 'get_data_from_key', { key: 'x.h5', max_values: max });
    answered += 2;
    expect(rest.status).toBe(400);
    expect(rest.body.description).toContain('max_values');
    expect(toolError(mcp)?.description).toContain('max_values');
    unchanged();
  });

  test.prop([fc.oneof(fc.integer(), fc.string({ maxLength: 10 })), fc.integer({ min: 2, max: 4 })], { numRuns: 30 })('MCP batches repeating one id', async (id, copies) => {
    const mcp = await rawMcp(server);
    const one = toolCall(0, 'DigitalTwin_move_stage', '{"position":[1e-6,0,0,0,0]}').replace('"id":0', `"id":${JSON.stringify(id)}`);
    const r = await mcp.post(`[${Array(copies).fill(one).join(',')}]`);
    answered++;
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe(-32600);
    unchanged();
  });
});
