import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandOutcome, CommandRequest, Instrument } from '../../src/protocol/instrument.js';
import { connectRemoteInstrument } from '../../src/protocol/remote.js';
import type { RunningServer } from '../../src/server/http/server.js';
import type { InstrumentTelemetry } from '../../src/twin/index.js';
import { http, serve, f32 } from './server-fixtures.js';

interface Done {
  client: string;
  request: CommandRequest;
  outcome: CommandOutcome;
}

/** Each client's script: distinct stage targets, beam parks, field changes and reads. */
function script(k: number): CommandRequest[] {
  const out: CommandRequest[] = [];
  for (let i = 0; i < 6; i++) {
    out.push({ command: 'move_stage', args: [(k * 6 + i) * 1e-7, -k * 1e-7, 0, 0, 0] });
    out.push({ command: 'place_beam', args: [0.1 * (k + 1), 0.05 * (i + 1)] });
    out.push({ command: 'get_stage' });
    out.push({ command: 'set_fov', args: (10 + k + i) * 1e-6 });
  }
  return out;
}

describe('one beam for concurrent clients', () => {
  let server: RunningServer;
  const records: InstrumentTelemetry[] = [];

  beforeAll(async () => {
    server = await serve();
    server.twin.telemetry.records$.subscribe((r) => records.push(r));
  });
  afterAll(async () => server?.close());

  it('serves MCP sessions and REST callers one command at a time, keeping the state consistent', async () => {
    const remotes: Instrument[] = await Promise.all([0, 1, 2].map((k) => connectRemoteInstrument(server.mcpUrl, { clientName: `mcp-${k}` })));
    const done: Done[] = [];
    const viaMcp = remotes.map(async (remote, k) => {
      for (const request of script(k)) done.push({ client: `mcp-${k}`, request, outcome: await remote.execute(request) });
    });
    const viaRest = [3, 4].map(async (k) => {
      for (const request of script(k)) {
        const r = await http(server, 'POST', '/api/commands', request, { 'x-client-id': `rest-${k}` });
        expect(r.status).toBe(200);
        done.push({ client: `rest-${k}`, request, outcome: r.body });
      }
    });
    // Someone watching while the others work sees a holder or an idle instrument, never an error.
    const watching = (async () => {
      const seen: (string | null)[] = [];
      for (let i = 0; i < 20; i++) seen.push((await http(server, 'GET', '/api/state')).body.holder?.client ?? null);
      return seen;
    })();
    await Promise.all([...viaMcp, ...viaRest]);
    const seen = await watching;
    await Promise.all(remotes.map((r) => r.close()));

    expect(done).toHaveLength(5 * 24);
    expect(seen.every((s) => s === null || /^(mcp|rest)-\d$/.test(s))).toBe(true);
    const timeline = [...done].sort((a, b) => a.outcome.start_s - b.outcome.start_s);
    for (let i = 1; i < timeline.length; i++) {
      expect(timeline[i]!.outcome.start_s, `command ${i} starts before command ${i - 1} ends`).toBeGreaterThanOrEqual(timeline[i - 1]!.outcome.end_s);
    }
    // Telemetry: starts and ends alternate, each end closing the start before it.
    const commands = records.filter((r) => r.type === 'command-start' || r.type === 'command-end');
    expect(commands).toHaveLength(2 * done.length);
    commands.forEach((r, i) => {
      expect(r.type).toBe(i % 2 === 0 ? 'command-start' : 'command-end');
      if (i % 2 === 1) expect(r.seq).toBe(commands[i - 1]!.seq);
    });
    // Each client's commands ran in the order it sent them.
    for (const client of ['mcp-0', 'mcp-1', 'mcp-2', 'rest-3', 'rest-4']) {
      const own = timeline.filter((d) => d.client === client).map((d) => d.request);
      expect(own).toEqual(script(Number(client.at(-1))));
    }
    // The state is the effect of the commands in the order they ran; every read saw the moves before it.
    let stage: unknown = [0, 0, 0, 0, 0];
    let fov: unknown;
    let beam: unknown;
    for (const d of timeline) {
      // As Tango carries them: DevVarFloatArray and DevFloat are 32-bit.
      if (d.request.command === 'move_stage') stage = f32(d.request.args);
      if (d.request.command === 'set_fov') fov = f32(d.request.args);
      if (d.request.command === 'place_beam') beam = f32(d.request.args);
      if (d.request.command === 'get_stage') expect(d.outcome.value).toEqual(stage);
    }
    const state = server.twin.twin.state;
    expect(state.stage).toEqual(stage);
    expect(state.fov_m).toBe(fov);
    expect(state.beam_fraction).toEqual(beam);
    expect(server.service.queue.holder).toBeNull();
  });
});
