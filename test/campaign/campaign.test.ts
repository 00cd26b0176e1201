import { describe, expect, it } from 'vitest';
import { runSession } from '../../src/server/session.js';
import { LATENCY_CATEGORIES } from '../../src/protocol/timing.js';
import { CampaignModel, MIN_FIT } from '../../src/policy/campaign/model.js';
import { Rng } from '../../src/protocol/random.js';
import { smallScenario } from './fixtures.js';

describe('campaign runner', () => {
  it('runs the paper workflow end to end and records every iteration', async () => {
    const scenario = smallScenario();
    const events: string[] = [];
    const record = await runSession(scenario, { seed: 3, onEvent: (e) => events.push(e.type) });
    const s = record.summary;
    expect(s.iterations).toBe(12);
    expect(record.iterations).toHaveLength(15);
    expect(record.iterations.slice(0, 3).every((it) => it.phase === 'seed')).toBe(true);
    expect(s.regions_visited).toBeGreaterThanOrEqual(1);
    expect(events.filter((e) => e === 'iteration')).toHaveLength(15);
    // Time only moves forward, and the breakdown adds up to the campaign's wall clock.
    for (let i = 1; i < record.iterations.length; i++) expect(record.iterations[i]!.time_s).toBeGreaterThan(record.iterations[i - 1]!.time_s);
    const sum = LATENCY_CATEGORIES.reduce((a, c) => a + s.breakdown_s[c], 0);
    expect(sum).toBeCloseTo(s.wall_clock_s, 6);
    expect(s.breakdown_s.eels).toBeGreaterThanOrEqual(15 * scenario.policy.eels.exposure_time_s);
    expect(s.breakdown_s.edx).toBeGreaterThanOrEqual(s.regions_visited * scenario.instrument.edx_frame_s);
    // Every measurement is of a distinct particle, with a composition on the simplex.
    expect(new Set(record.iterations.map((it) => it.particle)).size).toBe(15);
    for (const it of record.iterations) expect(it.composition.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    const last = record.iterations[record.iterations.length - 1]!;
    expect(s.final_mean_abs_error).toBe(last.mean_abs_error);
    // Decisions carry the terms of eqs. 7-17.
    const decided = record.iterations.filter((it) => it.phase === 'bo');
    for (const it of decided) {
      expect(it.decision).not.toBeNull();
      expect(it.decision!.R).toBeGreaterThanOrEqual(0);
      expect(it.decision!.R).toBeLessThanOrEqual(1);
    }
  });

  it('the model learns: error falls over the campaign (over seeds); the uncertainty rises only at refits', async () => {
    // One seed's error can stall (its particles may all sit where the field is flat), and the mean
    // sd after the seeds is measured with neutral hyperparameters on three standardised points, so
    // it is no yardstick. What must hold: averaged over several seeds, the final error is below the
    // error after the seeds; and between hyperparameter refits (from the first fit on, at least
    // refit_every measurements apart) a measurement can only lower the posterior variance.
    const scenario = smallScenario();
    const refitEvery = scenario.policy.gp.refit_every;
    let afterSeeds = 0;
    let final = 0;
    const seeds = [1, 2, 3, 4];
    for (const seed of seeds) {
      const record = await runSession(scenario, { seed });
      afterSeeds += record.iterations[3]!.mean_abs_error!;
      final += record.iterations[record.iterations.length - 1]!.mean_abs_error!;
      const sd = record.iterations.map((it) => it.mean_sd);
      const rises: number[] = [];
      for (let n = MIN_FIT; n <= sd.length; n++) if (sd[n - 1]! > sd[n - 2]! * (1 + 1e-9)) rises.push(n);
      for (let i = 1; i < rises.length; i++) expect(rises[i]! - rises[i - 1]!, `seed ${seed}: mean sd rose at n = ${rises.join(', ')}`).toBeGreaterThanOrEqual(refitEvery);
    }
    expect(final / seeds.length).toBeLessThan(afterSeeds / seeds.length);
  });

  it('same scenario and seed, same record; another seed differs', async () => {
    const scenario = smallScenario({ policy: { iterations: 4 } });
    const a = await runSession(scenario, { seed: 5 });
    const b = await runSession(scenario, { seed: 5 });
    const c = await runSession(scenario, { seed: 6 });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(JSON.stringify(a.iterations)).not.toBe(JSON.stringify(c.iterations));
  });

  it.each(['cost-blind', 'random', 'nearest', 'raster'] as const)('the %s baseline shares the runner', async (policy) => {
    const scenario = smallScenario({ policy: { iterations: 6 } });
    const record = await runSession(scenario, { seed: 3, policy });
    expect(record.summary.policy).toBe(policy);
    expect(record.iterations).toHaveLength(9);
    if (policy !== 'cost-blind') expect(record.iterations.filter((it) => it.phase === 'bo').every((it) => it.acquisition === null)).toBe(true);
  });

  it('runs on past its iterations while the extension asks, up to its cap, with the same prefix', async () => {
    const scenario = smallScenario({ policy: { iterations: 4 } });
    const plain = await runSession(scenario, { seed: 5 });
    // Run on until the instrument clock passes 1.5x the plain campaign's time.
    const until = 1.5 * plain.summary.wall_clock_s;
    const longer = await runSession(scenario, { seed: 5, extend: { while: (last) => last.time_s < until, maxIterations: 40 } });
    expect(longer.summary.iterations).toBeGreaterThan(4);
    expect(longer.iterations.slice(0, plain.iterations.length).map((it) => it.particle)).toEqual(plain.iterations.map((it) => it.particle));
    const times = longer.iterations.map((it) => it.time_s);
    expect(times[times.length - 1]).toBeGreaterThanOrEqual(until);
    expect(times[times.length - 2]).toBeLessThan(until);
    const capped = await runSession(scenario, { seed: 5, extend: { while: () => true, maxIterations: 7 } });
    expect(capped.summary.iterations).toBe(7);
  });

  it('the raster baseline sweeps regions in raster order until it has measured every particle', async () => {
    const scenario = smallScenario({ policy: { iterations: 60 } });
    const record = await runSession(scenario, { seed: 3, policy: 'raster' });
    const order = [...new Set(record.iterations.map((it) => it.region))];
    expect(order.slice(0, 3)).toEqual(['r0_0', 'r1_0', 'r2_0']);
    // Each region is finished before the next is entered.
    for (const v of record.summary.share_measured_per_region.slice(0, -1)) expect(v.share).toBe(1);
  });
});

describe('campaign model', () => {
  const spec = (input_noise: boolean) => ({ kernel: 'matern52' as const, refit_every: 5, restarts: 1, noise_floor: 1e-6, input_noise });
  const observeAll = (model: CampaignModel) => {
    const rng = new Rng('model');
    for (let i = 0; i < 12; i++) {
      const c = rng.simplexUniform(3);
      model.observe(c, 15 + Math.sin(6 * c[0]!), Float64Array.of(1e-4, 4e-4, 2e-4));
    }
  };

  it('hands each composition variance to the GP with input_noise, through rank-1 updates and refits alike', () => {
    const model = new CampaignModel(3, spec(true), 0.1, new Rng(1));
    observeAll(model);
    const v = model.gp.data().inputVariance;
    expect(v).toHaveLength(36);
    for (let i = 0; i < 12; i++) expect(Array.from(v.subarray(3 * i, 3 * i + 3))).toEqual([1e-4, 4e-4, 2e-4]);
  });

  it('ignores them without input_noise', () => {
    const model = new CampaignModel(3, spec(false), 0.1, new Rng(1));
    observeAll(model);
    expect(model.gp.data().inputVariance.every((x) => x === 0)).toBe(true);
  });
});
