import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceName } from '../../src/protocol/commands.js';
import { InstrumentError, type CommandOutcome, type DataRecord, type Instrument } from '../../src/protocol/instrument.js';
import { connectRemoteInstrument } from '../../src/protocol/remote.js';
import type { RunningServer } from '../../src/server/http/server.js';
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
