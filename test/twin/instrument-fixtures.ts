import { parseScenario, type Scenario } from '../../src/protocol/scenario.js';

/** A small scenario that builds fast: 60 x 60 um of particles around the stage origin. */
export function smallScenario(overrides: Record<string, unknown> = {}): Scenario {
  return parseScenario({
    name: 'instrument-test',
    seed: 3,
    specimen: { area_um: [60, 60], density_per_um2: 0.05, response: { gaussians: 200, sd: 0.1, base_eV: 15, scale_eV: 2 } },
    ...overrides,
  });
}
