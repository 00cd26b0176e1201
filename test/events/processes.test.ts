import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { Resource, Simulation } from '../../src/events/index.js';

/** Random process programs: start times, then steps of (some nested awaits, then a timeout). */
const step = fc.record({ depth: fc.integer({ min: 0, max: 4 }), delay: fc.integer({ min: 0, max: 4 }).map((d) => d / 2) });
const programs = fc.array(fc.record({ start: fc.integer({ min: 0, max: 3 }).map((s) => s / 2), steps: fc.array(step, { minLength: 1, maxLength: 4 }) }), {
  minLength: 1,
  maxLength: 8,
});
type Programs = typeof programs extends fc.Arbitrary<infer P> ? P : never;

/** Some awaits nested `depth` deep: work that a resumed process does before it next waits. */
async function nestedWork(depth: number): Promise<void> {
  if (depth === 0) return;
  await Promise.resolve();
  await nestedWork(depth - 1);
  await null;
}

/** Runs the programs as async-function processes, by run() or runUntilSettled; the log records the interleaving. */
async function asyncTrace(ps: Programs, drive: 'run' | 'settle'): Promise<string[]> {
  const sim = new Simulation();
  const log: string[] = [];
  let finished = 0;
  let allJoined!: () => void;
  const joined = new Promise<void>((r) => (allJoined = r));
  ps.forEach((p, i) =>
    sim.schedule(p.start, () => {
      void sim.process(async () => {
        log.push(`${i} start @${sim.now}`);
        for (const [j, s] of p.steps.entries()) {
          await nestedWork(s.depth);
          log.push(`${i}.${j} worked @${sim.now}`);
          await sim.timeout(s.delay);
          log.push(`${i}.${j} woke @${sim.now}`);
        }
        return i;
      }).then(() => {
        log.push(`${i} joined @${sim.now}`);
        if (++finished === ps.length) allJoined();
      });
    }),
  );
  if (drive === 'run') await sim.run();
  else await sim.runUntilSettled(joined);
  expect(finished).toBe(ps.length);
  return log;
}

/** The same programs as SimPy-style generator processes, resumed synchronously: the reference order. */
async function generatorTrace(ps: Programs): Promise<string[]> {
  const sim = new Simulation();
  const log: string[] = [];
  ps.forEach((p, i) =>
    sim.schedule(p.start, () => {
      void sim
        .processGenerator(
          (function* () {
            log.push(`${i} start @${sim.now}`);
            for (const [j, s] of p.steps.entries()) {
              log.push(`${i}.${j} worked @${sim.now}`);
              yield s.delay;
              log.push(`${i}.${j} woke @${sim.now}`);
            }
            return i;
          })(),
        )
        .then(() => log.push(`${i} joined @${sim.now}`));
    }),
  );
  await sim.run();
  return log;
}

describe('async processes', () => {
  test.prop([programs], { numRuns: 60 })(
    'interleave exactly as synchronously resumed generators do (SimPy order), the same on every run',
    async (ps) => {
      const a = await asyncTrace(ps, 'run');
      expect(a).toEqual(await generatorTrace(ps));
      expect(await asyncTrace(ps, 'run')).toEqual(a);
      expect(await asyncTrace(ps, 'settle')).toEqual(a);
    },
  );

  it('follow SimPy: urgent starts, FIFO at equal times, nested work done before the next event', async () => {
    // The SimPy 4 program this mirrors (its output is the expected log below):
    //   def car(env, name, d):
    //       log(f'{name} start'); yield env.timeout(d); log(f'{name} woke')
    //       yield from helper(name)          # logs '{name} helper', takes no time
    //       yield env.timeout(0); log(f'{name} end')
    //   env.timeout(1).callbacks.append(lambda _: (log('callback'), env.process(car(env, 'd', 0))))
    //   for name, d in [('a', 1), ('b', 1), ('c', 0)]: env.process(car(env, name, d))
    const sim = new Simulation();
    const log: string[] = [];
    const helper = async (name: string) => {
      await Promise.resolve();
      await (async () => {
        await Promise.resolve();
        log.push(`${name} helper @${sim.now}`);
      })();
    };
    const car = (name: string, d: number) =>
      sim.process(async () => {
        log.push(`${name} start @${sim.now}`);
        await sim.timeout(d);
        log.push(`${name} woke @${sim.now}`);
        await helper(name);
        await sim.timeout(0);
        log.push(`${name} end @${sim.now}`);
      });
    const cars: Promise<void>[] = [];
    sim.schedule(1, () => {
      log.push(`callback @${sim.now}`);
      cars.push(car('d', 0));
    });
    cars.push(car('a', 1), car('b', 1), car('c', 0));
    await sim.run();
    expect(log).toEqual([
      'a start @0',
      'b start @0',
      'c start @0',
      'c woke @0',
      'c helper @0',
      'c end @0',
      'callback @1',
      'd start @1', // urgent: before a and b, whose timeouts were queued first
      'a woke @1',
      'a helper @1',
      'b woke @1',
      'b helper @1',
      'd woke @1',
      'd helper @1',
      'a end @1',
      'b end @1',
      'd end @1',
    ]);
    await Promise.all(cars);
  });

  it('a finished process settles through an event, after events already due (SimPy Process event)', async () => {
    const sim = new Simulation();
    const log: string[] = [];
    const child = sim.process(async () => {
      await sim.timeout(1);
      sim.schedule(0, () => log.push('scheduled by the child just before it returned'));
      return 'child value';
    });
    const parent = sim.process(async () => {
      const v = await child;
      log.push(`parent got ${v} @${sim.now}`);
    });
    await sim.runUntilSettled(parent);
    expect(log).toEqual(['scheduled by the child just before it returned', 'parent got child value @1']);
  });

  it('a process whose body throws, synchronously or not, rejects with that error', async () => {
    const sim = new Simulation();
    const sync = sim.process((() => {
      throw new Error('sync failure');
    }) as () => Promise<void>);
    const late = sim.process(async () => {
      await sim.timeout(2);
      throw new Error('late failure');
    });
    await expect(sim.runUntilSettled(sync)).rejects.toThrow('sync failure');
    await expect(sim.runUntilSettled(late)).rejects.toThrow('late failure');
    expect(sim.now).toBe(2);
    expect(() => sim.process(42 as unknown as () => Promise<void>)).toThrow(/body must be a function/);
  });
});

describe('generator processes', () => {
  it('yield delays and promises, and get rejections and bad yields thrown in', async () => {
    const sim = new Simulation();
    const log: unknown[] = [];
    const done = sim.processGenerator(
      (function* () {
        yield 2;
        log.push(sim.now);
        const v = (yield sim.timeout(3).then(() => 7)) as number;
        log.push(v, sim.now);
        try {
          yield Promise.reject(new Error('refused'));
        } catch (e) {
          log.push((e as Error).message);
        }
        try {
          yield -1;
        } catch (e) {
          log.push((e as Error).message);
        }
        try {
          yield 'soon' as unknown as number;
        } catch (e) {
          log.push((e as Error).message);
        }
        return 'ok';
      })(),
    );
    expect(await sim.runUntilSettled(done)).toBe('ok');
    expect(log).toEqual([2, 7, 5, 'refused', 'delay_s must be a finite number >= 0, got -1', 'processGenerator: yield a delay in seconds or a promise, got soon']);
  });

  it('a generator that throws rejects its process', async () => {
    const sim = new Simulation();
    const failing = sim.processGenerator(
      (function* (): Generator<number, void, unknown> {
        yield 1;
        throw new Error('generator failed');
      })(),
    );
    await expect(sim.runUntilSettled(failing)).rejects.toThrow('generator failed');
    expect(sim.now).toBe(1);
  });
});

describe('runUntilSettled', () => {
  it('stops as soon as the promise settles, leaving later events queued', async () => {
    const sim = new Simulation();
    const ran: number[] = [];
    sim.schedule(3, () => ran.push(3));
    const p = sim.process(async () => {
      await sim.timeout(2);
      return sim.now;
    });
    expect(await sim.runUntilSettled(p)).toBe(2);
    expect(sim.now).toBe(2);
    expect(ran).toEqual([]);
    expect(sim.pending).toBe(1);
    expect(await sim.runUntilSettled(Promise.resolve('no events needed'))).toBe('no events needed');
    expect(sim.now).toBe(2);
  });

  it('reports a deadlock instead of hanging', async () => {
    const sim = new Simulation();
    const never = sim.process(() => new Promise<void>(() => undefined));
    await expect(sim.runUntilSettled(never)).rejects.toThrow(/deadlock: the event queue is empty at t = 0 s/);
    // A later call works again (a fresh driver).
    expect(await sim.runUntilSettled(sim.process(async () => 'after'))).toBe('after');
  });

  it('serves concurrent waiters with one driver, each returning when its own promise settles', async () => {
    const sim = new Simulation();
    const at = (d: number) =>
      sim.process(async () => {
        await sim.timeout(d);
        return sim.now;
      });
    const a = at(5);
    const b = at(2);
    const order: string[] = [];
    const ra = sim.runUntilSettled(a).then((v) => (order.push('a'), v));
    const rb = sim.runUntilSettled(b).then((v) => (order.push('b'), v));
    expect(await Promise.all([ra, rb])).toEqual([5, 2]);
    expect(order).toEqual(['b', 'a']);
  });

  it('passes a callback failure to the waiters', async () => {
    const sim = new Simulation();
    sim.schedule(1, () => {
      throw new Error('callback failed');
    });
    const p = sim.process(async () => sim.timeout(2));
    await expect(sim.runUntilSettled(p)).rejects.toThrow('callback failed');
  });
});

describe('run', () => {
  it('stops at the horizon, moves the clock there, and runs processes in order', async () => {
    const sim = new Simulation();
    const log: string[] = [];
    void sim.process(async () => {
      for (let k = 0; k < 4; k++) {
        await sim.timeout(1);
        log.push(`tick @${sim.now}`);
      }
    });
    await sim.run(2.5);
    expect(log).toEqual(['tick @1', 'tick @2']);
    expect(sim.now).toBe(2.5);
    await sim.run();
    expect(log).toEqual(['tick @1', 'tick @2', 'tick @3', 'tick @4']);
    await expect(sim.run(1)).rejects.toThrow(/until_s must be a number >= now/);
  });

  it('lets a process woken by a resource grant in a callback event finish before the next event', async () => {
    const sim = new Simulation();
    const res = new Resource(sim, 'beam');
    const log: string[] = [];
    const release = await res.acquire('first');
    void sim.process(async () => {
      await res.acquire('second');
      await nestedWork(3);
      log.push(`second holds it @${sim.now}`);
    });
    sim.schedule(1, () => release());
    sim.schedule(1, () => log.push('next event @1'));
    await sim.run();
    expect(log).toEqual(['second holds it @1', 'next event @1']);
  });

  it('lets a callback that settles a promise mark the resumption, so the waiter runs first', async () => {
    const sim = new Simulation();
    const log: string[] = [];
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    void sim.process(async () => {
      await gate;
      await nestedWork(2);
      log.push('through the gate');
    });
    sim.schedule(1, () => {
      open();
      sim.markProcessResumed();
    });
    sim.schedule(1, () => log.push('next event'));
    await sim.run();
    expect(log).toEqual(['through the gate', 'next event']);
  });
});
