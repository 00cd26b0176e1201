import { afterEach, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server/http/server.js';
import { http, serve } from './server-fixtures.js';

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
