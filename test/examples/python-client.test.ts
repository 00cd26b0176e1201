import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseScenario } from '../../src/protocol/scenario.js';
import { startServer, type RunningServer } from '../../src/server/http/server.js';
import { startBridgeStandIn } from '../server/bridge-stand-in.js';

/**
 * examples/python/survey_and_measure.py, a plain Python 3 client (urllib, no MCP library), runs
 * unchanged against `stem-twin serve`: it finds tools by suffix, surveys, measures particles by
 * EELS and reads the spectra back. Debian's python3 (CI installs it in .ci/run).
 */
const PYTHON = '/usr/bin/python3';
const SCRIPT = join(import.meta.dirname, '../../examples/python/survey_and_measure.py');

// Particles of ~150 nm over the 30 um overview: a few pixels each at 256 px.
const scenario = parseScenario({ name: 'python-client', seed: 3, specimen: { area_um: [60, 60], density_per_um2: 0.05, radius_nm: { mean: 150, sd: 30, min: 80 }, response: { gaussians: 200 } } });

async function python(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(PYTHON, [SCRIPT, ...args], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

describe('the Python example client', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ scenario, port: 0, speed: 'max' });
  });
  afterAll(async () => server?.close());

  it('surveys, measures three particles by EELS and reads the spectra back', async () => {
    const { code, stdout, stderr } = await python([server.mcpUrl, '--particles', '3']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^connected to .*: \d+ tools, devices .*asyncroscopy\/instrument\/default/);
    const summary = JSON.parse(lines[lines.length - 1]!) as { overview: string; shape: number[]; particles: { x: number; y: number; key: string; channels: number; total_counts: number }[] };
    expect(summary.overview).toMatch(/^stem_image_HAADF_\d{8}T\d{12}\.h5$/);
    expect(summary.shape).toEqual([256, 256]);
    expect(summary.particles).toHaveLength(3);
    for (const p of summary.particles) {
      expect(p.key).toMatch(/^spectrum_eels_.*\.h5$/);
      expect(p.channels).toBeGreaterThan(100);
      expect(p.total_counts).toBeGreaterThan(0);
      expect(p.x).toBeGreaterThan(0);
      expect(p.x).toBeLessThan(1);
    }
    // Three distinct particles, each measured with its own spectrum.
    expect(new Set(summary.particles.map((p) => `${p.x},${p.y}`)).size).toBe(3);
    expect(new Set(summary.particles.map((p) => p.key)).size).toBe(3);
  });

  it('runs unchanged against the MCP-only bridge stand-in (server-sent events, no attribute tools)', async () => {
    const standIn = await startBridgeStandIn(scenario);
    try {
      const { code, stdout, stderr } = await python([standIn.url, '--particles', '2']);
      expect(stderr).toBe('');
      expect(code).toBe(0);
      const summary = JSON.parse(stdout.trim().split('\n').pop()!) as { shape: number[]; particles: { key: string }[] };
      expect(summary.shape).toEqual([512, 512]); // the default SCAN imsize: the real bridge cannot set it
      expect(summary.particles).toHaveLength(2);
      expect(standIn.calls.map((c) => c.name)).toContain('EELS_acquire_eels_spectrum');
      expect(standIn.calls.find((c) => c.name === 'DigitalTwin_place_beam')?.arguments).toHaveProperty('position');
    } finally {
      await standIn.close();
    }
  });

  it('says in one line what failed when nothing listens', async () => {
    const { code, stderr } = await python(['http://127.0.0.1:9/mcp']);
    expect(code).toBe(2);
    expect(stderr.trim()).toMatch(/^error: cannot connect to http:\/\/127\.0\.0\.1:9\/mcp: .*refused/i);
  });
});
