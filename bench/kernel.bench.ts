// The hold model (a classic event-set benchmark): keep 1000 events pending; repeatedly pop the
// earliest and schedule a new one an exponential delay later. Our kernel against simjs, same run.
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { Simulation } from '../src/events/index.js';
import { Rng } from '../src/protocol/random.js';

const PENDING = 1000;
const EVENTS = 2_000_000;
const REPEATS = 5;

const rng = new Rng('hold');
const delays = Float64Array.from({ length: 1 << 16 }, () => -Math.log(1 - rng.uniform()));
const MASK = delays.length - 1;

function holdOurs(): number {
  const sim = new Simulation();
  let i = 0;
  let fired = 0;
  const hold = () => {
    fired++;
    if (fired <= EVENTS) sim.schedule(delays[i++ & MASK]!, hold);
  };
  for (let k = 0; k < PENDING; k++) sim.schedule(delays[i++ & MASK]!, hold);
  const t0 = performance.now();
  sim.runSync();
  return fired / ((performance.now() - t0) / 1000);
}

interface SimjsEntity {
  setTimer(d: number): { done(cb: () => void, ctx?: object): unknown };
}
type SimjsModule = { Sim: new () => { addEntity(k: unknown): unknown; simulate(end: number): void }; Entity: new (...args: unknown[]) => SimjsEntity };
// simjs ships a browserify bundle that exports nothing under Node; it publishes itself on `window`.
function loadSimjs(): SimjsModule {
  const g = globalThis as { window?: { Sim?: SimjsModule } };
  const had = 'window' in g;
  g.window ??= {};
  createRequire(import.meta.url)('simjs');
  const mod = g.window.Sim!;
  if (!had) delete g.window;
  return mod;
}
const simjs = loadSimjs();

function holdSimjs(): number {
  const sim = new simjs.Sim();
  let i = 0;
  let fired = 0;
  class Holder extends simjs.Entity {
    start() {
      const self = this;
      const again = () => {
        fired++;
        if (fired <= EVENTS) self.setTimer(delays[i++ & MASK]!).done(again);
      };
      for (let k = 0; k < PENDING; k++) this.setTimer(delays[i++ & MASK]!).done(again);
    }
  }
  sim.addEntity(Holder);
  const t0 = performance.now();
  sim.simulate(Infinity);
  return fired / ((performance.now() - t0) / 1000);
}

async function processRate(): Promise<number> {
  const sim = new Simulation();
  const N = 20_000;
  let i = 0;
  const procs = Array.from({ length: 100 }, () =>
    sim.process(async () => {
      for (let k = 0; k < N / 100; k++) await sim.timeout(delays[i++ & MASK]!);
    }),
  );
  const t0 = performance.now();
  await sim.runUntilSettled(Promise.all(procs));
  return N / ((performance.now() - t0) / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (r: number) => `${(r / 1e6).toFixed(2)} M events/s`;

export default async function (): Promise<void> {
  holdOurs();
  holdSimjs();
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    ours.push(holdOurs());
    theirs.push(holdSimjs());
  }
  const a = median(ours);
  const b = median(theirs);
  console.log(`hold model, ${PENDING} pending, ${EVENTS / 1e6} M events, median of ${REPEATS}:`);
  console.log(`  stem-twin kernel  ${fmt(a)}   (target >= 3 M events/s: ${a >= 3e6 ? 'PASS' : 'FAIL'})`);
  console.log(`  simjs             ${fmt(b)}`);
  console.log(`  ratio             ${(a / b).toFixed(2)}x   (target >= 3x: ${a / b >= 3 ? 'PASS' : 'FAIL'})`);
  console.log(`  async processes   ${(await processRate() / 1e3).toFixed(1)} k resumptions/s (await sim.timeout, informational)`);
}
