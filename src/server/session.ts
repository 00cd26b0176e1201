import type { CampaignEvent, CampaignOptions } from '../policy/campaign/campaign.js';
import { runCampaign } from '../policy/campaign/campaign.js';
import type { CampaignRecord } from '../policy/campaign/record.js';
import { Microscope, type CommandTrace } from '../protocol/microscope.js';
import { Rng } from '../protocol/random.js';
import { twinDigest, type PolicyName, type Scenario } from '../protocol/scenario.js';
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
  /**
   * A served twin of the same specimen and instrument but another seed: run with the served seed
   * instead of refusing (the record then carries that seed). Another specimen is always refused.
   */
  takeServedSeed?: boolean;
  /** Called once the remote instrument is connected (and leased), before the campaign's first command. */
  onConnected?: () => Promise<void> | void;
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
  let scenario = withOverrides(base, o);
  let seed = o.seed;
  let truth: CampaignOptions['truth'];
  let close: () => Promise<void>;
  let microscope: Microscope;
  let release: (() => Promise<Interference>) | undefined;
  if (o.instrumentUrl) {
    const { connectRemoteInstrument } = await import('../protocol/remote.js');
    // A served twin says what it serves: refuse another specimen or seed (its data would not match
    // the ground truth rebuilt below), or adopt its seed when asked.
    const expect = { name: scenario.name, seed, digest: twinDigest(scenario) };
    const instrument = await connectRemoteInstrument(o.instrumentUrl, { token: o.token, expect, takeServedSeed: o.takeServedSeed });
    if (o.takeServedSeed && instrument.served) {
      seed = instrument.served.seed;
      scenario = withOverrides(base, { ...o, seed });
    }
    // Exclusive use while the campaign runs, when the server offers it: another client's stage
    // moves would otherwise stretch the campaign unnoticed.
    try {
      await instrument.acquireLease();
      await o.onConnected?.();
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
      const local = createTwin(scenario, { seed });
      truth = (c) => local.specimen.truth.value_eV(c);
    }
  } else {
    const twin = createTwin(scenario, { seed });
    microscope = new Microscope(twin.instrument, o.onCommand);
    truth = (c) => twin.specimen.truth.value_eV(c);
    close = () => twin.instrument.close();
  }
  try {
    const record = await runCampaign(microscope, { scenario, rng: new Rng(seed).fork('policy'), truth, onEvent: o.onEvent, denseModel: o.denseModel, extend: o.extend });
    if (release) record.summary.interference = await release();
    return record;
  } finally {
    await close();
  }
}
