import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { Simulation, type ScheduledEvent } from '../../src/events/index.js';

/**
 * A random event program: initial events, and rules that an event applies when it fires
 * (event number g applies rule g mod rules.length): schedule children, cancel an earlier event.
 * Few distinct delays and priorities, so equal times and equal priorities are common.
 */
const spec = fc.record({ delay: fc.integer({ min: 0, max: 8 }).map((d) => d / 4), priority: fc.integer({ min: -2, max: 2 }) });
const program = fc.record({
  initial: fc.array(spec, { minLength: 1, maxLength: 40 }),
  rules: fc.array(fc.record({ children: fc.array(spec, { maxLength: 3 }), cancelBack: fc.option(fc.integer({ min: 1, max: 12 }), { nil: undefined }) }), {
    minLength: 1,
    maxLength: 10,
  }),
});
type Program = typeof program extends fc.Arbitrary<infer P> ? P : never;

const MAX_EVENTS = 300;

interface Trace {
  fired: string[];
  cancels: boolean[];
}

/** The reference: a list searched for the earliest (time, priority, scheduling order) event. */
function reference(p: Program): Trace {
  const events: { time: number; priority: number; live: boolean }[] = [];
  const fired: string[] = [];
  const cancels: boolean[] = [];
  let now = 0;
  const add = (s: { delay: number; priority: number }) => events.push({ time: now + s.delay, priority: s.priority, live: true });
  p.initial.forEach(add);
  for (;;) {
    let g = -1;
    events.forEach((e, i) => {
      if (e.live && (g < 0 || e.time < events[g]!.time || (e.time === events[g]!.time && e.priority < events[g]!.priority))) g = i;
    });
    if (g < 0) break;
    events[g]!.live = false;
    now = events[g]!.time;
    const rule = p.rules[g % p.rules.length]!;
    for (const c of rule.children) if (events.length < MAX_EVENTS) add(c);
    if (rule.cancelBack !== undefined) {
      const target = events[events.length - rule.cancelBack];
      cancels.push(target?.live ?? false);
      if (target) target.live = false;
    }
    fired.push(`${g}@${now} pending ${events.filter((e) => e.live).length}`);
  }
  return { fired, cancels };
}

type Drive = 'runSync' | 'step' | 'chunks' | 'run';

/** The same program on the kernel, driven one of several ways. */
async function kernel(p: Program, drive: Drive): Promise<Trace> {
  const sim = new Simulation();
  const handles: ScheduledEvent[] = [];
  const fired: string[] = [];
  const cancels: boolean[] = [];
  let last = -Infinity;
  const add = (s: { delay: number; priority: number }) => {
    const g = handles.length;
    const h = sim.schedule(s.delay, () => fire(g), s.priority);
    expect(h.time).toBe(sim.now + s.delay);
    expect(h.priority).toBe(s.priority);
    handles.push(h);
  };
  const fire = (g: number) => {
    expect(sim.now).toBeGreaterThanOrEqual(last); // the clock never goes back
    last = sim.now;
    const rule = p.rules[g % p.rules.length]!;
    for (const c of rule.children) if (handles.length < MAX_EVENTS) add(c);
    if (rule.cancelBack !== undefined) {
      const target = handles[handles.length - rule.cancelBack];
      cancels.push(target ? target.cancel() : false);
    }
    fired.push(`${g}@${sim.now} pending ${sim.pending}`);
  };
  p.initial.forEach(add);
  if (drive === 'runSync') sim.runSync();
  else if (drive === 'step') {
    while (sim.step());
  } else if (drive === 'chunks') {
    for (let until = 0; sim.pending > 0; until += 0.5) sim.runSync(until);
  } else await sim.run();
  expect(sim.pending).toBe(0);
  expect(sim.peek()).toBe(Infinity);
  return { fired, cancels };
}

describe('Simulation event order', () => {
  test.prop([program, fc.constantFrom<Drive>('runSync', 'step', 'chunks', 'run')])(
    'matches the (time, priority, scheduling order) reference, cancels included, however it is driven',
    async (p, drive) => {
      expect(await kernel(p, drive)).toEqual(reference(p));
    },
  );

  test.prop([fc.array(fc.record({ delay: fc.integer({ min: 0, max: 20 }).map((d) => d / 4), priority: fc.integer({ min: -3, max: 3 }), cancel: fc.boolean() }), { maxLength: 200 })])(
    'cancel removes exactly the cancelled events, and pending counts the rest',
    (plan) => {
      const sim = new Simulation();
      const ran: number[] = [];
      const handles = plan.map((p, i) => sim.schedule(p.delay, () => ran.push(i), p.priority));
      plan.forEach((p, i) => p.cancel && expect(handles[i]!.cancel()).toBe(true));
      expect(sim.pending).toBe(plan.filter((p) => !p.cancel).length);
      sim.runSync();
      const expected = plan
        .map((p, i) => ({ ...p, i }))
        .filter((p) => !p.cancel)
        .sort((a, b) => a.delay - b.delay || a.priority - b.priority || a.i - b.i)
        .map((p) => p.i);
      expect(ran).toEqual(expected);
      // A cancelled or finished event cannot be cancelled again.
      handles.forEach((h) => expect(sim.cancel(h)).toBe(false));
      expect(sim.pending).toBe(0);
    },
  );
});

describe('Simulation basics', () => {
  it('starts at start_s and runs equal times first in, first out', () => {
    const sim = new Simulation({ start_s: 100 });
    const log: string[] = [];
    sim.schedule(1, () => log.push('a'));
    sim.schedule(1, () => log.push('b'));
    sim.schedule(1, () => log.push('urgent'), -1);
    sim.schedule(0.5, () => log.push('early'));
    sim.runSync();
    expect(log).toEqual(['early', 'urgent', 'a', 'b']);
    expect(sim.now).toBe(101);
  });

  it('runSync(until) stops at the horizon, runs events exactly at it, and moves the clock there', () => {
    const sim = new Simulation();
    const ran: number[] = [];
    for (const t of [1, 2, 3, 4]) sim.schedule(t, () => ran.push(t));
    sim.runSync(2);
    expect(ran).toEqual([1, 2]);
    sim.runSync(2.5);
    expect(sim.now).toBe(2.5);
    expect(sim.peek()).toBe(3);
    sim.runSync();
    expect(ran).toEqual([1, 2, 3, 4]);
    expect(sim.step()).toBe(false);
  });

  it('step() runs one event at a time and skips cancelled ones', () => {
    const sim = new Simulation();
    const ran: number[] = [];
    const a = sim.schedule(1, () => ran.push(1));
    sim.schedule(2, () => ran.push(2));
    a.cancel();
    expect(sim.pending).toBe(1);
    expect(sim.step()).toBe(true);
    expect(ran).toEqual([2]);
    expect(sim.now).toBe(2);
    expect(sim.step()).toBe(false);
  });

  it('an event can schedule, cancel and count from inside its own callback', () => {
    const sim = new Simulation();
    const log: string[] = [];
    let later: ScheduledEvent | undefined;
    sim.schedule(1, () => {
      expect(sim.pending).toBe(1); // itself excluded, `later` included
      sim.schedule(0, () => log.push('zero-delay child'));
      expect(later!.cancel()).toBe(true);
      expect(sim.pending).toBe(1);
      expect(sim.peek()).toBe(1);
      log.push('parent');
    });
    later = sim.schedule(5, () => log.push('never'));
    sim.runSync();
    expect(log).toEqual(['parent', 'zero-delay child']);
  });

  it('a throwing callback propagates, and the queue stays consistent after it', () => {
    const sim = new Simulation();
    const ran: number[] = [];
    sim.schedule(1, () => {
      throw new Error('handler failed');
    });
    sim.schedule(2, () => ran.push(2));
    expect(() => sim.runSync()).toThrow('handler failed');
    expect(sim.now).toBe(1);
    expect(sim.pending).toBe(1);
    sim.runSync();
    expect(ran).toEqual([2]);
  });

  it('handles from another simulation, or stale after their slot is reused, do not cancel anything', () => {
    const a = new Simulation();
    const b = new Simulation();
    const ha = a.schedule(1, () => undefined);
    const ranB: number[] = [];
    b.schedule(1, () => ranB.push(1));
    expect(b.cancel(ha)).toBe(false);
    a.runSync();
    const fresh = a.schedule(1, () => undefined); // reuses the slot `ha` had
    expect(ha.cancel()).toBe(false);
    expect(a.pending).toBe(1);
    expect(fresh.cancel()).toBe(true);
    b.runSync();
    expect(ranB).toEqual([1]);
    expect(b.cancel({ time: 0, priority: 0, cancel: () => true })).toBe(false);
  });

  it('refuses bad delays, priorities, horizons and start times, naming the argument', () => {
    const sim = new Simulation();
    const noop = () => undefined;
    expect(() => sim.schedule(-1, noop)).toThrow(RangeError);
    expect(() => sim.schedule(-1, noop)).toThrow(/delay_s must be a finite number >= 0, got -1/);
    expect(() => sim.schedule(Number.NaN, noop)).toThrow(/delay_s .* got NaN/);
    expect(() => sim.schedule(Infinity, noop)).toThrow(/delay_s/);
    expect(() => sim.timeout(-0.5)).toThrow(/delay_s/);
    expect(() => sim.schedule(1, noop, 0.5)).toThrow(/priority must be an integer/);
    expect(() => sim.schedule(1, noop, -1001)).toThrow(/priority/);
    expect(() => sim.timeout(1, 2000)).toThrow(/priority/);
    expect(() => sim.schedule(1, 'x' as unknown as () => void)).toThrow(/callback must be a function/);
    sim.runSync(5);
    expect(() => sim.runSync(4)).toThrow(/until_s must be a number >= now \(5 s\), got 4/);
    expect(() => sim.runSync(Number.NaN)).toThrow(/until_s/);
    expect(() => new Simulation({ start_s: Number.NaN })).toThrow(/start_s/);
    expect(sim.pending).toBe(0);
  });

  it('keeps order across many slots reused and the heap grown', () => {
    const sim = new Simulation();
    const times: number[] = [];
    // 3000 chains of events: far more than the initial 1024 slots.
    for (let c = 0; c < 3000; c++) {
      let left = 3;
      const hop = () => {
        times.push(sim.now);
        if (--left > 0) sim.schedule(((c * 37) % 11) / 8, hop);
      };
      sim.schedule((c % 13) / 4, hop);
    }
    sim.runSync();
    expect(times).toHaveLength(9000);
    for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThanOrEqual(times[i - 1]!);
  });
});
