import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import type { CommandOutcome, CommandRequest, Instrument } from '../../src/protocol/instrument.js';
import { connectRemoteInstrument } from '../../src/protocol/remote.js';
import { connectPublisher } from '../../src/server/http/publisher.js';
import { LATENCY_CATEGORIES } from '../../src/protocol/timing.js';
import type { RunningServer } from '../../src/server/http/server.js';
import { serve, smallScenario } from './server-fixtures.js';

/** Latencies short enough that a paced script takes a couple of seconds. */
const brisk = smallScenario({
  instrument: { control_overhead_s: { min: 0.2, max: 0.2 }, stage_settle_s: 0.3, stage_speed_um_per_s: 10, beam_shift_s: 0.25, retune_s: 0.5 },
});

const SCRIPT: CommandRequest[] = [
  { command: 'move_stage', args: [3e-6, 0, 0, 0, 0] }, // 0.2 + 0.3 travel + 0.3 settle
  { command: 'place_beam', args: [0.25, 0.5] }, // 0.2 + 0.25
  { command: 'auto_focus' }, // 0.2 + 0.5
  { command: 'get_fov' }, // 0.2
  { command: 'place_beam', args: [0.75, 0.5] }, // 0.2 + 0.25
];

interface Received {
  event: Record<string, any>;
  wall_ms: number;
}

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function subscriber(server: RunningServer, auth: Record<string, string> = {}): Promise<{ socket: Socket; telemetry: Received[]; holders: any[]; campaign: any[]; hello: Promise<any> }> {
  const socket = connect(server.socketUrl, { path: '/socket.io', transports: ['websocket'], auth, reconnection: false });
  open.push({ close: () => socket.close() });
  const telemetry: Received[] = [];
  const holders: any[] = [];
  const campaign: any[] = [];
  socket.on('telemetry', (event) => telemetry.push({ event, wall_ms: performance.now() }));
  socket.on('holder', (h) => holders.push(h));
  socket.on('campaign', (c) => campaign.push(c));
  const hello = new Promise((resolve) => socket.once('hello', resolve));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return { socket, telemetry, holders, campaign, hello };
}

async function runScript(remote: Instrument): Promise<CommandOutcome[]> {
  const outcomes: CommandOutcome[] = [];
  for (const request of SCRIPT) outcomes.push(await remote.execute(request));
  return outcomes;
}

async function until(check: () => boolean, timeout_ms = 3000): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > timeout_ms) throw new Error('timed out waiting for telemetry');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('socket.io telemetry', () => {
  it('delivers every command of a script, in order, with the twin latencies, the client and the category', async () => {
    const server = await serve({ scenario: brisk });
    open.push(server);
    const sub = await subscriber(server);
    const hello = await sub.hello;
    expect(hello).toMatchObject({ clock_s: 0, holder: null, speed: 'max' });
    expect(hello.state.stage).toEqual([0, 0, 0, 0, 0]);
    const remote = await connectRemoteInstrument(server.mcpUrl, { clientName: 'script' });
    open.push(remote);
    const outcomes = await runScript(remote);
    await until(() => sub.telemetry.filter((r) => r.event.type === 'command-end').length === SCRIPT.length);

    const commands = sub.telemetry.filter((r) => r.event.type.startsWith('command-')).map((r) => r.event);
    expect(commands.map((e) => `${e.type}:${e.command ?? ''}`)).toEqual(
      SCRIPT.flatMap((s) => [`command-start:${s.command}`, `command-end:${s.command}`]),
    );
    const ends = commands.filter((e) => e.type === 'command-end');
    ends.forEach((e, i) => {
      expect(e.breakdown_s).toEqual(outcomes[i]!.breakdown_s);
      expect([e.start_s, e.end_s]).toEqual([outcomes[i]!.start_s, outcomes[i]!.end_s]);
      expect(e.client).toBe('script');
      expect(e.ok).toBe(true);
    });
    expect(ends.map((e) => e.category)).toEqual(['stage_travel', 'beam_shift', 'settle_retune', 'control_overhead', 'beam_shift']);
    expect(sub.telemetry.some((r) => r.event.type === 'state' && r.event.patches.some((p: any) => p.path[0] === 'stage'))).toBe(true);
    expect(sub.holders.filter((h) => h.holder).map((h) => h.holder.command)).toEqual(SCRIPT.map((s) => `DigitalTwin.${s.command}`));
  });

  it('at speed 1, command ends arrive in the instrument rhythm (wall gaps match simulated durations)', async () => {
    const server = await serve({ scenario: brisk, speed: 1 });
    open.push(server);
    const sub = await subscriber(server);
    const remote = await connectRemoteInstrument(server.mcpUrl);
    open.push(remote);
    const outcomes = await runScript(remote);
    await until(() => sub.telemetry.filter((r) => r.event.type === 'command-end').length === SCRIPT.length);
    const ends = sub.telemetry.filter((r) => r.event.type === 'command-end');
    for (let i = 1; i < ends.length; i++) {
      const simulated_s = outcomes[i]!.end_s - outcomes[i]!.start_s;
      const wall_s = (ends[i]!.wall_ms - ends[i - 1]!.wall_ms) / 1000;
      // The gap also holds one loopback round trip between commands (a few ms): +-30 %.
      const why = `${SCRIPT[i]!.command}: ${wall_s.toFixed(3)} s of wall time for ${simulated_s.toFixed(3)} s simulated`;
      expect(wall_s, why).toBeGreaterThan(simulated_s * 0.7);
      expect(wall_s, why).toBeLessThan(simulated_s * 1.3);
    }
    const total = outcomes.at(-1)!.end_s;
    expect(LATENCY_CATEGORIES.some((c) => (outcomes[0]!.breakdown_s[c] ?? 0) > 0)).toBe(true);
    expect(total).toBeGreaterThan(1.5);
  });

  it('relays published campaign events from an authorised client to the other subscribers', async () => {
    const token = 'publish-token-1';
    const server = await serve({ token });
    open.push(server);
    const watcher = await subscriber(server);
    const anonymous = await subscriber(server);
    const runner = await subscriber(server, { token, client: 'runner' });

    const refused = await anonymous.socket.emitWithAck('publish', { type: 'iteration', i: 0 });
    expect(refused).toMatchObject({ ok: false, reason: 'Unauthorized' });
    const malformed = await runner.socket.emitWithAck('publish', { i: 1 });
    expect(malformed).toMatchObject({ ok: false, reason: 'API_InvalidArgument' });
    const accepted = await runner.socket.emitWithAck('publish', { type: 'iteration', i: 1, error_eV: 0.2 });
    expect(accepted).toEqual({ ok: true });
    await until(() => watcher.campaign.length === 1);
    expect(watcher.campaign[0]).toMatchObject({ from: 'runner', event: { type: 'iteration', i: 1, error_eV: 0.2 } });
    expect(anonymous.campaign).toHaveLength(1);
    expect(runner.campaign).toHaveLength(0);
  });

  it('refuses subscribers from elsewhere without the token', async () => {
    const server = await serve({ token: 'subscribe-token' });
    open.push(server);
    const socket = connect(server.socketUrl, { path: '/socket.io', transports: ['websocket'], auth: { token: 'wrong-one-here' }, reconnection: false });
    open.push({ close: () => socket.close() });
    const err = await new Promise<Error & { data?: any }>((resolve) => socket.once('connect_error', resolve));
    expect(err.data).toMatchObject({ reason: 'Unauthorized' });
  });

  it('lets a campaign runner publish through connectPublisher, from its MCP URL', async () => {
    const token = 'runner-token-22';
    const server = await serve({ token });
    open.push(server);
    const watcher = await subscriber(server);
    const publisher = await connectPublisher(server.mcpUrl, { token, client: 'stem-twin run' });
    open.push(publisher);
    await publisher.publish({ type: 'visit', visit: { region: 'r0_0', arrived_s: 12.5 } });
    await expect(publisher.publish({ notype: true })).rejects.toMatchObject({ reason: 'API_InvalidArgument' });
    await until(() => watcher.campaign.length === 1);
    expect(watcher.campaign[0]).toMatchObject({ from: 'stem-twin_run', event: { type: 'visit', visit: { region: 'r0_0' } } });
    await expect(connectPublisher(server.mcpUrl, { token: 'not-the-token' })).rejects.toMatchObject({ reason: 'Unauthorized' });
  });
});
