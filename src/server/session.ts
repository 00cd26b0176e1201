import type { CampaignEvent, CampaignOptions } from '../policy/campaign/campaign.js';
import { runCampaign } from '../policy/campaign/campaign.js';
import type { CampaignRecord } from '../policy/campaign/record.js';
import { Microscope, type CommandTrace } from '../protocol/microscope.js';
import { Rng } from '../protocol/random.js';
import type { PolicyName, Scenario } from '../protocol/scenario.js';
import type { Interference } from '../protocol/remote.js';
import { createTwin } from '../twin/index.js';

/** Where the campaign's instrument is: the built-in twin, or a served instrument over MCP. */
export interface SessionOptions {
  seed: number;
  policy?: PolicyName;
  iterations?: number;
  /** MCP endpoint of a served twin or of the real microscope's bridge. */
  instrumentUrl?: string;
  token?: string;
  /** Compute the error against the scenario's ground truth (default true; false against hardware). */
  groundTruth?: boolean;
  onEvent?: (event: CampaignEvent) => void;
  onCommand?: (trace: CommandTrace) => void;
  /** Benchmark peer: dense GP recomputation at every step. */
  denseModel?: boolean;
  /** Run on past the scenario's iterations (see CampaignOptions.extend). */
  extend?: CampaignOptions['extend'];
}

/** The scenario with command-line overrides applied. */
export function withOverrides(scenario: Scenario, o: { seed: number; policy?: PolicyName; iterations?: number }): Scenario {
  return {
    ...scenario,
    seed: o.seed,
    policy: { ...scenario.policy, name: o.policy ?? scenario.policy.name, iterations: o.iterations ?? scenario.policy.iterations },
  };
}

/**
 * Runs one campaign end to end. Against the built-in twin, the ground truth is handed to the
 * runner as an oracle for the error metric only; the policy itself never sees it.
 */
export async function runSession(base: Scenario, o: SessionOptions): Promise<CampaignRecord> {
  const scenario = withOverrides(base, o);
  let truth: CampaignOptions['truth'];
  let close: () => Promise<void>;
  let microscope: Microscope;
  let release: (() => Promise<Interference>) | undefined;
  if (o.instrumentUrl) {
    const { connectRemoteInstrument } = await import('../protocol/remote.js');
    const instrument = await connectRemoteInstrument(o.instrumentUrl, { token: o.token });
    // Exclusive use while the campaign runs, when the server offers it: another client's stage
    // moves would otherwise stretch the campaign unnoticed.
    try {
      await instrument.acquireLease();
    } catch (e) {
      await instrument.close();
      throw e;
    }
    release = () => instrument.releaseLease();
    microscope = new Microscope(instrument, o.onCommand);
    close = () => instrument.close();
    // A served twin of this scenario and seed holds the same specimen: rebuild it here for the error
    // metric. Against hardware there is no ground truth (groundTruth: false).
    if (o.groundTruth !== false) {
      const local = createTwin(scenario, { seed: o.seed });
      truth = (c) => local.specimen.truth.value_eV(c);
    }
  } else {
    const twin = createTwin(scenario, { seed: o.seed });
    microscope = new Microscope(twin.instrument, o.onCommand);
    truth = (c) => twin.specimen.truth.value_eV(c);
    close = () => twin.instrument.close();
  }
  try {
    const record = await runCampaign(microscope, { scenario, rng: new Rng(o.seed).fork('policy'), truth, onEvent: o.onEvent, denseModel: o.denseModel, extend: o.extend });
    if (release) record.summary.interference = await release();
    return record;
  } finally {
    await close();
  }
}
