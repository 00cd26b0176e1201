import { EventHeap, type HeapEvent } from './heap.js';
import { Pacer, type Pacing } from './pacing.js';

export type { Pacing } from './pacing.js';

/** A scheduled callback; `cancel()` takes it out of the queue. */
export interface ScheduledEvent {
  readonly time: number;
  readonly priority: number;
  cancel(): boolean;
}

class QueuedEvent implements HeapEvent, ScheduledEvent {
  index = -1;
  constructor(
    private readonly sim: Simulation,
    public time: number,
    public priority: number,
    public seq: number,
    public callback: () => void,
    /** True when the callback resumes a waiting async process (the run loop must let it finish). */
    public resumes: boolean,
  ) {}

  cancel(): boolean {
    return this.sim.cancel(this);
  }
}

/** A macrotask boundary: every pending microtask (a resumed process's continuation) has run. */
const drainMicrotasks = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The discrete-event kernel: an event queue on a binary heap ordered by (time, priority,
 * insertion sequence), a virtual clock, and processes.
 *
 * Processes are ordinary async functions (`await sim.timeout(dt)`) or generators that yield
 * delays (SimPy style). When an event resumes an async process, `run` waits for a macrotask
 * boundary before popping the next event, so the process runs fully to its next wait first:
 * the trace is the same on every run. Plain callback events need no such wait, and `runSync`
 * runs them as fast as the heap allows.
 */
export class Simulation {
  private readonly heap = new EventHeap<QueuedEvent>();
  private clock: number;
  private seq = 0;
  /** Promises some caller of runUntilSettled is waiting on; one driver loop serves them all. */
  private waiting = 0;
  private driver: Promise<void> | null = null;
  private driverPacing: Pacing | undefined;

  constructor(opts: { start_s?: number } = {}) {
    const start = opts.start_s ?? 0;
    if (!Number.isFinite(start)) throw new RangeError(`Simulation: start_s must be a finite number, got ${start}`);
    this.clock = start;
  }

  get now(): number {
    return this.clock;
  }

  get pending(): number {
    return this.heap.size;
  }

  /** Time of the next event, or Infinity. */
  peek(): number {
    return this.heap.peek()?.time ?? Infinity;
  }

  schedule(delay_s: number, callback: () => void, priority = 0): ScheduledEvent {
    return this.enqueue(delay_s, callback, priority, false);
  }

  cancel(event: ScheduledEvent): boolean {
    return event instanceof QueuedEvent ? this.heap.remove(event) : false;
  }

  /** Resolves when the clock reaches now + delay (for async processes). */
  timeout(delay_s: number, priority = 0): Promise<void> {
    return new Promise<void>((resolve) => {
      this.enqueue(delay_s, resolve, priority, true);
    });
  }

  /** Starts an async-function process now (at the current time, after events already due). */
  process<T>(body: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.enqueue(0, () => body().then(resolve, reject), 0, true);
    });
  }

  /**
   * Starts a generator process: it yields a delay in seconds (resumed synchronously when it
   * elapses) or a promise (resumed when that settles, with its value).
   */
  processGenerator<T>(gen: Generator<number | Promise<unknown>, T, unknown>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const advance = (input: unknown, error?: unknown) => {
        let r: IteratorResult<number | Promise<unknown>, T>;
        try {
          r = error === undefined ? gen.next(input) : gen.throw(error);
        } catch (e) {
          reject(e);
          return;
        }
        if (r.done) resolve(r.value);
        else if (typeof r.value === 'number') this.enqueue(r.value, () => advance(undefined), 0, false);
        else r.value.then((v) => advance(v), (e) => advance(undefined, e ?? new Error('generator process: awaited promise rejected')));
      };
      this.enqueue(0, () => advance(undefined), 0, false);
    });
  }

  /** Pops and runs one event; false when the queue is empty. */
  step(): boolean {
    const e = this.heap.pop();
    if (!e) return false;
    this.clock = e.time;
    e.callback();
    return true;
  }

  /** Runs callback events up to `until_s` (inclusive) as fast as possible, without draining processes. */
  runSync(until_s = Infinity): void {
    const heap = this.heap;
    for (;;) {
      const e = heap.peek();
      if (!e || e.time > until_s) break;
      heap.pop();
      this.clock = e.time;
      e.callback();
    }
    if (until_s !== Infinity && until_s > this.clock) this.clock = until_s;
  }

  /** Runs events up to `until_s`, letting resumed processes finish before the next pop; paced if asked. */
  async run(until_s = Infinity, pacing?: Pacing): Promise<void> {
    const pacer = new Pacer(pacing, this.clock);
    for (;;) {
      const e = this.heap.peek();
      if (!e || e.time > until_s) break;
      await pacer.waitUntil(e.time);
      await this.fire();
    }
    if (until_s !== Infinity && until_s > this.clock) {
      await pacer.waitUntil(until_s);
      this.clock = until_s;
    }
  }

  /**
   * Advances the clock until `p` settles and returns its outcome. Several callers may wait at
   * once (concurrent clients of one twin): a single driver loop pops events for all of them.
   * Rejects when the queue empties while `p` is still pending (nothing can ever settle it).
   */
  async runUntilSettled<T>(p: Promise<T>, pacing?: Pacing): Promise<T> {
    let settled = false;
    const watched = p.then(
      (v) => {
        settled = true;
        return v;
      },
      (e: unknown) => {
        settled = true;
        throw e;
      },
    );
    watched.catch(() => undefined);
    this.waiting++;
    try {
      if (!this.driver) {
        this.driverPacing = pacing;
        this.driver = this.drive().finally(() => {
          this.driver = null;
        });
      }
      while (!settled) {
        await Promise.race([watched.then(() => undefined, () => undefined), this.driver]);
        if (!settled && !this.driver) {
          // The driver stopped: the queue is empty. Give the promise one more chance to settle.
          await drainMicrotasks();
          if (!settled) throw new Error(`simulation deadlock: the event queue is empty at t = ${this.clock} s but the awaited process has not finished`);
        }
      }
      return await watched;
    } finally {
      this.waiting--;
    }
  }

  /** The driver: pops events while anyone waits and there is something to pop. */
  private async drive(): Promise<void> {
    const pacer = new Pacer(this.driverPacing, this.clock);
    while (this.waiting > 0) {
      const e = this.heap.peek();
      if (!e) {
        await drainMicrotasks();
        if (!this.heap.peek()) return;
        continue;
      }
      await pacer.waitUntil(e.time);
      await this.fire();
    }
  }

  private async fire(): Promise<void> {
    const e = this.heap.pop();
    if (!e) return;
    this.clock = e.time;
    e.callback();
    if (e.resumes) await drainMicrotasks();
  }

  private enqueue(delay_s: number, callback: () => void, priority: number, resumes: boolean): QueuedEvent {
    if (!(delay_s >= 0) || delay_s === Infinity) throw new RangeError(`delay_s must be a finite number >= 0, got ${delay_s}`);
    if (!Number.isFinite(priority)) throw new RangeError(`priority must be a finite number, got ${priority}`);
    const e = new QueuedEvent(this, this.clock + delay_s, priority, this.seq++, callback, resumes);
    this.heap.push(e);
    return e;
  }
}
