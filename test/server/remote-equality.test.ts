import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceName } from '../../src/protocol/commands.js';
import { InstrumentError, type CommandOutcome, type DataRecord, type Instrument } from '../../src/protocol/instrument.js';
import { connectRemoteInstrument } from '../../src/protocol/remote.js';
import { parseScenario } from '../../src/protocol/scenario.js';
import type { RunningServer } from '../../src/server/http/server.js';
import { runSession } from '../../src/server/session.js';
import { createTwin } from '../../src/twin/index.js';
import { serve, smallScenario } from './server-fixtures.js';

/**
 * The same script against the in-process twin and against a served twin of the same scenario and
 * seed (speed max) must give the same values, the same data and the same simulated times.
 */
type Step =
  | { kind: 'execute'; command: string; args?: unknown; device?: DeviceName }
  | { kind: 'write'; device: DeviceName; attribute: string; value: unknown }
  | { kind: 'read'; device: DeviceName; attribute: string };

const SCRIPT: Step[] = [
  { kind: 'write', device: 'SCAN', attribute: 'imsize', value: 48 },
  { kind: 'write', device: 'SCAN', attribute: 'dwell_time', value: 3e-6 },
  { kind: 'execute', command: 'move_stage', args: [4e-6, -6e-6, 0, 0, 0] },
  { kind: 'execute', command: 'acquire_scanned_image', args: ['haadf'] },
  { kind: 'execute', command: 'auto_focus' },
  { kind: 'execute', command: 'acquire_scanned_image', args: ['haadf', 'eds'] },
  { kind: 'execute', command: 'place_beam', args: new Float64Array([0.4, 0.6]) },
  { kind: 'write', device: 'EDS', attribute: 'exposure_time', value: 0.5 },
  { kind: 'execute', command: 'acquire_spectrum', args: 'eds' },
  { kind: 'write', device: 'EELS', attribute: 'number_of_frames', value: 2 },
  { kind: 'execute', device: 'EELS', command: 'acquire_eels_spectrum' },
  { kind: 'execute', command: 'set_image_shift', args: [2e-6, 1e-6] },
  { kind: 'execute', command: 'move_stage', args: [0, 0, 0, 50, 0] }, // refused: alpha beyond +-35 deg
  { kind: 'read', device: 'STAGE', attribute: 'position' },
  { kind: 'execute', command: 'get_parameters' },
  { kind: 'execute', device: 'EELS', command: 'get_eels_dispersion' },
];

interface Trace {
  outcomes: (CommandOutcome | { refused: string } | { read: unknown })[];
  data: DataRecord[];
  clock_s: number;
}

async function runScript(instrument: Instrument): Promise<Trace> {
  const outcomes: Trace['outcomes'] = [];
  const data: DataRecord[] = [];
  for (const step of SCRIPT) {
    try {
      if (step.kind === 'execute') {
        const o = await instrument.execute({ command: step.command, args: step.args, device: step.device });
        outcomes.push(o);
        if (typeof o.value === 'string' && o.value.endsWith('.h5')) data.push(await instrument.getData(o.value));
      } else if (step.kind === 'write') {
        outcomes.push(await instrument.writeAttribute(step));
      } else {
        outcomes.push({ read: await instrument.readAttribute(step.device, step.attribute) });
      }
    } catch (e) {
      if (!(e instanceof InstrumentError)) throw e;
      outcomes.push({ refused: e.reason });
    }
  }
  return { outcomes, data, clock_s: await instrument.now_s() };
}

describe('remote adapter versus in-process adapter', () => {
  const scenario = smallScenario();
  let server: RunningServer;
  let remote: Instrument;

  beforeAll(async () => {
    server = await serve({ scenario, seed: 11 });
    remote = await connectRemoteInstrument(server.mcpUrl);
  });
  afterAll(async () => {
    await remote?.close();
    await server?.close();
  });

  it('gives identical values, data and simulated times for a fixed command script', async () => {
    const local = await runScript(createTwin(scenario, { seed: 11 }).instrument);
    const served = await runScript(remote);
    expect(served.outcomes).toEqual(local.outcomes);
    expect(served.outcomes.filter((o) => 'refused' in o)).toEqual([{ refused: 'OutOfRange' }]);
    expect(served.data.map((d) => d.key)).toEqual(local.data.map((d) => d.key));
    expect(served.data).toHaveLength(4);
    served.data.forEach((record, i) => {
      expect(record.attrs).toEqual(local.data[i]!.attrs);
      expect(record.datasets.map((d) => [d.name, d.shape, d.dtype])).toEqual(local.data[i]!.datasets.map((d) => [d.name, d.shape, d.dtype]));
      record.datasets.forEach((d, j) => {
        expect(d.values).toEqual(local.data[i]!.datasets[j]!.values);
        expect(d.attrs).toEqual(local.data[i]!.datasets[j]!.attrs);
      });
    });
    expect(served.clock_s).toBe(local.clock_s);
    expect(served.clock_s).toBeGreaterThan(10);
  });
});

describe('a campaign in-process and through a served twin', () => {
  // 3 x 3 regions of 30 um; overviews at 512 px so that 20 nm particles show.
  const scenario = parseScenario({
    name: 'campaign-equality',
    seed: 21,
    specimen: { area_um: [90, 90], response: { gaussians: 2000 } },
    policy: { iterations: 3, seed_particles: 2, overview: { imsize: 512 }, gp: { refit_every: 2, restarts: 1 }, switching: { mc_samples: 16 } },
  });
  let server: RunningServer;

  beforeAll(async () => {
    server = await serve({ scenario, seed: 21 });
  });
  afterAll(async () => server?.close());

  it('measures the same particles with the same values at the same simulated times', async () => {
    const local = await runSession(scenario, { seed: 21 });
    const served = await runSession(scenario, { seed: 21, instrumentUrl: server.mcpUrl });
    expect(served.summary.instrument).toBe(`mcp ${server.mcpUrl}`);
    expect(served.iterations.length).toBe(local.iterations.length);
    expect(served.iterations.length).toBe(5);
    const measured = (r: typeof local) => r.iterations.map((i) => ({ particle: i.particle, region: i.region, time_s: i.time_s, composition: i.composition, value_eV: i.value_eV, value_sigma_eV: i.value_sigma_eV, mean_abs_error: i.mean_abs_error }));
    expect(measured(served)).toEqual(measured(local));
    expect(served.summary.wall_clock_s).toBe(local.summary.wall_clock_s);
    expect(served.summary.breakdown_s).toEqual(local.summary.breakdown_s);
    // Everything else too: decisions, regions, the whole summary but the instrument's name.
    expect(served.iterations).toEqual(local.iterations);
    expect(served.visits).toEqual(local.visits);
    // The served run held the lease throughout, and nobody else used the instrument.
    const { interference, ...servedSummary } = served.summary;
    expect(interference).toEqual({ lease: 'held', foreign: { ran: {}, refused: {} } });
    expect({ ...servedSummary, instrument: '' }).toEqual({ ...local.summary, instrument: '' });
    expect(served.particles).toEqual(local.particles);
    expect(served.stage_path_m).toEqual(local.stage_path_m);
  });
});
