import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { Resource, Simulation } from '../../src/events/index.js';

const jobs = fc.array(fc.record({ arrive: fc.integer({ min: 0, max: 6 }).map((a) => a / 2), duration: fc.integer({ min: 0, max: 5 }) }), {
  minLength: 1,
  maxLength: 30,
});

describe('Resource', () => {
  test.prop([jobs, fc.integer({ min: 1, max: 3 })], { numRuns: 80 })(
    'never exceeds its capacity, serves first come first served, and names its longest holder',
    async (plan, capacity) => {
      const sim = new Simulation();
      const res = new Resource(sim, 'beam', capacity);
      const granted: number[] = [];
      const holding: number[] = []; // in grant order
      const seen: { inUse: number; holding: number; holder: string | undefined; longest: string }[] = [];
      const done: Promise<void>[] = [];
      plan.forEach((job, i) =>
        sim.schedule(job.arrive, () => {
          done.push(
            sim.process(() =>
              res.use(async () => {
                granted.push(i);
                holding.push(i);
                seen.push({ inUse: res.inUse, holding: holding.length, holder: res.holder, longest: `job ${holding[0]}` });
                await sim.timeout(job.duration);
                holding.splice(holding.indexOf(i), 1);
              }, `job ${i}`),
            ),
          );
        }),
      );
      await sim.run();
      await Promise.all(done);
      for (const s of seen) {
        expect(s.inUse).toBeLessThanOrEqual(capacity);
        expect(s.inUse).toBe(s.holding);
        expect(s.holder).toBe(s.longest);
      }
      // Arrival order: by arrival time, then by scheduling order at equal times.
      const arrival = plan.map((j, i) => ({ ...j, i })).sort((a, b) => a.arrive - b.arrive || a.i - b.i).map((j) => j.i);
      expect(granted).toEqual(arrival);
      expect(res.inUse).toBe(0);
      expect(res.queued).toBe(0);
      expect(res.holder).toBeUndefined();
    },
  );

  it('counts its queue, and releasing twice frees it only once', async () => {
    const sim = new Simulation();
    const res = new Resource(sim, 'stage');
    const first = await res.acquire('client-a');
    expect(res.holder).toBe('client-a');
    const second = res.acquire('client-b');
    const third = res.acquire('client-c');
    expect(res.queued).toBe(2);
    first();
    first();
    const releaseB = await second;
    expect(res.holder).toBe('client-b');
    expect(res.inUse).toBe(1);
    expect(res.queued).toBe(1);
    releaseB();
    (await third)();
    expect(res.inUse).toBe(0);
  });

  it('use() releases when the job throws, and hands over to the next waiter', async () => {
    const sim = new Simulation();
    const res = new Resource(sim, 'beam');
    const failing = res.use(async () => {
      throw new Error('boom');
    }, 'failing');
    const next = res.use(async () => res.holder, 'next');
    await expect(failing).rejects.toThrow('boom');
    expect(await next).toBe('next');
    expect(res.inUse).toBe(0);
  });

  it('serves a long queue in order (the served prefix is compacted away)', async () => {
    const sim = new Simulation();
    const res = new Resource(sim, 'beam');
    const order: number[] = [];
    const all = Array.from({ length: 500 }, (_, i) =>
      sim.process(() =>
        res.use(async () => {
          order.push(i);
          await sim.timeout(0.001);
        }),
      ),
    );
    await sim.runUntilSettled(Promise.all(all));
    expect(order).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(sim.now).toBeCloseTo(0.5, 9);
  });

  it('refuses a capacity that is not a positive integer, naming the resource', () => {
    const sim = new Simulation();
    expect(() => new Resource(sim, 'beam', 0)).toThrow(/Resource beam: capacity must be an integer >= 1, got 0/);
    expect(() => new Resource(sim, 'beam', 1.5)).toThrow(RangeError);
  });
});
