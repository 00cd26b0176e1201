import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceName } from '../../src/protocol/commands.js';
import { InstrumentError, type DataRecord, type Instrument } from '../../src/protocol/instrument.js';
import { connectRemoteInstrument } from '../../src/protocol/remote.js';
import { parseScenario } from '../../src/protocol/scenario.js';
import type { CampaignRecord } from '../../src/policy/campaign/record.js';
import { runSession } from '../../src/server/session.js';
import { createTwin } from '../../src/twin/index.js';
import { startBridgeStandIn, type BridgeStandIn } from './bridge-stand-in.js';
import { smallScenario } from './server-fixtures.js';

/**
 * The remote adapter against a server that is exactly asyncroscopy's bridge (bridge-stand-in.ts:
 * MCP only, named parameters, raw text results, empty void, DevFailed errors, no _meta timing,
 * no clock, no leases), over an in-process twin of the same scenario and seed. Values, refusals
 * and data must be those of the in-process twin; timing is not compared: without _meta or a clock
 * tool the client times commands on the wall clock, as against hardware.
 */

type Step = { command: string; args?: unknown; device?: DeviceName };

const SCRIPT: Step[] = [
  { command: 'get_stage' },
  { command: 'move_stage', args: [4e-6, -6e-6, 0, 0, 0] },
  { command: 'acquire_scanned_image', args: ['haadf'] },
  { command: 'auto_focus' },
  { command: 'place_beam', args: new Float64Array([0.4, 0.6]) },
  { command: 'acquire_spectrum', args: 'eds' },
  { device: 'EELS', command: 'acquire_eels_spectrum' },
  { command: 'set_fov', args: 8e-9 }, // comes back float32-rounded from both
  { command: 'get_fov' },
  { command: 'set_image_shift', args: [1, 0] }, // refused: beyond the deflectors
  { command: 'move_stage', args: [0, 0, 0, 50, 0] }, // refused: alpha beyond +-35 deg
  { command: 'place_beam_list', args: [0.1, 0.2, 0.3] }, // refused: odd count
  { command: 'get_parameters' },
  { command: 'State' },
  { device: 'EELS', command: 'get_eels_dispersion' },
  { device: 'CORRECTOR', command: 'get_info' }, // tool DigitalTwinCorrector_get_info: the Tango class, not the key
];

type Seen = { value: unknown } | { refused: { reason: string; description: string; origin: string } };

async function runScript(instrument: Instrument): Promise<{ seen: Seen[]; data: DataRecord[] }> {
  const seen: Seen[] = [];
  const data: DataRecord[] = [];
  for (const step of SCRIPT) {
    try {
      const o = await instrument.execute(step);
      seen.push({ value: o.value });
      if (typeof o.value === 'string' && o.value.endsWith('.h5')) data.push(await instrument.getData(o.value));
    } catch (e) {
      if (!(e instanceof InstrumentError)) throw e;
      seen.push({ refused: e.toJSON() });
    }
  }
  return { seen, data };
}

describe('remote adapter against the MCP-only bridge stand-in', () => {
  const scenario = smallScenario();
  let standIn: BridgeStandIn;

  beforeAll(async () => {
    standIn = await startBridgeStandIn(scenario, { seed: 11 });
  });
  afterAll(async () => standIn?.close());

  it('gives the in-process values, refusals and data for a command script', async () => {
    const remote = await connectRemoteInstrument(standIn.url);
    try {
      expect(remote.served).toBeUndefined(); // no get_scenario on the real bridge: nothing checked
      const served = await runScript(remote);
      const local = await runScript(createTwin(scenario, { seed: 11 }).instrument);
      expect(served.seen).toEqual(local.seen);
      // The three refusals, parsed back from DevFailed texts with the twin's own reason and origin.
      expect(served.seen.slice(9, 12).map((s) => ('refused' in s ? `${s.refused.origin} ${s.refused.reason}` : 'ran'))).toEqual([
        'DigitalTwin.set_image_shift BeamShiftRange',
        'DigitalTwin.move_stage OutOfRange',
        'DigitalTwin.place_beam_list API_InvalidArgument',
      ]);
      expect(served.seen[0]).toEqual({ value: [0, 0, 0, 0, 0] });
      expect(served.seen[3]).toEqual({ value: null }); // auto_focus: empty content
      expect(served.seen[8]).toEqual({ value: Math.fround(8e-9) });
      expect(typeof (served.seen[12] as { value: unknown }).value).toBe('string'); // get_parameters: raw JSON text, a string
      expect(served.data).toHaveLength(3);
      expect(served.data).toEqual(local.data);
      // The client named each argument as the tool's schema does, and sent none to void commands.
      const sent = (name: string) => standIn.calls.find((c) => c.name === name)?.arguments;
      expect(sent('DigitalTwin_move_stage')).toEqual({ position: [4e-6, -6e-6, 0, 0, 0] });
      expect(sent('DigitalTwin_acquire_scanned_image')).toEqual({ detector_list: ['haadf'] });
      expect(sent('DigitalTwin_acquire_spectrum')).toEqual({ detector_name: 'eds' });
      expect(sent('DigitalTwin_set_fov')).toEqual({ fov: 8e-9 });
      expect(sent('DigitalTwin_auto_focus')).toEqual({});
      expect(sent('EELS_acquire_eels_spectrum')).toEqual({});
      expect(sent('DigitalTwinCorrector_get_info')).toEqual({});
    } finally {
      await remote.close();
    }
  });

  it('times commands on the wall clock when the bridge reports no timing', async () => {
    const remote = await connectRemoteInstrument(standIn.url);
    try {
      const o = await remote.execute({ command: 'move_stage', args: [1e-6, 0, 0, 0, 0] });
      expect(Object.keys(o.breakdown_s)).toEqual(['stage_travel']);
      expect(o.end_s).toBeGreaterThanOrEqual(o.start_s);
      expect(await remote.now_s()).toBeGreaterThanOrEqual(o.end_s);
    } finally {
      await remote.close();
    }
  });

  it('names what the exact bridge cannot do: device settings', async () => {
    const remote = await connectRemoteInstrument(standIn.url);
    try {
      await expect(remote.writeAttribute({ device: 'SCAN', attribute: 'dwell_time', value: 2e-6 })).rejects.toMatchObject({ reason: 'API_AttributeNotSupported', origin: 'SCAN.dwell_time' });
      await expect(remote.getData('nope.h5')).rejects.toMatchObject({ reason: 'API_CommandFailed', description: "Could not resolve data key 'nope.h5'" });
    } finally {
      await remote.close();
    }
  });

  it('reads JSON replies as well as server-sent events', async () => {
    const json = await startBridgeStandIn(scenario, { seed: 11, jsonResponse: true });
    const remote = await connectRemoteInstrument(json.url);
    try {
      expect((await remote.execute({ command: 'get_stage' })).value).toEqual([0, 0, 0, 0, 0]);
    } finally {
      await remote.close();
      await json.close();
    }
  });
});

/** The record without what depends on the clock: times, per-category seconds, the instrument's name, the lease. */
function timingAside(r: CampaignRecord): unknown {
  const { wall_clock_s: _w, breakdown_s: _b, instrument: _i, interference: _l, ...summary } = r.summary;
  return {
    ...r,
    summary,
    iterations: r.iterations.map(({ time_s: _t, breakdown_s: _bd, ...rest }) => rest),
    visits: r.visits.map(({ arrived_s: _a, left_s: _l2, ...rest }) => rest),
  };
}

describe('a campaign in-process and through the bridge stand-in', () => {
  const scenario = parseScenario({
    name: 'campaign-stand-in',
    seed: 21,
    specimen: { area_um: [90, 90], response: { gaussians: 2000 } },
    policy: { iterations: 3, seed_particles: 2, overview: { imsize: 512 }, gp: { refit_every: 2, restarts: 1 }, switching: { mc_samples: 16 } },
  });

  it('gives the same record, timing aside, when the stand-in adds the attribute tools', async () => {
    const standIn = await startBridgeStandIn(scenario, { seed: 21, attributeTools: true });
    try {
      const local = await runSession(scenario, { seed: 21 });
      const remote = await runSession(scenario, { seed: 21, instrumentUrl: standIn.url });
      expect(remote.summary.instrument).toBe(`mcp ${standIn.url}`);
      expect(remote.summary.interference).toEqual({ lease: 'not offered', foreign: { ran: {}, refused: {} } });
      expect(remote.iterations).toHaveLength(5);
      expect(timingAside(remote)).toEqual(timingAside(local));
      // The stand-in's twin did the very same work: its virtual clock ran as far as the in-process campaign's.
      expect(await standIn.twin.instrument.now_s()).toBe(local.summary.wall_clock_s);
    } finally {
      await standIn.close();
    }
  });

  it('is refused with one clear error against the exact bridge, which has no device settings', async () => {
    const standIn = await startBridgeStandIn(scenario, { seed: 21 });
    try {
      await expect(runSession(scenario, { seed: 21, instrumentUrl: standIn.url })).rejects.toMatchObject({ reason: 'API_AttributeNotSupported', origin: 'SCAN.dwell_time' });
      // Nothing ran but the settings' refusal: the stage never moved.
      expect(standIn.calls.map((c) => c.name)).not.toContain('DigitalTwin_move_stage');
    } finally {
      await standIn.close();
    }
  });
});
