import { fc, test } from '@fast-check/vitest';
import { firstValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { EventHeap, Resource, Simulation, TelemetryBus } from '../../src/events/index.js';

const schedules = fc.array(
  fc.record({ delay: fc.integer({ min: 0, max: 20 }).map((d) => d / 4), priority: fc.integer({ min: -3, max: 3 }), cancel: fc.boolean() }),
  { maxLength: 200 },
);

describe('EventHeap', () => {
  test.prop([fc.array(fc.tuple(fc.double({ min: 0, max: 100, noNaN: true }), fc.integer({ min: 0, max: 1000 })), { maxLength: 300 })])(
    'pops in (time, tie) order',
    (entries) => {
      const heap = new EventHeap();
      entries.forEach(([t, k], i) => heap.push(t, k * 1000 + i, i));
      const popped: number[] = [];
      while (heap.size) popped.push(heap.pop());
      const expected = entries.map((e, i) => ({ t: e[0], k: e[1] * 1000 + i, i })).sort((a, b) => a.t - b.t || a.k - b.k).map((e) => e.i);
      expect(popped).toEqual(expected);
    },
  );
});

describe('Simulation', () => {
  test.prop([schedules])('runs events in (time, priority, scheduling order), skipping the cancelled, the clock never going back', (plan) => {
    const sim = new Simulation();
    const ran: number[] = [];
    const times: number[] = [];
    const handles = plan.map((p, i) =>
      sim.schedule(p.delay, () => {
        ran.push(i);
        times.push(sim.now);
      }, p.priority),
    );
    plan.forEach((p, i) => p.cancel && expect(handles[i]!.cancel()).toBe(true));
    expect(sim.pending).toBe(plan.filter((p) => !p.cancel).length);
    sim.runSync();
    const expected = plan
      .map((p, i) => ({ ...p, i }))
      .filter((p) => !p.cancel)
      .sort((a, b) => a.delay - b.delay || a.priority - b.priority || a.i - b.i)
      .map((p) => p.i);
    expect(ran).toEqual(expected);
    for (let k = 1; k < times.length; k++) expect(times[k]!).toBeGreaterThanOrEqual(times[k - 1]!);
    expect(sim.pending).toBe(0);
    // A cancelled or finished event cannot be cancelled again.
    handles.forEach((h) => expect(h.cancel()).toBe(false));
  });

  test.prop([schedules])('same schedule, same trace (async processes included)', async (plan) => {
    const trace = async () => {
      const sim = new Simulation();
      const log: string[] = [];
      const procs = plan.slice(0, 20).map((p, i) =>
        sim.process(async () => {
          await sim.timeout(p.delay);
          log.push(`${i}a@${sim.now}`);
          await Promise.resolve();
          await sim.timeout(p.delay / 2);
          log.push(`${i}b@${sim.now}`);
        }),
      );
      await sim.runUntilSettled(Promise.all(procs));
      return log.join(',');
    };
    expect(await trace()).toBe(await trace());
  });

  it('a resumed process runs through nested awaits before the next event (SimPy order)', async () => {
    const sim = new Simulation();
    const log: string[] = [];
    const nested = async (name: string) => {
      await Promise.resolve();
      await (async () => {
        await Promise.resolve();
        log.push(`${name} deep @${sim.now}`);
      })();
    };
    const a = sim.process(async () => {
      await sim.timeout(1);
      log.push('a resumed');
      await nested('a');
      await sim.timeout(1);
      log.push('a done');
    });
    sim.schedule(1, () => log.push('callback at 1'));
    const b = sim.process(async () => {
      await sim.timeout(1);
      log.push('b resumed');
      await nested('b');
    });
    await sim.runUntilSettled(Promise.all([a, b]));
    // The callback was scheduled before either process asked for t = 1, so it runs first; each
    // process then finishes its nested awaits before the next one resumes.
    expect(log).toEqual(['callback at 1', 'a resumed', 'a deep @1', 'b resumed', 'b deep @1', 'a done']);
    expect(sim.now).toBe(2);
  });

  it('generator processes yield delays and promises', async () => {
    const sim = new Simulation();
    const log: number[] = [];
    const done = sim.processGenerator(
      (function* () {
        yield 2;
        log.push(sim.now);
        const v = (yield sim.timeout(3).then(() => 7)) as number;
        log.push(v, sim.now);
        return 'ok';
      })(),
    );
    expect(await sim.runUntilSettled(done)).toBe('ok');
    expect(log).toEqual([2, 7, 5]);
  });

  it('run(until) stops at the horizon and advances the clock to it', async () => {
    const sim = new Simulation();
    const ran: number[] = [];
    for (const t of [1, 2, 3, 4]) sim.schedule(t, () => ran.push(t));
    await sim.run(2.5);
    expect(ran).toEqual([1, 2]);
    expect(sim.now).toBe(2.5);
    sim.runSync(10);
    expect(ran).toEqual([1, 2, 3, 4]);
    expect(sim.now).toBe(10);
  });

  it('reports a deadlock instead of hanging', async () => {
    const sim = new Simulation();
    const never = sim.process(() => new Promise<void>(() => undefined));
    await expect(sim.runUntilSettled(never)).rejects.toThrow(/deadlock/);
  });

  it('serves concurrent waiters with one driver', async () => {
    const sim = new Simulation();
    const a = sim.process(async () => {
      await sim.timeout(5);
      return sim.now;
    });
    const b = sim.process(async () => {
      await sim.timeout(2);
      return sim.now;
    });
    expect(await Promise.all([sim.runUntilSettled(a), sim.runUntilSettled(b)])).toEqual([5, 2]);
  });

  it('refuses bad delays and priorities by name', () => {
    const sim = new Simulation();
    expect(() => sim.schedule(-1, () => undefined)).toThrow(/delay_s must be a finite number >= 0, got -1/);
    expect(() => sim.schedule(Number.NaN, () => undefined)).toThrow(/delay_s/);
    expect(() => sim.schedule(1, () => undefined, 0.5)).toThrow(/priority must be an integer/);
    expect(() => new Simulation({ start_s: Number.NaN })).toThrow(/start_s/);
  });

  it('paces virtual time against the wall clock, and not at max speed', async () => {
    const run = async (speed: number | 'max') => {
      const sim = new Simulation();
      sim.schedule(0.2, () => undefined);
      const t0 = performance.now();
      await sim.run(Infinity, { speed });
      return performance.now() - t0;
    };
    // 0.2 s of virtual time at speed 10 is 20 ms of wall time at least; unpaced is not held back.
    expect(await run(10)).toBeGreaterThanOrEqual(15);
    await expect(new Simulation().run(1, { speed: 0 })).rejects.toThrow(/speed/);
  });

  it('a paced run can be aborted', async () => {
    const sim = new Simulation();
    sim.schedule(100, () => undefined);
    const ctl = new AbortController();
    const running = sim.run(Infinity, { speed: 1, signal: ctl.signal });
    ctl.abort();
    await expect(running).rejects.toThrow();
  });
});

describe('Resource', () => {
  test.prop([fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 3 })])(
    'never exceeds its capacity and serves first come, first served',
    async (durations, capacity) => {
      const sim = new Simulation();
      const res = new Resource(sim, 'beam', capacity);
      const started: number[] = [];
      let peak = 0;
      const jobs = durations.map((d, i) =>
        sim.process(() =>
          res.use(async () => {
            started.push(i);
            peak = Math.max(peak, res.inUse);
            await sim.timeout(d);
          }, `job${i}`),
        ),
      );
      await sim.runUntilSettled(Promise.all(jobs));
      expect(peak).toBeLessThanOrEqual(capacity);
      expect(started).toEqual(durations.map((_, i) => i));
      expect(res.inUse).toBe(0);
    },
  );

  it('says who holds it, and releases when the job throws', async () => {
    const sim = new Simulation();
    const res = new Resource(sim, 'beam');
    const release = await res.acquire('client-a');
    expect(res.holder).toBe('client-a');
    const waiting = res.use(async () => res.holder, 'client-b');
    expect(res.queued).toBe(1);
    release();
    expect(await waiting).toBe('client-b');
    await expect(res.use(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(res.inUse).toBe(0);
  });
});

describe('TelemetryBus', () => {
  it('streams typed records to subscribers', async () => {
    const bus = new TelemetryBus<{ n: number }>();
    const all = firstValueFrom(bus.records$.pipe(toArray()));
    bus.emit({ n: 1 });
    bus.emit({ n: 2 });
    bus.complete();
    expect(await all).toEqual([{ n: 1 }, { n: 2 }]);
  });
});
