import type { Microscope } from '../../protocol/microscope.js';
import type { Rng } from '../../protocol/random.js';
import type { Scenario } from '../../protocol/scenario.js';
import { emptyBreakdown } from '../../protocol/timing.js';
import { createAcquisition, type Acquisition } from '../acquisition.js';
import { extractTarget } from '../analysis/index.js';
import { CostModel } from '../cost.js';
import type { PosteriorPool } from '../gp/index.js';
import { createPriorPool, decideSwitch, type CandidateRegion } from '../switching.js';
import { CampaignModel } from './model.js';
import type { CampaignRecord, DecisionRecord, FoundParticleRecord, IterationRecord, RegionVisit } from './record.js';
import { RegionGrid, type Region } from './regions.js';
import { chooseParticle, strategyFor, type Candidate, type Strategy } from './strategies.js';
import { surveyRegion, type SurveyedRegion as Surveyed } from './survey.js';

export interface CampaignOptions {
  scenario: Scenario;
  /** The policy's own generator (seed particles, GP restarts, Monte Carlo). */
  rng: Rng;
  /** Ground truth for the error metric only (twin runs); the policy never reads it. */
  truth?: (composition: Float64Array) => number;
  onEvent?: (event: CampaignEvent) => void;
  /** Recompute the GP densely at every step instead of rank-1 updates (benchmark peer; same decisions, slower). */
  denseModel?: boolean;
  /**
   * After the scenario's iterations, keep measuring while this holds for the latest record (a
   * comparison harness runs one policy on until it reaches another's error or time). At most
   * `maxIterations` BO iterations in all.
   */
  extend?: { while: (last: IterationRecord) => boolean; maxIterations: number };
}

export type CampaignEvent =
  | { type: 'iteration'; record: IterationRecord }
  | { type: 'visit'; visit: RegionVisit }
  | { type: 'measurement-failed'; time_s: number; particle: number; region: string; reason: string };

/**
 * The autonomous loop of model.md section 2, over the Instrument interface only: survey a region
 * (overview + EDX frame), measure seed particles, then per iteration choose a particle, place the
 * beam, take an EELS spectrum, update the GP, and decide to stay or switch region.
 */
export async function runCampaign(ms: Microscope, opts: CampaignOptions): Promise<CampaignRecord> {
  return new Campaign(ms, opts).run();
}

class Campaign {
  private readonly scenario: Scenario;
  private readonly grid: RegionGrid;
  private readonly model: CampaignModel;
  private readonly cost: CostModel;
  private readonly strategy: Strategy;
  private readonly elements: string[];
  private readonly surveyed = new Map<string, Surveyed>();
  private readonly visits: RegionVisit[] = [];
  private readonly iterations: IterationRecord[] = [];
  private readonly stagePath: [number, number][] = [];
  private prior!: PosteriorPool;
  private current!: Surveyed;
  private start_s = 0;
  private nextParticleId = 0;
  private switches = 0;
  private switchesToNeighbour = 0;
  /** Where the beam was last parked (m), for the nearest-first baseline. */
  private beam_m: [number, number] = [0, 0];

  constructor(
    private readonly ms: Microscope,
    private readonly opts: CampaignOptions,
  ) {
    this.scenario = opts.scenario;
    const p = this.scenario.policy;
    this.elements = this.scenario.specimen.elements;
    this.grid = new RegionGrid(this.scenario.specimen.area_um, p.region_um);
    this.model = new CampaignModel(this.elements.length, p.gp, p.error_grid_step, opts.rng.fork('gp'), opts.truth, opts.denseModel);
    this.cost = CostModel.fromScenario(this.scenario.instrument, p);
    this.strategy = strategyFor(p.name, this.grid, opts.rng.fork('strategy'));
  }

  async run(): Promise<CampaignRecord> {
    const p = this.scenario.policy;
    this.start_s = await this.ms.now_s();
    await this.ms.setFov(p.region_um * 1e-6);
    await this.ms.setScan({ dwell_time_s: p.overview.dwell_time_s, imsize: p.overview.imsize });
    await this.ms.setEels({ exposure_time_s: p.eels.exposure_time_s, number_of_frames: p.eels.number_of_frames });
    const [x, y] = await this.ms.getStage();
    this.stagePath.push([x!, y!]);
    this.beam_m = [x!, y!];
    await this.enter(this.strategy.firstRegion(this.grid.containing(x!, y!)));
    this.prior = createPriorPool(this.model.gp, this.opts.rng.fork('prior'), 1024);

    await this.measureSeeds();
    let failures = 0;
    while (this.wantsMore()) {
      const candidate = this.choose();
      if (!candidate) {
        // Every particle found so far is measured: survey the next region, or stop when none is left.
        const next = this.strategy.nextUnvisited(this.current.region, this.surveyed);
        if (!next) break;
        await this.enter(next);
        continue;
      }
      const record = await this.measure(candidate, 'bo');
      if (!record) {
        const limit = Math.max(20, p.iterations);
        if (++failures > limit) throw new Error(`campaign: more than ${limit} EELS measurements found no target feature; is the overview finding real particles?`);
        continue;
      }
      record.decision = await this.decide();
      this.emitIteration(record);
    }
    const last = this.visits[this.visits.length - 1];
    if (last) last.left_s = (await this.ms.now_s()) - this.start_s;
    return this.record(await this.ms.now_s());
  }

  private wantsMore(): boolean {
    const p = this.scenario.policy;
    const n = this.iterations.length;
    if (n < p.seed_particles + p.iterations) return true;
    const x = this.opts.extend;
    return !!x && n < p.seed_particles + x.maxIterations && x.while(this.iterations[n - 1]!);
  }

  /** Seed particles: random ones in the first region(s), as in the paper. */
  private async measureSeeds(): Promise<void> {
    const seeds = this.scenario.policy.seed_particles;
    const rng = this.opts.rng.fork('seeds');
    let attempts = 0;
    while (this.model.observations < seeds) {
      const open = this.current.usable.filter((k) => !k.measured);
      if (open.length === 0) {
        const next = this.strategy.nextUnvisited(this.current.region, this.surveyed);
        if (!next) throw new Error('campaign: no particle with a usable EDX composition in the whole area; check the overview and EDX settings');
        await this.enter(next);
        continue;
      }
      const pick = open[rng.int(open.length)]!;
      const record = await this.measure({ particle: pick, acquisition: null, score: null }, 'seed');
      if (record) this.emitIteration(record);
      if (++attempts > 100 * seeds) throw new Error('campaign: could not measure the seed particles (no EELS feature found)');
    }
  }

  /** The strategy's pick among known unmeasured particles, scored with the current posterior. */
  private choose(): Candidate | null {
    return chooseParticle(this.strategy, [...this.surveyed.values()], this.current, this.acquisition(), this.cost, this.beam_m);
  }

  private acquisition(): Acquisition {
    const p = this.scenario.policy;
    return createAcquisition(p.acquisition, { ucbBeta: p.ucb_beta, best_eV: this.model.observations ? this.model.gp.bestObserved() : 0 });
  }

  /** Brings the beam to the particle (moving the stage if it lies in another region), then EELS. */
  private async measure(c: Candidate, phase: 'seed' | 'bo'): Promise<IterationRecord | null> {
    const k = c.particle;
    if (k.region !== this.current.region.id) await this.travel(this.surveyed.get(k.region)!);
    await this.ms.placeBeam(k.fx, k.fy);
    this.beam_m = [k.x_m, k.y_m];
    const key = await this.ms.acquireEelsSpectrum();
    const target = extractTarget(await this.ms.getData(key));
    k.measured = true;
    const time_s = (await this.ms.now_s()) - this.start_s;
    if (!target) {
      this.opts.onEvent?.({ type: 'measurement-failed', time_s, particle: k.id, region: k.region, reason: 'no target feature in the EELS spectrum' });
      return null;
    }
    this.model.observe(k.composition!, target.value_eV, k.composition_variance ?? undefined);
    const metrics = this.model.gridMetrics();
    const visit = this.visits[this.visits.length - 1]!;
    visit.measured++;
    return {
      iteration: this.iterations.length + 1,
      phase,
      time_s,
      region: k.region,
      particle: k.id,
      x_m: k.x_m,
      y_m: k.y_m,
      composition: Array.from(k.composition!),
      composition_sigma: k.composition_sigma,
      value_eV: target.value_eV,
      value_sigma_eV: target.sigma_eV,
      acquisition: c.acquisition,
      score: c.score,
      mean_sd: metrics.mean_sd,
      mean_abs_error: metrics.mean_abs_error,
      share_measured_in_region: this.shareMeasured(this.current),
      breakdown_s: { ...this.ms.breakdown_s },
      decision: null,
    };
  }

  private emitIteration(record: IterationRecord): void {
    this.iterations.push(record);
    this.opts.onEvent?.({ type: 'iteration', record });
  }

  /** Stay or switch (eqs. 7-17 for the cost-aware policies; simpler rules for the baselines). */
  private async decide(): Promise<DecisionRecord> {
    const acquisition = this.acquisition();
    const current = this.current;
    const open = current.usable.filter((k) => !k.measured);
    const rule = this.strategy.switchRule;
    let decision: DecisionRecord;
    let target: Region | null;
    if (rule === 'exhaust') {
      target = open.length === 0 ? this.strategy.nextUnvisited(current.region, this.surveyed) : null;
      decision = {
        decision: target ? 'switch' : 'stay',
        reason: target ? 'region exhausted' : open.length ? 'particles left in the region' : 'no region left',
        R: current.usable.length ? open.length / current.usable.length : 0,
        G: 0,
        V_stay: 0,
        rho_per_um2: this.density(),
      };
    } else {
      const scores = this.openScores(current, acquisition);
      const candidates: CandidateRegion[] = [];
      for (const region of this.grid.regions) {
        if (region === current.region) continue;
        const seen = this.surveyed.get(region.id);
        const distance_um = this.grid.distance_um(current.region, region);
        if (seen) {
          const utilities = this.openScores(seen, acquisition);
          if (utilities.length === 0) continue;
          // A revisit needs travel and retuning, not a new overview or EDX frame.
          const i = this.scenario.instrument;
          candidates.push({ id: region.id, distance_um, area_um2: region.area_um2, visited: true, knownUtilities: utilities, t_switch_s: i.stage_settle_s + distance_um / i.stage_speed_um_per_s + i.retune_s });
        } else candidates.push({ id: region.id, distance_um, area_um2: region.area_um2, visited: false });
      }
      const blind = rule === 'cost-blind';
      if (blind) {
        // Ignore travel and switching cost: every move is as cheap as one measurement, and the
        // target is picked without regard to distance (shuffled, so ties do not favour the nearest).
        for (const c of candidates) c.t_switch_s = this.cost.params.t_meas_s;
        this.strategy.rng.shuffle(candidates);
        for (const c of candidates) c.distance_um = 0;
      }
      const p = this.scenario.policy;
      const d = decideSwitch({
        current: { measured: current.usable.length - open.length, total: current.usable.length, unmeasuredScores: scores },
        explored: [...this.surveyed.values()].map((s) => ({ found: s.particles.length, area_um2: s.region.area_um2 })),
        candidates,
        pool: this.prior,
        acquisition,
        novelty: { lambda: p.switching.novelty_lambda, d0: p.switching.novelty_d0 },
        cost: this.cost,
        mcSamples: p.switching.mc_samples,
        rng: this.strategy.rng,
      });
      target = d.decision === 'switch' && d.target ? this.grid.byId(d.target) : null;
      decision = { decision: d.decision, reason: d.reason, R: d.R, G: d.G, V_stay: d.V_stay, rho_per_um2: d.rho_per_um2 };
      if (d.best) {
        const b = d.best;
        decision.target = { region: b.region, distance_um: blind ? this.grid.distance_um(current.region, this.grid.byId(b.region)) : b.distance_um, E_gain: b.E_gain, t_switch_s: b.t_switch_s, C_switch: b.C_switch, V_switch: b.V_switch };
      }
    }
    if (target) {
      const seen = this.surveyed.get(target.id);
      if (seen) await this.travel(seen);
      else await this.enter(target);
    }
    return decision;
  }

  /** Acquisition values (as utilities) of a region's unmeasured particles. */
  private openScores(s: Surveyed, acquisition: Acquisition): Float64Array {
    if (!s.pool) return new Float64Array(0);
    const { mean, variance } = s.pool.posterior();
    const all = acquisition.evaluate(mean, variance);
    const out: number[] = [];
    s.usable.forEach((k, i) => {
      if (!k.measured) out.push(acquisition.logScale ? Math.exp(all[i]!) : all[i]!);
    });
    return Float64Array.from(out);
  }

  /** Moves to a region never seen and surveys it. */
  private async enter(region: Region): Promise<void> {
    await this.leave();
    const arrived = (await this.ms.now_s()) - this.start_s;
    const p = this.scenario.policy;
    const survey = await surveyRegion(this.ms, region, this.elements, this.nextParticleId, { overview: p.overview.imsize, edx: p.edx_frame.imsize });
    this.nextParticleId += survey.particles.length;
    const usable = survey.particles.filter((k) => k.composition !== null);
    const s: Surveyed = { region, particles: survey.particles, usable, pool: this.model.poolOf(usable.map((k) => k.composition!)) };
    this.surveyed.set(region.id, s);
    this.current = s;
    this.stagePath.push([...region.center_m]);
    this.arrive(region, arrived, usable.length);
  }

  /** Moves back to a region already surveyed: travel and retune only. */
  private async travel(s: Surveyed): Promise<void> {
    await this.leave();
    const arrived = (await this.ms.now_s()) - this.start_s;
    await this.ms.moveStageXY(s.region.center_m[0], s.region.center_m[1]);
    await this.ms.autoFocus();
    this.current = s;
    this.stagePath.push([...s.region.center_m]);
    this.arrive(s.region, arrived, s.usable.length);
  }

  private arrive(region: Region, arrived_s: number, found: number): void {
    const previous = this.visits[this.visits.length - 1];
    if (previous) {
      this.switches++;
      if (this.grid.areNeighbours(this.grid.byId(previous.region), region)) this.switchesToNeighbour++;
    }
    const visit: RegionVisit = { region: region.id, center_m: [...region.center_m], arrived_s, left_s: null, found, measured: 0 };
    this.visits.push(visit);
    this.opts.onEvent?.({ type: 'visit', visit });
  }

  private async leave(): Promise<void> {
    const last = this.visits[this.visits.length - 1];
    if (last && last.left_s === null) last.left_s = (await this.ms.now_s()) - this.start_s;
  }

  private shareMeasured(s: Surveyed): number {
    return s.usable.length ? s.usable.filter((k) => k.measured).length / s.usable.length : 0;
  }

  /** Particles found per um^2 over the regions surveyed so far. */
  private density(): number {
    let found = 0;
    let area = 0;
    for (const s of this.surveyed.values()) {
      found += s.particles.length;
      area += s.region.area_um2;
    }
    return area > 0 ? found / area : 0;
  }

  private record(end_s: number): CampaignRecord {
    const p = this.scenario.policy;
    const last = this.iterations[this.iterations.length - 1];
    const particles: FoundParticleRecord[] = [...this.surveyed.values()].flatMap((s) =>
      s.particles.map((k) => ({ id: k.id, region: k.region, x_m: k.x_m, y_m: k.y_m, radius_m: k.radius_m, composition: k.composition ? Array.from(k.composition) : null, measured: k.measured })),
    );
    const shares = [...this.surveyed.values()].map((s) => ({ region: s.region.id, share: this.shareMeasured(s) }));
    return {
      summary: {
        scenario: this.scenario.name,
        policy: p.name,
        seed: this.scenario.seed,
        instrument: this.ms.instrument.name,
        iterations: Math.max(0, this.iterations.length - p.seed_particles),
        seed_particles: p.seed_particles,
        wall_clock_s: end_s - this.start_s,
        breakdown_s: { ...emptyBreakdown(), ...this.ms.breakdown_s },
        regions_visited: this.surveyed.size,
        switches: this.switches,
        switches_to_neighbour: this.switchesToNeighbour,
        particles_found: particles.length,
        particles_measured: particles.filter((k) => k.measured).length,
        final_mean_abs_error: last?.mean_abs_error ?? null,
        final_mean_sd: last?.mean_sd ?? NaN,
        share_measured_per_region: shares,
      },
      iterations: this.iterations,
      visits: this.visits,
      particles,
      stage_path_m: this.stagePath,
      elements: this.elements,
      region_um: p.region_um,
      area_um: this.scenario.specimen.area_um,
    };
  }
}
