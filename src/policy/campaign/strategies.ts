import type { Rng } from '../../protocol/random.js';
import type { PolicyName } from '../../protocol/scenario.js';
import { argmax, type Acquisition } from '../acquisition.js';
import { costWeightedScore, type CostModel } from '../cost.js';
import type { Region, RegionGrid } from './regions.js';
import type { KnownParticle, SurveyedRegion } from './survey.js';

/** A particle chosen for the next measurement, with the values that chose it. */
export interface Candidate {
  particle: KnownParticle;
  acquisition: number | null;
  score: number | null;
}

/**
 * How a policy picks particles and regions. The paper's policy and the baselines share the
 * campaign loop and differ only here:
 * - cost-aware: acquisition / move cost over every known particle (eq. 4), stay/switch by eqs. 7-17;
 * - cost-blind: acquisition alone over every known particle, switching that ignores its cost;
 * - random, nearest, raster: pick within the region (at random, nearest the beam, in raster
 *   order), and move on only when the region is exhausted.
 */
export interface Strategy {
  readonly name: PolicyName;
  readonly rng: Rng;
  readonly pick: 'cost-aware' | 'acquisition' | 'random' | 'nearest' | 'raster';
  readonly switchRule: 'cost-aware' | 'cost-blind' | 'exhaust';
  firstRegion(containing: Region): Region;
  /** The next region never surveyed, by this strategy's order; null when none is left. */
  nextUnvisited(from: Region, surveyed: ReadonlyMap<string, SurveyedRegion>): Region | null;
}

export function strategyFor(name: PolicyName, grid: RegionGrid, rng: Rng): Strategy {
  const nearestUnvisited = (from: Region, surveyed: ReadonlyMap<string, SurveyedRegion>) => {
    let best: Region | null = null;
    for (const r of grid.regions) if (!surveyed.has(r.id) && (!best || grid.distance_um(from, r) < grid.distance_um(from, best))) best = r;
    return best;
  };
  const base = { name, rng, firstRegion: (r: Region) => r, nextUnvisited: nearestUnvisited };
  switch (name) {
    case 'cost-aware':
      return { ...base, pick: 'cost-aware', switchRule: 'cost-aware' };
    case 'cost-blind':
      return { ...base, pick: 'acquisition', switchRule: 'cost-blind' };
    case 'random':
      return { ...base, pick: 'random', switchRule: 'exhaust' };
    case 'nearest':
      return { ...base, pick: 'nearest', switchRule: 'exhaust' };
    case 'raster': {
      const order = grid.rasterOrder();
      return {
        ...base,
        pick: 'raster',
        switchRule: 'exhaust',
        firstRegion: () => order[0]!,
        nextUnvisited: (_from, surveyed) => order.find((r) => !surveyed.has(r.id)) ?? null,
      };
    }
  }
}

/**
 * The strategy's next particle among the known unmeasured ones with a composition: across all
 * surveyed regions for the BO policies, in the current region for the baselines.
 */
export function chooseParticle(
  strategy: Strategy,
  surveyed: SurveyedRegion[],
  current: SurveyedRegion,
  acquisition: Acquisition,
  cost: CostModel,
  beam_m: [number, number],
): Candidate | null {
  const open = (s: SurveyedRegion) => s.usable.filter((k) => !k.measured);
  switch (strategy.pick) {
    case 'cost-aware':
    case 'acquisition': {
      const [cx, cy] = current.region.center_m;
      let best: Candidate | null = null;
      for (const s of surveyed) {
        if (!s.pool) continue;
        const { mean, variance } = s.pool.posterior();
        const a = acquisition.evaluate(mean, variance);
        s.usable.forEach((k, i) => {
          if (k.measured) return;
          const c = strategy.pick === 'cost-aware' ? cost.cMoveAt((k.x_m - cx) * 1e6, (k.y_m - cy) * 1e6) : 1;
          const score = costWeightedScore(a[i]!, c, acquisition.logScale);
          if (!best || score > best.score!) best = { particle: k, acquisition: a[i]!, score };
        });
      }
      return best;
    }
    case 'random': {
      const ks = open(current);
      return ks.length ? { particle: ks[strategy.rng.int(ks.length)]!, acquisition: null, score: null } : null;
    }
    case 'nearest': {
      const ks = open(current);
      const d = ks.map((k) => Math.hypot(k.x_m - beam_m[0], k.y_m - beam_m[1]));
      return ks.length ? { particle: ks[argmax(d.map((x) => -x))]!, acquisition: null, score: null } : null;
    }
    case 'raster': {
      // Rows of one tenth of the field, each swept left to right.
      const row = (k: KnownParticle) => Math.floor(k.fy * 10);
      const ks = open(current).sort((a, b) => row(a) - row(b) || a.fx - b.fx);
      return ks.length ? { particle: ks[0]!, acquisition: null, score: null } : null;
    }
  }
}
