import { Simulation, TelemetryBus } from '../events/index.js';
import { InProcessInstrument } from '../protocol/in-process.js';
import { Rng } from '../protocol/random.js';
import type { Scenario } from '../protocol/scenario.js';
import { InstrumentTwin } from './instrument/twin.js';
import type { InstrumentTelemetry } from './instrument/telemetry.js';
import { buildSpecimen } from './specimen.js';
import type { Specimen } from './types.js';

export interface Twin {
  /** The seed everything was drawn from (opts.seed, else the scenario's). */
  seed: number;
  sim: Simulation;
  specimen: Specimen;
  twin: InstrumentTwin;
  /** The protocol-level instrument a policy drives (runs each command on the virtual clock). */
  instrument: InProcessInstrument;
  telemetry: TelemetryBus<InstrumentTelemetry>;
}

/**
 * Builds a scenario's twin: one Rng from the seed, forked per part ('specimen' for the specimen,
 * 'overhead' and 'signals' inside the instrument), so the same scenario and seed give the same
 * specimen, latencies and data, byte for byte.
 */
export function createTwin(scenario: Scenario, opts: { seed?: number; client?: string } = {}): Twin {
  const seed = opts.seed ?? scenario.seed;
  const rng = new Rng(seed);
  const sim = new Simulation();
  const specimen = buildSpecimen(scenario.specimen, rng.fork('specimen'));
  const telemetry = new TelemetryBus<InstrumentTelemetry>();
  const twin = new InstrumentTwin({ sim, spec: scenario.instrument, specimen, rng, telemetry });
  return { seed, sim, specimen, twin, instrument: new InProcessInstrument(twin, opts.client), telemetry };
}

export { InstrumentTwin } from './instrument/twin.js';
export { LatencyModel } from './instrument/latency.js';
export type { InstrumentTelemetry, CommandStartRecord, CommandEndRecord, StateRecord, AcquisitionRecord } from './instrument/telemetry.js';
export type { InstrumentState } from './instrument/state.js';
