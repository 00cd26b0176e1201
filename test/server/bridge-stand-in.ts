import { createServer, request as httpRequest, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { ATTRIBUTES, COMMANDS, tangoClass, tangoDeviceName, type ArgType, type CommandSpec, type DeviceName } from '../../src/protocol/commands.js';
import { InstrumentError } from '../../src/protocol/instrument.js';
import { twinDigest, type Scenario } from '../../src/protocol/scenario.js';
import { createTwin, type Twin } from '../../src/twin/index.js';

/**
 * A stand-in for asyncroscopy's MCP bridge (FastMCP over Tango, protocol.md section 3 in the
 * shared docs; the README's "Against a served twin"), over an in-process twin. It serves only
 * what the real bridge serves, in its shapes, written here apart from the served twin's tools.ts
 * so that a client test against it fails where the two differ:
 *
 * - MCP over streamable HTTP at /mcp, replies as server-sent events (FastMCP's default); no
 *   socket.io, no REST, nothing else (404);
 * - one tool per Tango command, `<TangoClass>_<command>`, its one parameter named after the
 *   Python parameter (position, detector_list, ...) and required; `list_devices` and
 *   `get_data_from_key(key, max_values = 64)`;
 * - results as FastMCP gives them: a string as raw text plus {result}, other values as JSON text
 *   plus {result}, a void command as empty content without structured content;
 * - errors as `Error calling tool '<name>': DevFailed[ DevError[ desc = ..., origin = ...,
 *   reason = ..., severity = ERR] ]`;
 * - no _meta timing, no get_clock, no leases, no get_scenario.
 *
 * One documented exception, off by default: `attributeTools: true` adds `<DEVICE>_write_attribute`
 * and `<DEVICE>_read_attribute` (the served twin's extras, in the same FastMCP shapes). The real
 * bridge does not bridge Tango attributes, so a campaign, which sets SCAN imsize and dwell_time
 * and EELS exposure, cannot run against it over MCP alone; with them, it can, and its record can
 * be compared with an in-process one. Likewise `getScenario: true` adds the served twin's
 * DigitalTwin_get_scenario ({name, seed, digest}), for the client's check of what is served.
 */
export interface BridgeStandIn {
  /** The MCP endpoint, http://127.0.0.1:<port>/mcp. */
  url: string;
  twin: Twin;
  /** Tool calls by name, for tests that check what the client sent. */
  calls: { name: string; arguments: Record<string, unknown> }[];
  close(): Promise<void>;
}

export interface StandInOptions {
  seed?: number;
  attributeTools?: boolean;
  /** Publish the served twin's DigitalTwin_get_scenario (another documented exception). */
  getScenario?: boolean;
  /** Reply with JSON instead of server-sent events (FastMCP's json_response=True). */
  jsonResponse?: boolean;
}

/** FastMCP's error text for an exception escaping a tool. */
export function fastMcpError(tool: string, e: unknown): string {
  if (e instanceof InstrumentError) {
    return `Error calling tool '${tool}': DevFailed[ DevError[ desc = ${e.description}, origin = ${e.origin}, reason = ${e.reason}, severity = ERR] ]`;
  }
  return `Error calling tool '${tool}': ${(e as Error)?.message ?? String(e)}`;
}

/** A Tango type as pydantic writes its JSON Schema (FastMCP builds the tool schema from the Python signature). */
function pydanticSchema(type: ArgType, title: string): Record<string, unknown> {
  switch (type) {
    case 'DevFloat':
      return { title, type: 'number' };
    case 'DevLong':
      return { title, type: 'integer' };
    case 'DevBoolean':
      return { title, type: 'boolean' };
    case 'DevVarFloatArray':
      return { title, type: 'array', items: { type: 'number' } };
    case 'DevVarStringArray':
      return { title, type: 'array', items: { type: 'string' } };
    default:
      return { title, type: 'string' };
  }
}

const titled = (name: string) => name.split('_').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join(' ');

interface Entry {
  tool: Tool;
  run(args: Record<string, unknown>): Promise<unknown>;
  /** The Tango output type: DevVoid gives empty content. */
  output: ArgType | 'JSON';
}

function commandEntry(spec: CommandSpec, twin: Twin): Entry {
  const name = `${tangoClass(spec.device)}_${spec.name}`;
  const properties = spec.parameter ? { [spec.parameter]: pydanticSchema(spec.input, titled(spec.parameter)) } : {};
  const tool: Tool = {
    name,
    description: `Tango Device Class: ${tangoClass(spec.device)}\nTango Command: ${spec.name}\nInput Type: ${spec.input}\nOutput Type: ${spec.output}`,
    inputSchema: { type: 'object', properties, ...(spec.parameter ? { required: [spec.parameter] } : {}), title: `${name}Arguments` },
    ...(spec.output === 'DevVoid' ? {} : { outputSchema: { type: 'object', properties: { result: pydanticSchema(spec.output, 'Result') }, required: ['result'], title: '_WrappedResult', 'x-fastmcp-wrap-result': true } }),
  };
  return {
    tool,
    output: spec.output,
    run: async (args) => {
      if (spec.parameter && !(spec.parameter in args)) throw new Error(`1 validation error for ${name}Arguments\n${spec.parameter}\n  Field required [type=missing, input_value=${JSON.stringify(args)}, input_type=dict]`);
      return (await twin.instrument.execute({ device: spec.device, command: spec.name, args: spec.parameter ? args[spec.parameter] : undefined })).value;
    },
  };
}

/** The documented exception: the served twin's attribute tools, in FastMCP shapes. */
function attributeEntries(device: DeviceName, twin: Twin): Entry[] {
  const attribute = { title: 'Attribute', type: 'string' };
  return [
    {
      tool: { name: `${device}_write_attribute`, description: `Write a Tango attribute of ${device}.`, inputSchema: { type: 'object', properties: { attribute, value: { title: 'Value' } }, required: ['attribute', 'value'] } },
      output: 'DevVoid',
      run: async (a) => twin.instrument.writeAttribute({ device, attribute: String(a.attribute), value: a.value }),
    },
    {
      tool: { name: `${device}_read_attribute`, description: `Read a Tango attribute of ${device}.`, inputSchema: { type: 'object', properties: { attribute }, required: ['attribute'] } },
      output: 'JSON',
      run: async (a) => twin.instrument.readAttribute(device, String(a.attribute)),
    },
  ];
}

function bridgeEntries(twin: Twin): Entry[] {
  const devices = [...new Set(COMMANDS.map((c) => c.device))];
  return [
    {
      tool: { name: 'list_devices', description: 'List the exported Tango devices.', inputSchema: { type: 'object', properties: {} }, outputSchema: { type: 'object', properties: { result: { type: 'array', items: { type: 'string' } } }, required: ['result'], 'x-fastmcp-wrap-result': true } },
      output: 'JSON',
      run: async () => devices.map(tangoDeviceName),
    },
    {
      tool: {
        name: 'get_data_from_key',
        description: 'Read the data behind a data key from the data server.',
        inputSchema: { type: 'object', properties: { key: { title: 'Key', type: 'string' }, max_values: { title: 'Max Values', type: 'integer', default: 64 } }, required: ['key'] },
        outputSchema: { type: 'object', additionalProperties: true },
      },
      output: 'JSON',
      run: async (a) => {
        const key = String(a.key);
        const max_values = typeof a.max_values === 'number' ? a.max_values : 64;
        let record;
        try {
          record = await twin.instrument.getData(key);
        } catch {
          throw new Error(`Could not resolve data key '${key}'`);
        }
        const preview = (values: Float64Array) => Array.from(values.subarray(0, max_values), (v) => (Number.isFinite(v) ? v : null));
        return { key: record.key, uri: record.uri, format: 'hdf5', attrs: record.attrs, datasets: record.datasets.map((d) => ({ name: d.name, shape: d.shape, dtype: d.dtype, attrs: d.attrs, preview: preview(d.values) })) };
      },
    },
  ];
}

/** A value as FastMCP returns it: a string raw, anything else as JSON; {result} for both; nothing for None. */
function fastMcpResult(entry: Entry, value: unknown): CallToolResult {
  if (entry.output === 'DevVoid' || value === undefined || (value === null && entry.output !== 'JSON')) return { content: [] };
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  const structured = entry.tool.name === 'get_data_from_key' ? (value as Record<string, unknown>) : { result: value };
  return { content: [{ type: 'text', text }], structuredContent: structured };
}

export async function startBridgeStandIn(scenario: Scenario, opts: StandInOptions = {}): Promise<BridgeStandIn> {
  const twin = createTwin(scenario, { seed: opts.seed ?? scenario.seed, client: 'bridge-stand-in' });
  const attributeDevices = opts.attributeTools ? [...new Set(ATTRIBUTES.map((a) => a.device))] : [];
  const entries = new Map([...bridgeEntries(twin), ...COMMANDS.map((c) => commandEntry(c, twin)), ...attributeDevices.flatMap((d) => attributeEntries(d, twin))].map((e) => [e.tool.name, e]));
  if (opts.getScenario) {
    const served = { name: scenario.name, seed: twin.seed, digest: twinDigest(scenario) };
    entries.set('DigitalTwin_get_scenario', {
      tool: { name: 'DigitalTwin_get_scenario', description: 'Twin extra: the scenario served.', inputSchema: { type: 'object', properties: {} } },
      output: 'JSON',
      run: async () => served,
    });
  }
  const calls: BridgeStandIn['calls'] = [];
  // One command at a time, as one Tango device server does.
  let queue: Promise<unknown> = Promise.resolve();

  function mcpServer(): Server {
    const server = new Server({ name: 'asyncroscopy-bridge-stand-in', version: '1' }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: [...entries.values()].map((e) => e.tool) }));
    server.setRequestHandler(CallToolRequestSchema, async (request) => {
      const { name } = request.params;
      const args = request.params.arguments ?? {};
      calls.push({ name, arguments: args });
      const entry = entries.get(name);
      if (!entry) return { isError: true, content: [{ type: 'text', text: `Unknown tool: ${name}` }] };
      const done = queue.then(() => entry.run(args));
      queue = done.catch(() => undefined);
      try {
        return fastMcpResult(entry, await done);
      } catch (e) {
        return { isError: true, content: [{ type: 'text', text: fastMcpError(name, e) }] };
      }
    });
    return server;
  }

  const transports = new Map<string, StreamableHTTPServerTransport>();
  const http: HttpServer = createServer((req, res) => {
    void (async () => {
      if (new URL(req.url ?? '/', 'http://x').pathname !== '/mcp') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
        return;
      }
      const body = await jsonBody(req);
      const id = req.headers['mcp-session-id'];
      let transport = typeof id === 'string' ? transports.get(id) : undefined;
      if (!transport) {
        if (typeof id === 'string') {
          res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: 'server-error', error: { code: -32600, message: 'Session not found' } }));
          return;
        }
        const created = new StreamableHTTPServerTransport({ sessionIdGenerator: () => `standin-${transports.size}-${Date.now()}`, enableJsonResponse: opts.jsonResponse === true, onsessioninitialized: (sid) => void transports.set(sid, created) });
        created.onclose = () => {
          if (created.sessionId) transports.delete(created.sessionId);
        };
        await mcpServer().connect(created);
        transport = created;
      }
      await transport.handleRequest(req, res, body);
    })().catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(e));
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = (http.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    twin,
    calls,
    async close() {
      for (const t of transports.values()) await t.close().catch(() => undefined);
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

async function jsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  if (chunks.length === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * A served twin seen as an MCP-only server: a reverse proxy to `target` (its base URL) that
 * forwards every request but socket.io's (404), as asyncroscopy's bridge has none.
 */
export async function withoutSocketIo(target: string): Promise<{ url: string; close(): Promise<void> }> {
  const upstream = new URL(target);
  const http = createServer((req, res) => {
    if ((req.url ?? '').startsWith('/socket.io')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
      return;
    }
    const forward = httpRequest({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: { ...req.headers, host: upstream.host } }, (reply) => {
      res.writeHead(reply.statusCode ?? 502, reply.headers);
      reply.pipe(res);
    });
    forward.on('error', (e) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(String(e));
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    async close() {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
