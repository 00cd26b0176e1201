import { request as httpRequest } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterEach, describe, expect, it } from 'vitest';
import { io as connect } from 'socket.io-client';
import { originAllowed } from '../../src/server/http/auth.js';
import { checkServeOptions, type RunningServer } from '../../src/server/http/server.js';
import { InstrumentLease } from '../../src/server/http/lease.js';
import { connectRemoteInstrument } from '../../src/protocol/remote.js';
import { interferenceWarning } from '../../src/server/cli/run.js';
import { call, http, mcpClient, serve, toolError } from './server-fixtures.js';

const TOKEN = 'hardening-token';
const bearer = { authorization: `Bearer ${TOKEN}` };

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('Disconnect / Connect on the served twin', () => {
  it('a Disconnect is recoverable: Connect turns the twin ON again', async () => {
    server = await serve();
    expect((await http(server, 'POST', '/api/commands', { command: 'Disconnect' })).status).toBe(200);
    const refused = await http(server, 'POST', '/api/commands', { command: 'get_stage' });
    expect(refused.body.reason).toBe('DeviceOff');
    expect(refused.body.description).toMatch(/Connect/);
    expect((await http(server, 'POST', '/api/commands', { command: 'Connect' })).status).toBe(200);
    expect(server.twin.twin.state.device).toBe('ON');
    expect((await http(server, 'POST', '/api/commands', { command: 'get_stage' })).status).toBe(200);
  });

  it('with a token, only token holders may Disconnect or Connect', async () => {
    server = await serve({ token: TOKEN });
    expect((await http(server, 'POST', '/api/commands', { command: 'Disconnect' })).status).toBe(401);
    expect((await http(server, 'POST', '/api/commands', { command: 'Disconnect' }, bearer)).status).toBe(200);
    expect((await http(server, 'POST', '/api/commands', { command: 'Connect' })).status).toBe(401);
    expect(server.twin.twin.state.device).toBe('OFF');
    expect((await http(server, 'POST', '/api/commands', { command: 'Connect' }, bearer)).status).toBe(200);
    expect(server.twin.twin.state.device).toBe('ON');
  });
});

/** A raw MCP initialize (cheaper than an SDK client): the status and the session id. */
async function initialize(s: RunningServer, name: string, headers: Record<string, string> = {}): Promise<{ status: number; session?: string; body: string }> {
  const res = await fetch(s.mcpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name, version: '1' } } }),
  });
  return { status: res.status, session: res.headers.get('mcp-session-id') ?? undefined, body: await res.text() };
}

async function flood(s: RunningServer, n: number, name: (i: number) => string): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i += 25) {
    const batch = await Promise.all(Array.from({ length: Math.min(25, n - i) }, (_, j) => initialize(s, name(i + j))));
    statuses.push(...batch.map((r) => r.status));
  }
  return statuses;
}

describe('MCP session exhaustion', () => {
  it('a flood of tokenless sessions from one client locks out neither a token holder nor another client', async () => {
    server = await serve({ token: TOKEN });
    const statuses = await flood(server, 300, () => 'flooder');
    // The flooder's own oldest idle sessions make way for its newer ones.
    expect(statuses.every((st) => st === 200)).toBe(true);
    expect((await initialize(server, 'token-holder', bearer)).status).toBe(200);
    expect((await initialize(server, 'other-client')).status).toBe(200);
    expect((await initialize(server, 'flooder', { 'x-client-id': 'named-client' })).status).toBe(200);
  });

  it('tokenless sessions under many names hit their cap (429 naming it); token holders keep a reserve', async () => {
    server = await serve({ token: TOKEN, sessionLimits: { maxSessions: 16, perOwner: 2, reservedForToken: 4 } });
    const statuses = await flood(server, 40, (i) => `name-${i}`);
    expect(statuses.filter((st) => st === 200)).toHaveLength(12);
    const refused = await initialize(server, 'late');
    expect(refused.status).toBe(429);
    expect(refused.body).toMatch(/at most 12; 4 are kept for token holders/);
    for (let i = 0; i < 2; i++) expect((await initialize(server, 'token-holder', bearer)).status).toBe(200);
    // The token holder's third session replaces its own oldest, not anyone else's.
    expect((await initialize(server, 'token-holder', bearer)).status).toBe(200);
  });
});

/** A GET with chosen headers, Host included (fetch does not let callers set Host). */
function rawGet(s: RunningServer, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const url = new URL(path, s.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname: url.hostname, port: url.port, path: url.pathname + url.search, headers }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A socket.io handshake with these headers and auth: its hello, or the refusal's message. */
async function handshake(s: RunningServer, headers: Record<string, string> = {}, auth: Record<string, string> = {}): Promise<{ hello?: any; error?: string; socket: ReturnType<typeof connect> }> {
  const socket = connect(s.socketUrl, { path: '/socket.io', transports: ['websocket'], extraHeaders: headers, auth, reconnection: false });
  try {
    return await new Promise((resolve) => {
      socket.once('hello', (hello) => resolve({ hello, socket }));
      socket.once('connect_error', (e) => resolve({ error: `${e.message} ${JSON.stringify((e as any).data ?? (e as any).description ?? '')}`, socket }));
    });
  } finally {
    opened.push(socket);
  }
}
const opened: { close(): unknown }[] = [];
afterEach(() => {
  for (const o of opened.splice(0)) o.close();
});

describe('cross-site requests', () => {
  it('originAllowed: none, same-host loopback pages and named origins only', () => {
    expect(originAllowed(undefined, '127.0.0.1:8000')).toBe(true);
    expect(originAllowed('http://127.0.0.1:8000', '127.0.0.1:8000')).toBe(true);
    expect(originAllowed('http://localhost:8000/', 'localhost:8000')).toBe(true);
    expect(originAllowed('http://localhost:3000', 'localhost:8000')).toBe(false);
    expect(originAllowed('https://evil.example', '127.0.0.1:8000')).toBe(false);
    expect(originAllowed('null', '127.0.0.1:8000')).toBe(false);
    expect(originAllowed('http://evil.example:8000', 'evil.example:8000')).toBe(false);
    expect(originAllowed('http://Dash.Local:5173', '127.0.0.1:8000', ['http://dash.local:5173/'])).toBe(true);
  });

  it('--allow-origin takes origins only', () => {
    expect(() => checkServeOptions({ allowOrigins: ['http://localhost:5173', 'https://Dash.example/'] })).not.toThrow();
    expect(() => checkServeOptions({ allowOrigins: ['localhost:5173'] })).toThrow(/--allow-origin takes a web origin/);
    expect(() => checkServeOptions({ allowOrigins: ['http://dash.example/app'] })).toThrow(/no path/);
  });

  it('HTTP refuses a foreign Origin on every route, and answers same-host and allowed pages', async () => {
    server = await serve({ allowOrigins: ['http://dash.example'] });
    const evil = { origin: 'https://evil.example' };
    for (const [method, path, body] of [['GET', '/api/state'], ['POST', '/api/commands', { command: 'move_stage', args: [1e-6, 0, 0, 0, 0] }], ['GET', '/api/nowhere'], ['POST', '/mcp', {}]] as const) {
      const r = await http(server, method, path, body, evil);
      expect({ path, status: r.status, reason: r.body.reason }).toEqual({ path, status: 403, reason: 'ForbiddenOrigin' });
    }
    expect(server.twin.twin.state.stage[0]).toBe(0);
    expect((await http(server, 'GET', '/api/state', undefined, { origin: new URL(server.url).origin })).status).toBe(200);
    expect((await http(server, 'GET', '/api/state', undefined, { origin: 'http://dash.example' })).status).toBe(200);
  });

  it('socket.io refuses a foreign Origin and greets an allowed one', async () => {
    server = await serve({ allowOrigins: ['http://dash.example'] });
    const refused = await handshake(server, { origin: 'https://evil.example' });
    expect(refused.hello).toBeUndefined();
    expect(refused.error).toBeDefined();
    expect((await handshake(server, { origin: 'http://dash.example' })).hello).toMatchObject({ clock_s: 0 });
    expect((await handshake(server)).hello).toMatchObject({ clock_s: 0 });
  });

  it('socket.io refuses a handshake addressed to a rebound Host', async () => {
    server = await serve();
    const port = new URL(server.url).port;
    const handshakeWith = (headers: Record<string, string>) => rawGet(server!, '/socket.io/?EIO=4&transport=polling', headers);
    expect((await handshakeWith({ host: `127.0.0.1:${port}` })).status).toBe(200);
    const rebound = await handshakeWith({ host: `evil.example:${port}` });
    expect(rebound.status).toBe(403);
    expect(rebound.body).toMatch(/ForbiddenHost/);
    const foreign = await handshakeWith({ host: `127.0.0.1:${port}`, origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    expect(foreign.body).toMatch(/ForbiddenOrigin/);
  });

  it('with a token, publishing campaign events needs the token', async () => {
    server = await serve({ token: TOKEN });
    const { socket } = await handshake(server);
    const ack = await new Promise<any>((resolve) => socket.emit('publish', { type: 'iteration' }, resolve));
    expect(ack).toMatchObject({ ok: false, reason: 'Unauthorized' });
    const holder = (await handshake(server, {}, { token: TOKEN })).socket;
    expect(await new Promise<any>((resolve) => holder.emit('publish', { type: 'iteration' }, resolve))).toEqual({ ok: true });
  });

  it('off loopback with a token (readsNeedToken), reads need the token: /api/state and the socket.io hello', async () => {
    server = await serve({ token: TOKEN, readsNeedToken: true });
    expect((await http(server, 'GET', '/api/state')).status).toBe(401);
    expect((await http(server, 'GET', '/api/state', undefined, bearer)).status).toBe(200);
    expect((await handshake(server)).error).toMatch(/Unauthorized/);
    expect((await handshake(server, {}, { token: TOKEN })).hello).toBeDefined();
  });
});

describe('instrument lease', () => {
  const move = (x: number) => ({ command: 'move_stage', args: [x, 0, 0, 0, 0] });

  it('REST: the holder alone changes state; others are refused naming the holder, their reads run and are reported', async () => {
    server = await serve();
    const alice = { 'x-client-id': 'alice' };
    const bob = { 'x-client-id': 'bob' };
    const lease = await http(server, 'POST', '/api/lease', { idle_s: 60 }, alice);
    expect(lease.status).toBe(200);
    expect(lease.body).toMatchObject({ client: 'alice', idle_s: 60 });
    expect(typeof lease.body.lease_id).toBe('string');
    expect((await http(server, 'POST', '/api/lease', {}, bob)).body.reason).toBe('InstrumentLeased');

    const refused = await http(server, 'POST', '/api/commands', move(1e-6), bob);
    expect(refused.status).toBe(423);
    expect(refused.body).toMatchObject({ reason: 'InstrumentLeased', origin: 'DigitalTwin.move_stage' });
    expect(refused.body.description).toMatch(/"alice"/);
    expect((await http(server, 'PUT', '/api/devices/SCAN/attributes/imsize', { value: 32 }, bob)).body.reason).toBe('InstrumentLeased');
    expect((await http(server, 'POST', '/api/commands', { command: 'get_stage' }, bob)).status).toBe(200);
    expect((await http(server, 'GET', '/api/state', undefined, bob)).body.lease).toMatchObject({ client: 'alice' });
    expect((await http(server, 'POST', '/api/commands', move(2e-6), alice)).status).toBe(200);
    expect(server.twin.twin.state.stage[0]).toBe(Math.fround(2e-6));

    expect((await http(server, 'DELETE', '/api/lease', undefined, bob)).body.reason).toBe('API_NoLease');
    const released = await http(server, 'DELETE', `/api/lease?lease_id=${lease.body.lease_id}`, undefined, alice);
    expect(released.status).toBe(200);
    expect(released.body.foreign).toEqual({ ran: { 'DigitalTwin.get_stage': 1 }, refused: { 'DigitalTwin.move_stage': 1, 'SCAN.imsize': 1 } });
    expect((await http(server, 'POST', '/api/commands', move(3e-6), bob)).status).toBe(200);
  });

  it('MCP: DigitalTwin_acquire_lease / release_lease, and another session is refused meanwhile', async () => {
    server = await serve();
    const a = await mcpClient(server, { name: 'a' });
    const b = await mcpClient(server, { name: 'b' });
    try {
      const taken = await call(a, 'DigitalTwin_acquire_lease', { idle_s: 30 });
      expect(toolError(taken)).toBeUndefined();
      const e = toolError(await call(b, 'DigitalTwin_move_stage', { arg: [1e-6, 0, 0, 0, 0] }));
      expect(e?.reason).toBe('InstrumentLeased');
      expect(e?.description).toMatch(/mcp:a:/);
      expect(toolError(await call(a, 'DigitalTwin_move_stage', { arg: [1e-6, 0, 0, 0, 0] }))).toBeUndefined();
      const released = (await call(a, 'DigitalTwin_release_lease', {})).structuredContent as any;
      expect(released.result.foreign.refused).toEqual({ 'DigitalTwin.move_stage': 1 });
      expect(toolError(await call(b, 'DigitalTwin_move_stage', { arg: [0, 0, 0, 0, 0] }))).toBeUndefined();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a lease ends with the MCP session that holds it', async () => {
    server = await serve();
    const transport = new StreamableHTTPClientTransport(new URL(server.mcpUrl));
    const holder = new Client({ name: 'holder', version: '1' });
    await holder.connect(transport);
    expect(toolError(await call(holder, 'DigitalTwin_acquire_lease', {}))).toBeUndefined();
    expect((await http(server, 'GET', '/api/state')).body.lease).toMatchObject({ client: expect.stringMatching(/^mcp:holder:/) });
    await transport.terminateSession();
    await holder.close();
    expect((await http(server, 'GET', '/api/state')).body.lease).toBeNull();
    expect((await http(server, 'POST', '/api/commands', { command: 'move_stage', args: [1e-6, 0, 0, 0, 0] })).status).toBe(200);
  });

  it('with a token, taking the lease needs it', async () => {
    server = await serve({ token: TOKEN });
    expect((await http(server, 'POST', '/api/lease', {})).status).toBe(401);
    expect((await http(server, 'POST', '/api/lease', {}, bearer)).status).toBe(200);
  });

  it('lapses after idle_s without a command from its holder; a holder command renews it', () => {
    let now = 0;
    const lease = new InstrumentLease(() => now);
    lease.acquire('alice', 10);
    now = 9_000;
    lease.admit('alice', 'DigitalTwin.move_stage', true);
    now = 18_000;
    expect(() => lease.admit('bob', 'DigitalTwin.move_stage', true)).toThrow(/leased to "alice"/);
    now = 19_000;
    expect(lease.holder).toBeNull();
    expect(() => lease.admit('bob', 'DigitalTwin.move_stage', true)).not.toThrow();
    expect(() => lease.acquire('bob', 0)).toThrow(/idle_s/);
  });
});

describe('run --instrument and the lease', () => {
  it('the remote adapter takes the lease; other clients are refused and reported on release', async () => {
    server = await serve();
    const remote = await connectRemoteInstrument(server.mcpUrl, { clientName: 'campaign' });
    try {
      expect(await remote.acquireLease()).toBe(true);
      const intruder = { 'x-client-id': 'intruder' };
      expect((await http(server, 'POST', '/api/commands', { command: 'move_stage', args: [1e-6, 0, 0, 0, 0] }, intruder)).body.reason).toBe('InstrumentLeased');
      expect((await http(server, 'POST', '/api/commands', { command: 'get_stage' }, intruder)).status).toBe(200);
      await remote.execute({ command: 'move_stage', args: [2e-6, 0, 0, 0, 0] });
      const interference = await remote.releaseLease();
      expect(interference).toEqual({ lease: 'held', foreign: { ran: { 'DigitalTwin.get_stage': 1 }, refused: { 'DigitalTwin.move_stage': 1 } } });
      expect(interferenceWarning(interference)).toMatch(/1 ran \(DigitalTwin.get_stage 1\), 1 refused \(DigitalTwin.move_stage 1\)/);
      expect(interferenceWarning({ lease: 'held', foreign: { ran: {}, refused: {} } })).toBeUndefined();
      expect(interferenceWarning({ lease: 'not offered', foreign: { ran: {}, refused: {} } })).toMatch(/offers no lease/);
    } finally {
      await remote.close();
    }
  });

  it('a campaign cannot start while another client holds the lease', async () => {
    server = await serve();
    expect((await http(server, 'POST', '/api/lease', {}, { 'x-client-id': 'someone' })).status).toBe(200);
    const remote = await connectRemoteInstrument(server.mcpUrl, { clientName: 'campaign' });
    try {
      await expect(remote.acquireLease()).rejects.toMatchObject({ reason: 'InstrumentLeased' });
    } finally {
      await remote.close();
    }
  });
});
