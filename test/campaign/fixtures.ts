import { parseScenario, type Scenario } from '../../src/protocol/scenario.js';

/** A small, fast scenario: 3 x 3 regions, a light ground truth, few iterations. */
export function smallScenario(overrides: { policy?: Record<string, unknown>; specimen?: Record<string, unknown> } = {}): Scenario {
  return parseScenario({
    name: 'small',
    seed: 3,
    specimen: { area_um: [90, 90], response: { gaussians: 20000 }, ...overrides.specimen },
    policy: { iterations: 12, overview: { imsize: 512 }, gp: { refit_every: 5, restarts: 2 }, switching: { mc_samples: 64 }, ...overrides.policy },
  });
}
