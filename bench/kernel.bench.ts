// The hold model (a classic event-set benchmark): keep 1000 events pending; repeatedly pop the
// earliest and schedule a new one an exponential(1) delay later. Our kernel against simjs, in the
// same run, alternating, median of several repetitions.
//
// Rates are events per CPU second of this process (user + system, GC threads included), with the
// wall-clock rate beside them: the machine is shared, and CPU time is what the other loads on it
// do not steal. PASS/FAIL is judged on the CPU-time figures.
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Simulation } from '../src/events/index.js';
import { Rng } from '../src/protocol/random.js';

const PENDING = 1000;
const EVENTS = 3_000_000;
const REPEATS = 5;
const TARGET_RATE = 3e6;
const TARGET_RATIO = 3;

// Delays drawn up front so that the generator's cost does not dominate the event cost.
const rng = new Rng('kernel-hold');
const delays_s = new Float64Array(1 << 16);
for (let k = 0; k < delays_s.length; k++) delays_s[k] = -Math.log(1 - rng.uniform());
const MASK = delays_s.length - 1;

interface Rate {
  cpu: number;
  wall: number;
}

/** Times `body`, which runs `events` events, in CPU and wall seconds. */
function timed(events: () => number, body: () => void): Rate {
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  body();
  const wall_s = (performance.now() - wall0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const n = events();
  return { cpu: n / ((cpu.user + cpu.system) / 1e6), wall: n / wall_s };
}

function holdOurs(): Rate {
  const sim = new Simulation();
  let i = 0;
  let fired = 0;
  const hold = () => {
    fired++;
    if (fired <= EVENTS) sim.schedule(delays_s[i++ & MASK]!, hold);
  };
  for (let k = 0; k < PENDING; k++) sim.schedule(delays_s[i++ & MASK]!, hold);
  const rate = timed(() => fired, () => sim.runSync());
  if (fired !== EVENTS + PENDING) throw new Error(`hold model (ours): ran ${fired} events, expected ${EVENTS + PENDING}`);
  return rate;
}

interface SimjsRequest {
  done(callback: () => void): SimjsRequest;
}
interface SimjsEntity {
  setTimer(duration: number): SimjsRequest;
}
interface SimjsModule {
  Sim: new () => { addEntity(kind: unknown): unknown; simulate(endTime: number): void };
  Entity: new (...args: never[]) => SimjsEntity;
}

// simjs ships a browserify bundle that exports nothing under Node; it publishes itself on `window`.
function loadSimjs(): SimjsModule {
  const g = globalThis as { window?: { Sim?: SimjsModule } };
  const had = 'window' in g;
  g.window ??= {};
  createRequire(import.meta.url)('simjs');
  const mod = g.window.Sim;
  if (!had) delete g.window;
  if (!mod) throw new Error('simjs did not publish window.Sim');
  return mod;
}

/** The same hold model the idiomatic simjs way: an entity whose timers re-arm themselves. */
function holdSimjs(simjs: SimjsModule): Rate {
  const sim = new simjs.Sim();
  let i = 0;
  let fired = 0;
  class Holder extends simjs.Entity {
    start(): void {
      const again = () => {
        fired++;
        if (fired <= EVENTS) this.setTimer(delays_s[i++ & MASK]!).done(again);
      };
      for (let k = 0; k < PENDING; k++) this.setTimer(delays_s[i++ & MASK]!).done(again);
    }
  }
  sim.addEntity(Holder);
  const rate = timed(() => fired, () => sim.simulate(Infinity));
  if (fired !== EVENTS + PENDING) throw new Error(`hold model (simjs): ran ${fired} events, expected ${EVENTS + PENDING}`);
  return rate;
}

/** Async processes, each `await sim.timeout(dt)` in a loop: one macrotask drain per resumption. */
async function processRate(): Promise<Rate> {
  const sim = new Simulation();
  const RESUMPTIONS = 100_000;
  const PROCESSES = 100;
  let i = 0;
  const procs = Array.from({ length: PROCESSES }, () =>
    sim.process(async () => {
      for (let k = 0; k < RESUMPTIONS / PROCESSES; k++) await sim.timeout(delays_s[i++ & MASK]!);
    }),
  );
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  await sim.runUntilSettled(Promise.all(procs));
  const wall_s = (performance.now() - wall0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { cpu: RESUMPTIONS / ((cpu.user + cpu.system) / 1e6), wall: RESUMPTIONS / wall_s };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const mega = (r: number) => `${(r / 1e6).toFixed(2)} M/s`;
const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');

export default async function (): Promise<void> {
  const simjs = loadSimjs();
  // Warm-up: both JITs settled before anything is timed.
  holdOurs();
  holdSimjs(simjs);
  const ours: Rate[] = [];
  const theirs: Rate[] = [];
  for (let r = 0; r < REPEATS; r++) {
    ours.push(holdOurs());
    theirs.push(holdSimjs(simjs));
  }
  const ratios = ours.map((o, r) => o.cpu / theirs[r]!.cpu);
  const a = median(ours.map((o) => o.cpu));
  const b = median(theirs.map((t) => t.cpu));
  const ratio = median(ratios);
  console.log(`hold model: ${PENDING} pending, ${EVENTS / 1e6} M events per run, alternating, median of ${REPEATS} (load average ${loadavg()[0]!.toFixed(1)} on this machine)`);
  console.log(`  stem-twin kernel (runSync)  ${mega(a)} per CPU s   (wall ${mega(median(ours.map((o) => o.wall)))})   target >= ${TARGET_RATE / 1e6} M/s: ${verdict(a >= TARGET_RATE)}`);
  console.log(`  simjs 2.0.3 (setTimer)      ${mega(b)} per CPU s   (wall ${mega(median(theirs.map((t) => t.wall)))})`);
  console.log(`  ratio (median of paired)    ${ratio.toFixed(2)}x   target >= ${TARGET_RATIO}x: ${verdict(ratio >= TARGET_RATIO)}`);
  await processRate();
  const p = await processRate();
  console.log(`  async processes             ${(p.cpu / 1e3).toFixed(0)} k resumptions per CPU s (wall ${(p.wall / 1e3).toFixed(0)} k/s; await sim.timeout, informational)`);
}
