import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { connectRemoteInstrument } from '../../src/protocol/remote.js';
import { parseScenario } from '../../src/protocol/scenario.js';
import { run } from '../../src/server/cli/run.js';
import { startServer, type RunningServer } from '../../src/server/http/server.js';
import { startBridgeStandIn, withoutSocketIo, type BridgeStandIn } from '../server/bridge-stand-in.js';

/**
 * `stem-twin run --instrument URL`: the same outputs as in-process against a served twin, with
 * socket.io (the relay connects) and without (MCP only: the relay is off, with one note); every
 * connection failure is one line naming the URL and what failed, exit code 2; a served twin of
 * another seed or scenario is refused, or its seed taken with --take-served.
 */

const BIN = join(import.meta.dirname, '../../bin/stem-twin.js');
const dir = mkdtempSync(join(tmpdir(), 'stem-twin-run-remote-'));
const SPEC = {
  name: 'run-remote',
  seed: 21,
  specimen: { area_um: [90, 90], response: { gaussians: 2000 } },
  policy: { iterations: 2, seed_particles: 2, overview: { imsize: 512 }, gp: { refit_every: 2, restarts: 1 }, switching: { mc_samples: 16 } },
};
const scenarioFile = join(dir, 'run-remote.json');
writeFileSync(scenarioFile, JSON.stringify(SPEC));
const scenario = parseScenario(SPEC);

/** Runs the run command in this process; returns its exit code, stderr lines and the output folder. */
async function runCli(args: string[]): Promise<{ code: number; stderr: string[]; out: string }> {
  const out = mkdtempSync(join(dir, 'out-'));
  const stderr: string[] = [];
  const err = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void stderr.push(a.join(' ')));
  const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  const stderrWrite = vi.spyOn(process.stderr, 'write').mockImplementation(() => true); // the progress bar
  try {
    const code = await run([scenarioFile, '--out', out, ...args]);
    return { code, stderr, out };
  } finally {
    err.mockRestore();
    log.mockRestore();
    stderrWrite.mockRestore();
  }
}

/** The outputs of a run, with the instrument's name and the lease left out of the summary. */
function outputs(out: string): { summary: Record<string, unknown>; metrics: string; trace: string } {
  const { instrument: _i, interference: _l, ...summary } = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Record<string, unknown>;
  return { summary, metrics: readFileSync(join(out, 'metrics.csv'), 'utf8'), trace: readFileSync(join(out, 'trace.jsonl'), 'utf8') };
}

async function spawnCli(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    await promisify(execFile)(process.execPath, [BIN, 'run', scenarioFile, '--out', mkdtempSync(join(dir, 'out-')), ...args], { cwd: dir, env: { ...process.env, STEM_TWIN_TOKEN: '' } });
    return { code: 0, stderr: '' };
  } catch (e) {
    const x = e as { code: number; stderr: string };
    return { code: x.code, stderr: x.stderr };
  }
}

describe('run --instrument against a served twin, with and without socket.io', () => {
  let local: ReturnType<typeof outputs>;
  let server: RunningServer;
  afterEach(async () => server?.close());

  beforeAll(async () => {
    const { code, out } = await runCli(['--seed', '21']);
    expect(code).toBe(0);
    local = outputs(out);
  });

  it('writes the in-process outputs and relays its events when the server has socket.io', async () => {
    server = await startServer({ scenario, seed: 21, port: 0, speed: 'max' });
    const { io } = await import('socket.io-client');
    const dashboard = io(server.socketUrl, { path: '/socket.io', transports: ['websocket'], reconnection: false });
    const relayed: string[] = [];
    dashboard.on('campaign', (m: { event: { type: string } }) => void relayed.push(m.event.type));
    await new Promise<void>((resolve) => dashboard.once('connect', () => resolve()));
    try {
      const { code, stderr, out } = await runCli(['--seed', '21', '--instrument', server.mcpUrl]);
      expect(stderr).toEqual([]);
      expect(code).toBe(0);
      expect(outputs(out)).toEqual(local);
      await vi.waitFor(() => expect(relayed).toContain('iteration'));
    } finally {
      dashboard.close();
    }
  });

  it('writes the same outputs with the relay off and one note when the server serves MCP only', async () => {
    server = await startServer({ scenario, seed: 21, port: 0, speed: 'max' });
    const proxy = await withoutSocketIo(server.url);
    try {
      const { code, stderr, out } = await runCli(['--seed', '21', '--instrument', `${proxy.url}/mcp`]);
      expect(code).toBe(0);
      expect(stderr).toHaveLength(1);
      expect(stderr[0]).toMatch(/^note: http:\/\/127\.0\.0\.1:\d+ has no socket\.io telemetry/);
      expect(outputs(out)).toEqual(local);
      // --no-relay: not even the probe's note.
      const quiet = await runCli(['--seed', '21', '--instrument', `${proxy.url}/mcp`, '--no-relay']);
      expect(quiet).toMatchObject({ code: 0, stderr: [] });
    } finally {
      await proxy.close();
    }
  });

  it('writes the same outputs, timing aside, against the MCP-only bridge stand-in', async () => {
    const standIn = await startBridgeStandIn(scenario, { seed: 21, attributeTools: true });
    try {
      const { code, stderr, out } = await runCli(['--seed', '21', '--instrument', standIn.url]);
      expect(code).toBe(0);
      // The relay's note, and the warning that without a lease other clients would go unseen.
      expect(stderr).toEqual([expect.stringMatching(/^note: .* has no socket\.io telemetry/), expect.stringMatching(/^warning: .*the server offers no lease/)]);
      const { wall_clock_s: _w, breakdown_s: _b, ...summary } = outputs(out).summary;
      const { wall_clock_s: _lw, breakdown_s: _lb, ...localSummary } = local.summary;
      expect(summary).toEqual(localSummary);
    } finally {
      await standIn.close();
    }
  });
});

describe('run --instrument: what went wrong, in one line, exit code 2', () => {
  let server: RunningServer;
  let standIn: BridgeStandIn;
  beforeAll(async () => {
    server = await startServer({ scenario, seed: 21, port: 0, speed: 'max' });
    standIn = await startBridgeStandIn(scenario, { seed: 7, attributeTools: true, getScenario: true });
  });
  afterAll(async () => {
    await server?.close();
    await standIn?.close();
  });

  it('a closed port: connection refused, naming the URL (as a user runs it)', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const { code, stderr } = await spawnCli(['--instrument', `http://127.0.0.1:${port}/mcp`]);
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toEqual([`error: cannot connect to http://127.0.0.1:${port}/mcp: connection refused (nothing listens there; is the server running, on that port?)`]);
  });

  it('a wrong path on a live server: no MCP endpoint there (as a user runs it)', async () => {
    const { code, stderr } = await spawnCli(['--instrument', `${server.url}/mpc`]);
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toEqual([`error: no MCP endpoint at ${server.url}/mpc (HTTP 404; is the path /mcp?)`]);
  });

  it('a server that is not MCP, and a wrong token', async () => {
    const web: Server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>hello</html>'));
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(web.address() as AddressInfo).port}/mcp`;
    try {
      expect(await runCli(['--instrument', url])).toMatchObject({ code: 2, stderr: [`error: ${url} is not an MCP server (unexpected content type: text/html in reply to an MCP initialize request)`] });
    } finally {
      web.close();
    }
    const guarded = await startServer({ scenario, seed: 21, port: 0, speed: 'max', token: 'right-token-0123456789' });
    try {
      const { code, stderr } = await runCli(['--instrument', guarded.mcpUrl, '--token', 'wrong-token-0123456789']);
      expect(code).toBe(2);
      expect(stderr).toEqual([expect.stringMatching(new RegExp(`^error: the server at ${guarded.mcpUrl} refused access \\(HTTP 40[13]\\)`))]);
    } finally {
      await guarded.close();
    }
  });

  it('silence: no answer within the connect timeout', async () => {
    const silent = createServer(() => undefined); // accepts, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/mcp`;
    try {
      await expect(connectRemoteInstrument(url, { connectTimeout_ms: 300 })).rejects.toMatchObject({ reason: 'API_ConnectionFailed', description: `no answer from ${url} within 0.3 s (is it an MCP server?)` });
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('a served twin of another seed: refused naming both, or its seed taken with --take-served', async () => {
    const refused = await runCli(['--seed', '21', '--instrument', standIn.url]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toHaveLength(1);
    expect(refused.stderr[0]).toMatch(/^error: the twin at .* serves scenario "run-remote" seed 7 \(digest [0-9a-f]{16}\), but this run is "run-remote" seed 21 \(digest [0-9a-f]{16}\): pass --seed 7 or --take-served/);
    expect(standIn.calls.map((c) => c.name)).toEqual(['DigitalTwin_get_scenario']); // nothing ran
    const taken = await runCli(['--seed', '21', '--instrument', standIn.url, '--take-served', '--no-relay']);
    expect(taken.code).toBe(0);
    expect(JSON.parse(readFileSync(join(taken.out, 'summary.json'), 'utf8')).seed).toBe(7);
  });

  it('a served twin of another specimen: refused, --take-served or not', async () => {
    const other = { ...SPEC, specimen: { ...SPEC.specimen, area_um: [60, 60] } };
    const otherFile = join(dir, 'other.json');
    writeFileSync(otherFile, JSON.stringify(other));
    const otherTwin = await startServer({ scenario: parseScenario(other), seed: 21, port: 0, speed: 'max' });
    const standInOther = await startBridgeStandIn(parseScenario(other), { seed: 21, getScenario: true });
    try {
      const { code, stderr } = await runCli(['--seed', '21', '--instrument', standInOther.url, '--take-served']);
      expect(code).toBe(2);
      expect(stderr).toEqual([expect.stringMatching(/serves scenario "run-remote" seed 21 \(digest \w+\), but this run is "run-remote" seed 21 \(digest \w+\): another specimen or instrument/)]);
    } finally {
      await otherTwin.close();
      await standInOther.close();
    }
  });
});
