import type { Interference } from '../../protocol/remote.js';
import type { LatencyCategory } from '../../protocol/timing.js';
import type { CandidateTerms, SwitchDecision } from '../switching.js';

/** What one stay/switch decision weighed (eqs. 7-17), as recorded after a measurement. */
export type DecisionRecord = Pick<SwitchDecision, 'decision' | 'reason' | 'R' | 'G' | 'V_stay' | 'rho_per_um2'> & {
  /** The chosen candidate's terms (eqs. 13, 16, 17), when there was a candidate. */
  target?: Pick<CandidateTerms, 'region' | 'distance_um' | 'E_gain' | 't_switch_s' | 'C_switch' | 'V_switch'>;
};

export interface IterationRecord {
  /** 1-based count of measurements, seed particles first. */
  iteration: number;
  phase: 'seed' | 'bo';
  /** Instrument clock (s) when the measurement ended. */
  time_s: number;
  region: string;
  particle: number;
  x_m: number;
  y_m: number;
  /** Composition as measured by EDX (the policy's input), and its total uncertainty. */
  composition: number[];
  composition_sigma: number;
  value_eV: number;
  value_sigma_eV: number;
  /** Acquisition and cost-aware score of the chosen particle (null for seeds). */
  acquisition: number | null;
  score: number | null;
  /** Mean predictive standard deviation (eV) over the simplex grid. */
  mean_sd: number;
  /** Mean absolute error (eV) of the predictive mean against the ground truth over the grid (null without an oracle). */
  mean_abs_error: number | null;
  /** Measured / found particles in the current region. */
  share_measured_in_region: number;
  /** Cumulative seconds per latency category since the campaign began. */
  breakdown_s: Record<LatencyCategory, number>;
  decision: DecisionRecord | null;
}

export interface RegionVisit {
  region: string;
  center_m: [number, number];
  arrived_s: number;
  left_s: number | null;
  found: number;
  measured: number;
}

export interface FoundParticleRecord {
  id: number;
  region: string;
  x_m: number;
  y_m: number;
  radius_m: number;
  composition: number[] | null;
  measured: boolean;
}

export interface CampaignSummary {
  scenario: string;
  policy: string;
  seed: number;
  instrument: string;
  /** BO iterations after the seed particles. */
  iterations: number;
  seed_particles: number;
  /** Simulated (or, on hardware, real) instrument time of the whole campaign. */
  wall_clock_s: number;
  breakdown_s: Record<LatencyCategory, number>;
  regions_visited: number;
  switches: number;
  switches_to_neighbour: number;
  particles_found: number;
  particles_measured: number;
  final_mean_abs_error: number | null;
  final_mean_sd: number;
  /** Share measured of each region surveyed at the end of the campaign, in first-visit order. */
  share_measured_per_region: { region: string; share: number }[];
  /** Against a served instrument: the lease and other clients' commands during the campaign (see protocol/remote.ts). */
  interference?: Interference;
}

export interface CampaignRecord {
  summary: CampaignSummary;
  iterations: IterationRecord[];
  visits: RegionVisit[];
  particles: FoundParticleRecord[];
  /** Stage positions (m) in the order the stage went there. */
  stage_path_m: [number, number][];
  elements: string[];
  region_um: number;
  area_um: [number, number];
}
