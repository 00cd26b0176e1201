import { afterEach, describe, expect, it } from 'vitest';
import { io as connect } from 'socket.io-client';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { twinDigest } from '../../src/protocol/scenario.js';
import type { RunningServer } from '../../src/server/http/server.js';
import { call, f32, http, mcpClient, serve, smallScenario, textOf, toolError } from './server-fixtures.js';

/** Twin extras DigitalTwin_get_scenario and DigitalTwin_reset, and their REST twins GET /api/scenario, POST /api/reset. */

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function started(opts: Parameters<typeof serve>[0] = {}): Promise<{ server: RunningServer; client: Client }> {
  const server = await serve(opts);
  open.push(server);
  const client = await mcpClient(server, { token: opts.token });
  open.push(client);
  return { server, client };
}

async function overview(client: Client): Promise<{ key: string; values: number[] }> {
  const key = (await call(client, 'DigitalTwin_acquire_scanned_image', { detector_list: ['haadf'] })).structuredContent!.result as string;
  const data = (await call(client, 'get_data_from_key', { key, max_values: 32 * 32 })).structuredContent as { datasets: { preview: number[] }[] };
  return { key, values: data.datasets[0]!.preview };
}

describe('DigitalTwin_get_scenario', () => {
  it('names the served scenario, its seed and its digest (MCP and REST)', async () => {
    const { server, client } = await started({ seed: 11 });
    const expected = { name: 'server-test', seed: 11, digest: twinDigest(smallScenario()) };
    const result = await call(client, 'DigitalTwin_get_scenario');
    expect(result.structuredContent).toEqual(expected);
    expect(JSON.parse(textOf(result))).toEqual(expected);
    expect((await http(server, 'GET', '/api/scenario')).body).toEqual(expected);
    // Another specimen, another digest: a client can tell the two apart.
    expect(twinDigest(smallScenario({ specimen: { area_um: [50, 50], density_per_um2: 0.05 } }))).not.toBe(expected.digest);
  });
});

describe('DigitalTwin_reset', () => {
  it('starts a fresh twin: clock 0, state and data cleared; the same seed gives the same specimen, another seed another', async () => {
    const { server, client } = await started();
    await call(client, 'SCAN_write_attribute', { attribute: 'imsize', value: 32 });
    const first = await overview(client);
    await call(client, 'DigitalTwin_move_stage', { position: [4e-6, 0, 0, 0, 0] });
    expect((await call(client, 'DigitalTwin_get_clock')).structuredContent!.result).toBeGreaterThan(0);
    const oldTwin = server.twin;

    const reset = await call(client, 'DigitalTwin_reset');
    expect(reset.isError).toBeFalsy();
    expect(reset.structuredContent).toEqual({ name: 'server-test', seed: 5, digest: twinDigest(smallScenario()) });
    expect(server.twin).not.toBe(oldTwin);
    expect((await call(client, 'DigitalTwin_get_clock')).structuredContent).toEqual({ result: 0 });
    expect((await call(client, 'DigitalTwin_get_stage')).structuredContent).toEqual({ result: [0, 0, 0, 0, 0] });
    expect((await call(client, 'SCAN_read_attribute', { attribute: 'imsize' })).structuredContent).toEqual({ result: 512 });
    expect(toolError(await call(client, 'get_data_from_key', { key: first.key }))).toMatchObject({ reason: 'API_DataNotFound' });
    // Same scenario and seed, same trace.
    await call(client, 'SCAN_write_attribute', { attribute: 'imsize', value: 32 });
    expect((await overview(client)).values).toEqual(first.values);

    const reseeded = await http(server, 'POST', '/api/reset', { seed: 6 });
    expect(reseeded.body).toEqual({ name: 'server-test', seed: 6, digest: twinDigest(smallScenario()) });
    expect((await call(client, 'DigitalTwin_get_scenario')).structuredContent).toMatchObject({ seed: 6 });
    await call(client, 'SCAN_write_attribute', { attribute: 'imsize', value: 32 });
    expect((await overview(client)).values).not.toEqual(first.values);
    // Without a seed, the served one (now 6) is kept.
    expect((await call(client, 'DigitalTwin_reset', {})).structuredContent).toMatchObject({ seed: 6 });
  });

  it('waits for the commands queued before it: none runs half on the old twin', async () => {
    // Paced, so the move is still running when the reset arrives.
    const { server, client } = await started({ speed: 10 });
    const old = server.twin;
    const moving = call(client, 'DigitalTwin_move_stage', { position: [5e-6, 0, 0, 0, 0] });
    while (server.service.queue.holder?.command !== 'DigitalTwin.move_stage') await new Promise((r) => setTimeout(r, 2));
    expect((await http(server, 'POST', '/api/reset', {})).status).toBe(200);
    const moved = await moving;
    expect(moved.isError).toBeFalsy();
    // The move ran to its end on the old twin, and the new one starts from nothing.
    expect(old.twin.state.stage).toEqual(f32([5e-6, 0, 0, 0, 0]));
    expect(old.sim.now).toBe((moved._meta as { end_s: number }).end_s);
    expect(server.twin.twin.state.stage).toEqual([0, 0, 0, 0, 0]);
    expect(server.twin.sim.now).toBe(0);
  });

  it('telemetry subscribers on socket.io hear the new twin', async () => {
    const { server, client } = await started();
    const socket = connect(server.socketUrl, { path: '/socket.io', transports: ['websocket'], reconnection: false });
    open.push({ close: () => socket.close() });
    const seen: { type: string; command?: string }[] = [];
    socket.on('telemetry', (r) => seen.push(r));
    await new Promise<void>((resolve) => socket.once('hello', () => resolve()));
    await call(client, 'DigitalTwin_set_fov', { fov: 2e-6 });
    const fresh = new Promise<{ clock_s: number; state: { fov_m: number }; reset?: { seed: number } }>((resolve) => socket.once('hello', resolve));
    await call(client, 'DigitalTwin_reset');
    // A fresh snapshot for the patches that follow: the new twin's, clock 0, fov back to the scenario's.
    const hello = await fresh;
    expect(hello.clock_s).toBe(0);
    expect(hello.reset?.seed).toBe(5);
    expect(hello.state.fov_m).not.toBe(f32(2e-6));
    seen.length = 0;
    await call(client, 'DigitalTwin_set_fov', { fov: 3e-6 });
    const deadline = Date.now() + 3000;
    while (!seen.some((r) => r.type === 'command-end' && r.command === 'set_fov') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(seen.filter((r) => r.type === 'command-end').map((r) => r.command)).toEqual(['set_fov']);
    expect(server.twin.twin.state.fov_m).toBe(f32(3e-6));
  });

  it('needs the token, refuses while another client holds the lease, and refuses a bad seed, the twin unchanged', async () => {
    const token = 'reset-token-123';
    const { server, client } = await started({ token });
    const before = server.twin;
    const anonymous = await mcpClient(server, { name: 'anonymous' });
    open.push(anonymous);
    expect(toolError(await call(anonymous, 'DigitalTwin_reset'))).toMatchObject({ reason: 'Unauthorized' });
    expect((await http(server, 'POST', '/api/reset', {})).status).toBe(401);

    for (const seed of [-1, 1.5, 'x', 2 ** 31]) {
      expect(toolError(await call(client, 'DigitalTwin_reset', { seed })), String(seed)).toMatchObject({ reason: 'API_InvalidArgument' });
    }
    expect(toolError(await call(client, 'DigitalTwin_reset', { sead: 1 }))!.description).toContain('DigitalTwin_reset takes "seed"');
    expect((await http(server, 'POST', '/api/reset', { seed: -1 }, { authorization: `Bearer ${token}` })).status).toBe(400);

    const holder = await mcpClient(server, { token, name: 'holder' });
    open.push(holder);
    expect((await call(holder, 'DigitalTwin_acquire_lease', { idle_s: 60 })).isError).toBeFalsy();
    const leased = toolError(await call(client, 'DigitalTwin_reset'));
    expect(leased).toMatchObject({ reason: 'InstrumentLeased', origin: 'DigitalTwin.reset' });
    expect(server.twin).toBe(before);
    // The holder itself may reset, and keeps its lease.
    expect((await call(holder, 'DigitalTwin_reset')).isError).toBeFalsy();
    expect(server.twin).not.toBe(before);
    expect(server.service.lease.holder?.client).toMatch(/holder/);
  });
});
