import { afterEach, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import type { RunningServer } from '../../src/server/http/server.js';
import { MAX_DEPTH, MAX_MAX_VALUES, toWire } from '../../src/server/http/serialization.js';
import { publishProblem } from '../../src/server/http/telemetry.js';
import { deepJson, http, rawMcp, serve, smallScenario, toolCall, toolErrorOf } from './server-fixtures.js';

/** Requests that once killed or froze the server (issue 8): each must be refused clearly, the server staying up. */

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function withTelemetryClient(): Promise<{ server: RunningServer; socket: Socket }> {
  const server = await serve();
  open.push(server);
  const socket = connect(server.socketUrl, { path: '/socket.io', transports: ['websocket'], reconnection: false });
  open.push({ close: () => socket.close() });
  await new Promise<void>((resolve) => socket.once('hello', () => resolve()));
  return { server, socket };
}

describe('over-deep values are refused at the boundary, naming the field', () => {
  it('REST attribute write 3000 levels deep, a telemetry client connected: 400, server up, state unchanged', async () => {
    const { server } = await withTelemetryClient();
    const before = server.twin.twin.state;
    const r = await http(server, 'PUT', '/api/devices/STAGE/attributes/position', `{"value":${deepJson(3000)}}`);
    expect(r.status).toBe(400);
    expect(r.body.description).toBe(`position: nested deeper than ${MAX_DEPTH} levels`);
    expect(JSON.stringify(r.body)).not.toContain('    at ');
    expect((await http(server, 'GET', '/api/state')).status).toBe(200);
    expect(server.twin.twin.state).toBe(before);
  });

  it('MCP write_attribute 9000 levels deep: a tool error naming the field', async () => {
    const { server } = await withTelemetryClient();
    const mcp = await rawMcp(server);
    const r = await mcp.post(toolCall(1, 'SCAN_write_attribute', `{"attribute":"dwell_time","value":${deepJson(9000)}}`));
    expect(toolErrorOf(r).description).toBe(`value: nested deeper than ${MAX_DEPTH} levels`);
    expect((await http(server, 'GET', '/api/state')).status).toBe(200);
  });

  it('REST command arguments 5000 levels deep: 400 naming args, not 500', async () => {
    const { server } = await withTelemetryClient();
    const r = await http(server, 'POST', '/api/commands', `{"command":"move_stage","args":${deepJson(5000)}}`);
    expect(r.status).toBe(400);
    expect(r.body.description).toBe(`args: nested deeper than ${MAX_DEPTH} levels`);
  });

  it('MCP command arguments 5000 levels deep: a tool error naming arg', async () => {
    const server = await serve();
    open.push(server);
    const mcp = await rawMcp(server);
    const r = await mcp.post(toolCall(1, 'DigitalTwin_move_stage', `{"arg":${deepJson(5000)}}`));
    expect(toolErrorOf(r).description).toBe(`arg: nested deeper than ${MAX_DEPTH} levels`);
  });

  it('a value just within MAX_DEPTH is judged by the command, not by depth', async () => {
    const server = await serve();
    open.push(server);
    const r = await http(server, 'POST', '/api/commands', `{"command":"move_stage","args":${deepJson(MAX_DEPTH - 1)}}`);
    expect(r.status).toBe(400);
    expect(r.body.description).not.toContain('nested deeper');
  });
});

describe('telemetry survives a record it cannot encode', () => {
  it('a record nested too deep reaches subscribers as "unencodable"; the server stays up and later records flow', async () => {
    const { server, socket } = await withTelemetryClient();
    const got: { type: string; description?: string }[] = [];
    socket.on('telemetry', (e) => got.push(e));
    // Past the boundary's checks (as a bug in the twin might): straight onto the bus.
    server.twin.telemetry.emit({ type: 'acquisition', t_s: 1, key: JSON.parse(deepJson(10_000)), kind: 'image' } as never);
    expect((await http(server, 'POST', '/api/commands', { command: 'get_fov' })).status).toBe(200);
    await new Promise<void>((resolve) => (got.some((e) => e.type === 'command-end') ? resolve() : socket.on('telemetry', (e) => e.type === 'command-end' && resolve())));
    expect(got[0]).toMatchObject({ type: 'unencodable', record_type: 'acquisition', reason: 'API_InvalidArgument' });
    expect(got[0]!.description).toContain('nested deeper');
  });
});

describe('published campaign events', () => {
  it('an event nested too deep is refused before it is relayed', () => {
    expect(publishProblem({ type: 'x', data: JSON.parse(deepJson(10_000)) })).toBe(`event: nested deeper than ${MAX_DEPTH} levels`);
    expect(publishProblem({ type: 'x', data: JSON.parse(deepJson(MAX_DEPTH - 2)) })).toBeUndefined();
  });
});

describe('toWire never overflows the stack', () => {
  it('refuses a value deeper than MAX_DEPTH with an InstrumentError naming the limit, not a RangeError', () => {
    expect(() => toWire(JSON.parse(deepJson(10_000)))).toThrow(`nested deeper than ${MAX_DEPTH} levels`);
    expect(toWire(JSON.parse(deepJson(MAX_DEPTH - 1)))).toEqual(JSON.parse(deepJson(MAX_DEPTH - 1)));
  });
});

describe('bodies JSON.parse would take silently', () => {
  it('a duplicated key is refused with 400 naming the key', async () => {
    const server = await serve();
    open.push(server);
    const r = await http(server, 'POST', '/api/commands', '{"command":"move_stage","args":[0,0,0,0,0],"args":[1e-6,0,0,0,0]}');
    expect(r.status).toBe(400);
    expect(r.body.description).toContain('"args" appears twice');
    expect((await http(server, 'PUT', '/api/devices/SCAN/attributes/dwell_time', '{"value":{"a":1,"b":{"a":2},"a":3}}')).body.description).toContain('"a" appears twice');
  });

  it('the same key in sibling objects is fine', async () => {
    const server = await serve();
    open.push(server);
    const r = await http(server, 'POST', '/api/commands', '{"command":"get_fov","args":null}');
    expect(r.status).toBe(200);
  });

  it('a __proto__ key is refused naming __proto__ as forbidden, not as invalid JSON', async () => {
    const server = await serve();
    open.push(server);
    const r = await http(server, 'POST', '/api/commands', '{"command":"get_fov","__proto__":{"x":1}}');
    expect(r.status).toBe(400);
    expect(r.body.description).toContain('"__proto__" is forbidden');
    expect(r.body.description).not.toContain('not valid JSON');
  });

  it('a text/plain body is 415 naming application/json', async () => {
    const server = await serve();
    open.push(server);
    const r = await http(server, 'POST', '/api/commands', '{"command":"get_fov"}', { 'content-type': 'text/plain' });
    expect(r.status).toBe(415);
    expect(r.body.reason).toBe('UnsupportedMediaType');
    expect(r.body.description).toContain('application/json');
  });

  it('application/json with a charset still parses', async () => {
    const server = await serve();
    open.push(server);
    expect((await http(server, 'POST', '/api/commands', '{"command":"get_fov"}', { 'content-type': 'application/json; charset=utf-8' })).status).toBe(200);
  });
});

describe('duplicate in-flight JSON-RPC ids in one MCP session', () => {
  it('the second request is refused with -32600 naming the id, before its command runs; the first is answered', async () => {
    // Paced, with a 1 s command overhead, so the first call is surely still running when the second arrives.
    const server = await serve({ speed: 1, scenario: smallScenario({ instrument: { control_overhead_s: { min: 1, max: 1 } } }) });
    open.push(server);
    const socket = connect(server.socketUrl, { path: '/socket.io', transports: ['websocket'], reconnection: false });
    open.push({ close: () => socket.close() });
    const starts: unknown[] = [];
    const started = new Promise<void>((resolve) =>
      socket.on('telemetry', (e: { type: string }) => {
        if (e.type !== 'command-start') return;
        starts.push(e);
        resolve();
      }),
    );
    await new Promise<void>((resolve) => socket.once('hello', () => resolve()));
    const mcp = await rawMcp(server);
    const first = mcp.post(toolCall(7, 'DigitalTwin_get_fov', '{}'));
    await started;
    const second = await mcp.post(toolCall(7, 'DigitalTwin_get_fov', '{}'));
    expect(second.status).toBe(400);
    expect(second.body.error.code).toBe(-32600);
    expect(second.body.error.message).toContain('id 7');
    expect(second.body.id).toBe(7);
    const answered = await first;
    expect(answered.body.id).toBe(7);
    expect(answered.body.result.isError).toBeFalsy();
    expect(starts).toHaveLength(1);
    // Once answered, the id may be used again.
    expect((await mcp.post(toolCall(7, 'DigitalTwin_get_fov', '{}'))).body.result.isError).toBeFalsy();
  });
});

describe('whole-array reads', () => {
  it('JSON previews stop at MAX_MAX_VALUES (400 naming max_values and the limit, REST and MCP); whole arrays stream as binary', async () => {
    const server = await serve();
    open.push(server);
    expect((await http(server, 'PUT', '/api/devices/SCAN/attributes/imsize', { value: 300 })).status).toBe(200);
    const key = (await http(server, 'POST', '/api/commands', { command: 'acquire_scanned_image', args: ['haadf'] })).body.value as string;

    const huge = await http(server, 'GET', `/api/data/${key}?max_values=${4096 * 4096}`);
    expect(huge.status).toBe(400);
    expect(huge.body.description).toContain('max_values');
    expect(huge.body.description).toContain(String(MAX_MAX_VALUES));
    const mcp = await rawMcp(server);
    const viaMcp = toolErrorOf(await mcp.post(toolCall(1, 'get_data_from_key', JSON.stringify({ key, max_values: 4096 * 4096 }))));
    expect(viaMcp.description).toContain(`max_values must be a whole number from 0 to ${MAX_MAX_VALUES}`);

    const raw = await fetch(`${server.restUrl}/data/${key}/raw?dataset=image/HAADF`);
    expect(raw.status).toBe(200);
    expect(raw.headers.get('content-type')).toBe('application/octet-stream');
    expect(raw.headers.get('x-shape')).toBe('300,300');
    expect(raw.headers.get('x-dtype')).toBe('float64');
    const bytes = Buffer.from(await raw.arrayBuffer());
    const values = Array.from({ length: bytes.length / 8 }, (_, i) => bytes.readDoubleLE(i * 8));
    expect(values).toEqual(Array.from(server.twin.twin.data.get(key)!.datasets[0]!.values));

    const missing = await http(server, 'GET', `/api/data/${key}/raw?dataset=nope`);
    expect(missing.status).toBe(404);
    expect(missing.body.description).toContain('image/HAADF');
  });
});

describe('refused commands report the instrument time they cost', () => {
  it('REST error bodies and MCP _meta carry start_s, end_s and breakdown_s', async () => {
    const server = await serve();
    open.push(server);
    const r = await http(server, 'POST', '/api/commands', { command: 'move_stage', args: [1, 0, 0, 0, 0] });
    expect(r.status).toBe(400);
    expect(r.body.end_s).toBeGreaterThan(r.body.start_s);
    expect(r.body.breakdown_s.control_overhead).toBeCloseTo(r.body.end_s - r.body.start_s, 12);
    const mcp = await rawMcp(server);
    const viaMcp = await mcp.post(toolCall(1, 'DigitalTwin_move_stage', '{"arg":[1,0,0,0,0]}'));
    expect(viaMcp.body.result.isError).toBe(true);
    expect(viaMcp.body.result._meta.start_s).toBeGreaterThanOrEqual(r.body.end_s);
    expect(viaMcp.body.result._meta.end_s).toBeGreaterThan(viaMcp.body.result._meta.start_s);
    // A shape refused at the boundary costs nothing, and says so by carrying no timing.
    const shape = await http(server, 'POST', '/api/commands', { command: 'move_stage', args: 'x' });
    expect(shape.body.start_s).toBeUndefined();
  });
});
