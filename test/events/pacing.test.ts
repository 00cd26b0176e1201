import { describe, expect, it } from 'vitest';
import { Simulation } from '../../src/events/index.js';

// Timing here is checked only as lower bounds with slack (a paced run must not be faster than its
// pace); anything that must happen "soon" is made to end the test itself, so a failure shows as
// a hang caught by the test timeout, never as a flaky wall-clock comparison.
const TIMER_SLACK_MS = 3;
/** Tests that must end soon fail by this timeout if they do not (the far events are 100 s or more away). */
const SOON_MS = 5_000;

describe('pacing', () => {
  it('fires each event no earlier than its wall time at the given speed, in order', async () => {
    const sim = new Simulation();
    const t0 = performance.now();
    const fired: { t: number; wall_ms: number }[] = [];
    for (const t of [0.05, 0.1, 0.1, 0.2]) sim.schedule(t, () => fired.push({ t: sim.now, wall_ms: performance.now() - t0 }));
    await sim.run(Infinity, { speed: 10 });
    expect(fired.map((f) => f.t)).toEqual([0.05, 0.1, 0.1, 0.2]);
    for (const f of fired) expect(f.wall_ms).toBeGreaterThanOrEqual((f.t / 10) * 1000 - TIMER_SLACK_MS);
    for (let i = 1; i < fired.length; i++) expect(fired[i]!.wall_ms).toBeGreaterThanOrEqual(fired[i - 1]!.wall_ms);
  });

  it('at speed 1000 a one-second span takes at least about a millisecond; unpaced it is not held back', async () => {
    const paced = new Simulation();
    paced.schedule(1, () => undefined);
    const t0 = performance.now();
    await paced.run(Infinity, { speed: 1000 });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1 - TIMER_SLACK_MS / 3);
    const unpaced = new Simulation();
    unpaced.schedule(1e6, () => undefined);
    await unpaced.run(Infinity, { speed: 'max' }); // a million virtual seconds: would hang if paced
    expect(unpaced.now).toBe(1e6);
  });

  it('a paced run with a horizon waits out the idle span and ends on it', async () => {
    const sim = new Simulation();
    const t0 = performance.now();
    await sim.run(0.05, { speed: 1 });
    expect(sim.now).toBe(0.05);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(50 - TIMER_SLACK_MS);
  });

  it('an earlier event scheduled during a long sleep wakes the paced run', { timeout: SOON_MS }, async () => {
    const sim = new Simulation();
    const ctl = new AbortController();
    const log: string[] = [];
    sim.schedule(1000, () => log.push('far'));
    const running = sim.run(Infinity, { speed: 1, signal: ctl.signal });
    // The run now sleeps toward t = 1000 s; this event must not wait for that.
    sim.schedule(0.01, () => {
      log.push(`near @${sim.now}`);
      ctl.abort(new Error('stop here'));
    });
    await expect(running).rejects.toThrow('stop here');
    expect(log).toEqual(['near @0.01']);
    expect(sim.pending).toBe(1);
  });

  it('aborting a paced run rejects it with the abort reason, even mid-sleep', { timeout: SOON_MS }, async () => {
    const sim = new Simulation();
    sim.schedule(100, () => undefined);
    const ctl = new AbortController();
    const running = sim.run(Infinity, { speed: 1, signal: ctl.signal });
    setTimeout(() => ctl.abort(), 5);
    await expect(running).rejects.toThrow(/abort/i);
    expect(sim.now).toBe(0);
    await expect(sim.run(Infinity, { speed: 1, signal: ctl.signal })).rejects.toThrow(/abort/i);
  });

  it('aborting the pacing of runUntilSettled finishes the awaited process at full speed', { timeout: SOON_MS }, async () => {
    const sim = new Simulation();
    const ctl = new AbortController();
    const p = sim.process(async () => {
      await sim.timeout(1000);
      return sim.now;
    });
    setTimeout(() => ctl.abort(), 5);
    expect(await sim.runUntilSettled(p, { speed: 1, signal: ctl.signal })).toBe(1000);
  });

  it('a second client is not held behind a paced sleep toward a later event', { timeout: SOON_MS }, async () => {
    const sim = new Simulation();
    const ctl = new AbortController();
    const pacing = { speed: 1, signal: ctl.signal };
    const slow = sim.process(async () => {
      await sim.timeout(1000);
      return 'slow';
    });
    const slowDone = sim.runUntilSettled(slow, pacing);
    await new Promise((r) => setTimeout(r, 5)); // the driver is asleep toward t = 1000 s
    const quick = sim.process(async () => {
      await sim.timeout(0.01);
      return sim.now;
    });
    expect(await sim.runUntilSettled(quick, pacing)).toBe(0.01);
    ctl.abort();
    expect(await slowDone).toBe('slow');
  });

  it('refuses a speed that is not a positive number or max', async () => {
    const sim = new Simulation();
    await expect(sim.run(1, { speed: 0 })).rejects.toThrow(/pacing.speed must be a finite number > 0 or 'max', got 0/);
    await expect(sim.run(1, { speed: -2 })).rejects.toThrow(RangeError);
    await expect(sim.run(1, { speed: Number.NaN })).rejects.toThrow(/pacing.speed/);
    await expect(sim.runUntilSettled(sim.process(async () => 1), { speed: Infinity })).rejects.toThrow(/pacing.speed/);
    // Nothing is left half started: a good call goes through.
    expect(await sim.runUntilSettled(sim.process(async () => 2), { speed: 'max' })).toBe(2);
  });
});
