import { EventHeap } from './heap.js';
import { Pacer, type Pacing } from './pacing.js';

export type { Pacing } from './pacing.js';

/** A scheduled callback; `cancel()` takes it out of the queue. */
export interface ScheduledEvent {
  readonly time: number;
  readonly priority: number;
  cancel(): boolean;
}

/** Priorities are small integers; with the insertion sequence they form one exact tie key. */
const PRIORITY_LIMIT = 1000;
const SEQ_SPAN = 2 ** 40;

const FREE = 0;
const PENDING = 1;
const CANCELLED = 2;

class EventHandle implements ScheduledEvent {
  constructor(
    private readonly sim: Simulation,
    readonly slot: number,
    readonly generation: number,
    readonly time: number,
    readonly priority: number,
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
  private readonly heap = new EventHeap();
  // Event slots: the heap holds slot numbers; a slot is reused once its event has run.
  private callbacks: ((() => void) | undefined)[] = [];
  private state = new Uint8Array(1024);
  private resumes = new Uint8Array(1024);
  private generation = new Uint32Array(1024);
  private free: number[] = [];
  private clock: number;
  private seq = 0;
  /** Cancelled events still in the heap. */
  private cancelledInHeap = 0;
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
    return this.heap.size - this.cancelledInHeap;
  }

  /** Time of the next event, or Infinity. */
  peek(): number {
    this.skipCancelled();
    return this.heap.topTime();
  }

  schedule(delay_s: number, callback: () => void, priority = 0): ScheduledEvent {
    const slot = this.enqueue(delay_s, callback, priority, false);
    return new EventHandle(this, slot, this.generation[slot]!, this.clock + delay_s, priority);
  }

  /** Takes a scheduled event out of the queue; false if it already ran or was cancelled. */
  cancel(event: ScheduledEvent): boolean {
    if (!(event instanceof EventHandle) || this.generation[event.slot] !== event.generation || this.state[event.slot] !== PENDING) return false;
    this.state[event.slot] = CANCELLED;
    this.cancelledInHeap++;
    return true;
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
    this.skipCancelled();
    if (this.heap.size === 0) return false;
    this.fireNext();
    return true;
  }

  /** Runs callback events up to `until_s` (inclusive) as fast as possible, without draining processes. */
  runSync(until_s = Infinity): void {
    const heap = this.heap;
    const state = this.state;
    while (heap.size > 0) {
      const time = heap.topTime();
      if (time > until_s) break;
      const slot = heap.pop();
      if (state[slot] === CANCELLED) {
        this.release(slot);
        this.cancelledInHeap--;
        continue;
      }
      const callback = this.callbacks[slot]!;
      this.release(slot);
      this.clock = time;
      callback();
    }
    if (until_s !== Infinity && until_s > this.clock) this.clock = until_s;
  }

  /** Runs events up to `until_s`, letting resumed processes finish before the next pop; paced if asked. */
  async run(until_s = Infinity, pacing?: Pacing): Promise<void> {
    const pacer = new Pacer(pacing, this.clock);
    for (;;) {
      const t = this.peek();
      if (t === Infinity || t > until_s) break;
      await pacer.waitUntil(t);
      if (this.fireNext()) await drainMicrotasks();
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
      const t = this.peek();
      if (t === Infinity) {
        await drainMicrotasks();
        if (this.peek() === Infinity) return;
        continue;
      }
      await pacer.waitUntil(t);
      // Pacing waits let other callers schedule earlier events: fire whatever is due first.
      if (this.fireNext()) await drainMicrotasks();
    }
  }

  /** Pops and runs the earliest live event; true when it resumed an async process. */
  private fireNext(): boolean {
    this.skipCancelled();
    const time = this.heap.topTime();
    const slot = this.heap.pop();
    if (slot < 0) return false;
    const callback = this.callbacks[slot]!;
    const resumes = this.resumes[slot] === 1;
    this.release(slot);
    this.clock = time;
    callback();
    return resumes;
  }

  private skipCancelled(): void {
    const heap = this.heap;
    while (heap.size > 0 && this.state[heap.topSlot()] === CANCELLED) {
      this.release(heap.pop());
      this.cancelledInHeap--;
    }
  }

  private release(slot: number): void {
    this.callbacks[slot] = undefined;
    this.state[slot] = FREE;
    this.generation[slot]!++;
    this.free.push(slot);
  }

  private enqueue(delay_s: number, callback: () => void, priority: number, resumes: boolean): number {
    if (!(delay_s >= 0) || delay_s === Infinity) throw new RangeError(`delay_s must be a finite number >= 0, got ${delay_s}`);
    if (!Number.isInteger(priority) || Math.abs(priority) > PRIORITY_LIMIT) throw new RangeError(`priority must be an integer from -${PRIORITY_LIMIT} to ${PRIORITY_LIMIT}, got ${priority}`);
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.callbacks.length;
      this.callbacks.push(undefined);
      if (slot === this.state.length) this.growSlots();
    }
    this.callbacks[slot] = callback;
    this.state[slot] = PENDING;
    this.resumes[slot] = resumes ? 1 : 0;
    this.heap.push(this.clock + delay_s, (priority + PRIORITY_LIMIT) * SEQ_SPAN + this.seq++, slot);
    return slot;
  }

  private growSlots(): void {
    const n = this.state.length * 2;
    const state = new Uint8Array(n);
    state.set(this.state);
    const resumes = new Uint8Array(n);
    resumes.set(this.resumes);
    const generation = new Uint32Array(n);
    generation.set(this.generation);
    [this.state, this.resumes, this.generation] = [state, resumes, generation];
  }
}
