import { writeFileSync, mkdtempSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/protocol/commands.js';
import { run, serveOptions, serveUntil, speedOption } from '../../src/server/cli/serve.js';
import { UsageError } from '../../src/server/cli/args.js';
import { BODY_LIMIT_BYTES, startServer, type RunningServer } from '../../src/server/http/server.js';
import { http, serve, smallScenario, f32 } from './server-fixtures.js';

describe('REST /api', () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await serve();
  });
  afterAll(async () => server?.close());

  it('lists the command surface', async () => {
    const r = await http(server, 'GET', '/api/commands');
    expect(r.status).toBe(200);
    expect(r.body.commands).toHaveLength(COMMANDS.length);
    expect(r.body.commands[1]).toMatchObject({ device: 'instrument', name: 'move_stage', tool: 'DigitalTwin_move_stage', changesState: true });
    expect(r.body.attributes.some((a: { name: string }) => a.name === 'dwell_time')).toBe(true);
  });

  it('runs commands with their simulated timing, writes and reads attributes, serves data and state', async () => {
    const w = await http(server, 'PUT', '/api/devices/SCAN/attributes/imsize', { value: 32 });
    expect(w.status).toBe(200);
    expect(w.body.value).toBeNull();
    expect((await http(server, 'GET', '/api/devices/SCAN/attributes/imsize')).body).toEqual({ device: 'SCAN', attribute: 'imsize', value: 32 });

    const move = await http(server, 'POST', '/api/commands', { command: 'move_stage', args: [2e-6, 0, 0, 0, 0] }, { 'x-client-id': 'rest-test' });
    expect(move.status).toBe(200);
    expect(move.body.breakdown_s.stage_travel).toBeGreaterThan(0);
    expect(move.body.end_s).toBeGreaterThan(move.body.start_s);

    const acquired = await http(server, 'POST', '/api/commands', { command: 'acquire_scanned_image', args: ['haadf'] });
    const key = acquired.body.value as string;
    const data = await http(server, 'GET', `/api/data/${key}?max_values=2000`);
    expect(data.status).toBe(200);
    expect(data.body.datasets[0]).toMatchObject({ name: 'image/HAADF', shape: [32, 32] });
    expect(data.body.datasets[0].preview).toHaveLength(1024);
    expect(data.body.datasets[0].attrs.imsize).toBe(32);
    expect((await http(server, 'GET', `/api/data/${key}`)).body.datasets[0].preview).toHaveLength(64);

    const eels = await http(server, 'POST', '/api/commands', { device: 'EELS', command: 'acquire_eels_spectrum' });
    expect(eels.body.value).toMatch(/^spectrum_eels_/);

    const state = await http(server, 'GET', '/api/state');
    expect(state.status).toBe(200);
    expect(state.body.state.stage).toEqual(f32([2e-6, 0, 0, 0, 0]));
    expect(state.body.state.scan.imsize).toBe(32);
    expect(state.body.clock_s).toBe(server.twin.sim.now);
    expect(state.body).toMatchObject({ holder: null, queued: 0, speed: 'max' });
  });

  it('answers mistakes with 4xx {reason, description} and leaves the state unchanged', async () => {
    const before = server.twin.twin.state;
    const cases: [string, string, unknown, number, string][] = [
      ['POST', '/api/commands', { command: 'fly' }, 404, 'API_CommandNotFound'],
      ['POST', '/api/commands', { command: 'move_stage', args: [1, 0, 0, 0, 0] }, 400, 'OutOfRange'],
      ['POST', '/api/commands', { command: 'move_stage', args: 'home' }, 400, 'API_InvalidArgument'],
      ['POST', '/api/commands', { command: 'get_stage', extra: 1 }, 400, 'API_InvalidArgument'],
      ['POST', '/api/commands', { device: 'LASER', command: 'fire' }, 400, 'API_InvalidArgument'],
      ['POST', '/api/commands', { command: 42 }, 400, 'API_InvalidArgument'],
      ['POST', '/api/commands', '{"command": "get_stage"', 400, 'MalformedJson'],
      ['POST', '/api/commands', '{"command": "set_fov", "args": 1e999}', 400, 'API_InvalidArgument'],
      ['POST', '/api/commands', { command: 'x'.repeat(BODY_LIMIT_BYTES) }, 413, 'PayloadTooLarge'],
      ['PUT', '/api/devices/SCAN/attributes/dwell_time', { value: 1e9 }, 400, 'OutOfRange'],
      ['PUT', '/api/devices/SCAN/attributes/colour', { value: 1 }, 404, 'API_AttributeNotFound'],
      ['PUT', '/api/devices/SCAN/attributes/imsize', {}, 400, 'API_InvalidArgument'],
      ['GET', '/api/devices/NOPE/attributes/x', undefined, 400, 'API_InvalidArgument'],
      ['GET', '/api/data/unknown.h5', undefined, 404, 'API_DataNotFound'],
      ['GET', '/api/data/unknown.h5?max_values=-3', undefined, 400, 'API_InvalidArgument'],
      ['GET', '/api/nothing-here', undefined, 404, 'NotFound'],
      ['DELETE', '/api/state', undefined, 404, 'NotFound'],
    ];
    for (const [method, path, body, status, reason] of cases) {
      const r = await http(server, method, path, body);
      expect({ path, body: String(JSON.stringify(body)).slice(0, 60), status: r.status, reason: r.body.reason }).toEqual({ path, body: String(JSON.stringify(body)).slice(0, 60), status, reason });
      expect(typeof r.body.description).toBe('string');
    }
    const text = await http(server, 'POST', '/api/commands', '<command>get_stage</command>', { 'content-type': 'application/xml' });
    expect(text.status).toBe(415);
    expect(server.twin.twin.state).toBe(before);
    expect((await http(server, 'GET', '/api/state')).status).toBe(200);
  });
});

/** A GET with a chosen Host header (fetch does not let callers set Host). */
function getWithHost(server: RunningServer, path: string, host: string): Promise<{ status: number; body: string }> {
  const url = new URL(path, server.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname: url.hostname, port: url.port, path: url.pathname + url.search, headers: { host } }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('DNS rebinding', () => {
  it('refuses requests addressed to another host name on every surface', async () => {
    const server = await serve();
    try {
      const port = new URL(server.url).port;
      expect((await getWithHost(server, '/api/state', `127.0.0.1:${port}`)).status).toBe(200);
      expect((await getWithHost(server, '/api/state', `localhost:${port}`)).status).toBe(200);
      const refused = await getWithHost(server, '/api/state', `evil.example:${port}`);
      expect(refused.status).toBe(403);
      expect(JSON.parse(refused.body).reason).toBe('ForbiddenHost');
      expect((await getWithHost(server, '/mcp', `evil.example:${port}`)).status).toBe(403);
      expect((await getWithHost(server, '/socket.io/?EIO=4&transport=polling', `evil.example:${port}`)).status).toBe(403);
      expect((await getWithHost(server, '/socket.io/?EIO=4&transport=polling', `127.0.0.1:${port}`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe('stem-twin serve', () => {
  const dir = mkdtempSync(join(tmpdir(), 'serve-test-'));
  const file = join(dir, 'scenario.json');
  writeFileSync(file, JSON.stringify({ name: 'cli-test', specimen: { area_um: [40, 40], response: { gaussians: 100 } } }));

  it('parses its options and refuses mistakes with a clear message', () => {
    const o = serveOptions(['--scenario', file, '--seed', '4', '--port', '0', '--speed', '60']);
    expect(o).toMatchObject({ seed: 4, port: 0, speed: 60, host: '127.0.0.1' });
    expect(serveOptions(['--help'])).toBe('help');
    expect(speedOption('max')).toBe('max');
    expect(() => speedOption('0')).toThrow(/--speed must be a positive number/);
    expect(() => serveOptions([])).toThrow(/missing --scenario/);
    expect(() => serveOptions(['--scenario', file, '--port', '70000'])).toThrow(/--port must be a whole number from 0 to 65535/);
    expect(() => serveOptions(['--scenario', file, '--host', '0.0.0.0'])).toThrow(UsageError);
    expect(() => serveOptions(['--scenario', file, '--host', '0.0.0.0'])).toThrow(/without a token/);
    expect(serveOptions(['--scenario', file, '--host', '0.0.0.0', '--token', 'long-enough-token'])).toMatchObject({ host: '0.0.0.0' });
    expect(() => serveOptions(['--scenario', file, '--bogus'])).toThrow(/bogus/);
  });

  it('exits with code 2 on a usage error', async () => {
    const errors: string[] = [];
    const original = console.error;
    console.error = (m: string) => errors.push(m);
    try {
      expect(await run(['--scenario', file, '--speed', 'fast'])).toBe(2);
    } finally {
      console.error = original;
    }
    expect(errors.join('\n')).toMatch(/--speed/);
    expect(errors.join('\n')).toMatch(/example:/);
  });

  it('refuses a public bind without a token in startServer too', async () => {
    await expect(startServer({ scenario: smallScenario(), host: '0.0.0.0', port: 0 })).rejects.toThrow(/--token/);
  });

  it('serves until stopped, printing the URLs', async () => {
    const stop = new AbortController();
    const lines: string[] = [];
    const serving = serveUntil({ scenario: smallScenario(), port: 0, speed: 'max', host: '127.0.0.1', seed: 1 }, stop.signal, (l) => {
      lines.push(l);
      if (lines.length === 1) {
        const mcp = /MCP\s+(\S+)/.exec(l)![1]!;
        void fetch(mcp.replace('/mcp', '/api/state'))
          .then((r) => lines.push(`state ${r.status}`))
          .finally(() => stop.abort());
      }
    });
    expect(await serving).toBe(0);
    expect(lines[0]).toMatch(/MCP\s+http:\/\/127\.0\.0\.1:\d+\/mcp/);
    expect(lines[0]).toMatch(/REST\s+http:\/\/127\.0\.0\.1:\d+\/api/);
    expect(lines[0]).toMatch(/socket\.io/);
    expect(lines).toContain('state 200');
  });
});

describe('shutdown', () => {
  it('stops pacing: a long paced command finishes at full speed instead of holding the shutdown', async () => {
    // auto_focus takes retune_s = 600 s of instrument time: at speed 1, ten minutes of wall time
    // (past the test timeout) unless shutdown lifts the pacing.
    const server = await serve({ speed: 1, scenario: smallScenario({ instrument: { retune_s: 600 } }) });
    const running = http(server, 'POST', '/api/commands', { command: 'auto_focus' });
    while (server.service.queue.holder?.command !== 'DigitalTwin.auto_focus') await new Promise((r) => setTimeout(r, 10));
    await server.close();
    const reply = await running;
    expect(reply.status).toBe(200);
    expect(reply.body.breakdown_s.settle_retune).toBe(600);
    expect(server.twin.twin.state.tuning_changed_s).toBe(reply.body.end_s);
    expect(server.service.queue.holder).toBeNull();
  });
});
