import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { expect } from 'vitest';
import { parseToolError } from '../../src/protocol/dev-failed.js';
import { parseScenario, type Scenario } from '../../src/protocol/scenario.js';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server/http/server.js';

/** A small scenario that builds fast: 60 x 60 um of particles around the stage origin. */
export function smallScenario(overrides: Record<string, unknown> = {}): Scenario {
  return parseScenario({
    name: 'server-test',
    seed: 5,
    specimen: { area_um: [60, 60], density_per_um2: 0.05, response: { gaussians: 200, sd: 0.1, base_eV: 15, scale_eV: 2 } },
    ...overrides,
  });
}

/** Numbers as Tango carries DevFloat and DevVarFloatArray: rounded through float32 (elementwise for arrays). */
export function f32<T>(v: T): T {
  if (typeof v === 'number') return Math.fround(v) as T;
  return (Array.isArray(v) ? v.map((x: unknown) => (typeof x === 'number' ? Math.fround(x) : x)) : v) as T;
}

/** A server on a free loopback port over a small scenario, unpaced unless told. */
export function serve(opts: Partial<ServerOptions> = {}): Promise<RunningServer> {
  return startServer({ scenario: smallScenario(), port: 0, speed: 'max', ...opts });
}

export async function mcpClient(server: RunningServer, opts: { token?: string; name?: string } = {}): Promise<Client> {
  const headers: Record<string, string> = {};
  if (opts.token) headers['authorization'] = `Bearer ${opts.token}`;
  const client = new Client({ name: opts.name ?? 'test-client', version: '1.0.0' });
  // As the remote adapter does: no connection-wide abort signal on each POST (undici would keep a listener per request).
  const fetchWithoutSharedSignal: typeof fetch = (url, init) => {
    if (!init?.signal || init.method !== 'POST') return fetch(url, init);
    const { signal: _shared, ...rest } = init;
    return fetch(url, rest);
  };
  await client.connect(new StreamableHTTPClientTransport(new URL(server.mcpUrl), { requestInit: { headers }, fetch: fetchWithoutSharedSignal }));
  return client;
}

export async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

/** The text of a tool result's first text block ('' when none). */
export function textOf(result: Pick<CallToolResult, 'content'>): string {
  const text = result.content.find((c) => c.type === 'text');
  return text && text.type === 'text' ? text.text : '';
}

/** The {reason, description, origin} of a tool error (FastMCP's DevFailed text), or undefined for a success. */
export function toolError(result: CallToolResult): { reason: string; description: string; origin: string } | undefined {
  if (!result.isError) return undefined;
  const text = textOf(result);
  expect(text).toMatch(/^Error calling tool '.*': DevFailed\[ DevError\[ desc = .*, origin = .*, reason = \S+, severity = ERR\] \]$/s);
  return parseToolError(text, '?').toJSON();
}

export interface HttpReply {
  status: number;
  body: any;
}

/** One REST request; `body` a value to send as JSON or a raw string. */
export async function http(server: RunningServer, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpReply> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${server.url}${path}`, init);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Leave as text.
  }
  return { status: res.status, body: parsed };
}

/** JSON text nesting `depth` arrays around `inner` (built as text: no recursion needed to make it). */
export const deepJson = (depth: number, inner = '0') => '['.repeat(depth) + inner + ']'.repeat(depth);

const MCP_HEADERS = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' };

/** A raw MCP session (the SDK client cannot even encode the values these tests send): post(text) sends one JSON-RPC body. */
export async function rawMcp(server: RunningServer): Promise<{ post(body: string): Promise<{ status: number; body: any }> }> {
  const init = await fetch(server.mcpUrl, {
    method: 'POST',
    headers: MCP_HEADERS,
    body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }),
  });
  const session = init.headers.get('mcp-session-id')!;
  await init.text();
  const headers = { ...MCP_HEADERS, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' };
  await fetch(server.mcpUrl, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) }).then((r) => r.text());
  return {
    post: async (body) => {
      const r = await fetch(server.mcpUrl, { method: 'POST', headers, body });
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : undefined };
    },
  };
}

/** A tools/call body with `args` given as JSON text. */
export const toolCall = (id: number, name: string, argsJson: string) => `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"${name}","arguments":${argsJson}}}`;
export const toolErrorOf = (reply: { body: any }) => parseToolError(reply.body.result.content[0].text, '?').toJSON();

