import { EventHeap } from './heap.js';
import { checkPacing, Pacer, type Pacing } from './pacing.js';

export type { Pacing } from './pacing.js';

/** A scheduled callback; `cancel()` takes it out of the queue. */
export interface ScheduledEvent {
  readonly time: number;
  readonly priority: number;
  cancel(): boolean;
}

/** Priorities are small integers; with the insertion sequence they form one exact tie key. */
export const PRIORITY_LIMIT = 1000;
/** Process starts come before every user priority at their time (SimPy's URGENT Initialize). */
const URGENT = -PRIORITY_LIMIT - 1;
/** 2^40 sequence numbers per priority: (2 * 1000 + 2) * 2^40 < 2^53 keeps the key exact. */
const SEQ_SPAN = 2 ** 40;

// What a slot holds. RESUME events settle a promise a process awaits (timeouts, process starts).
const FREE = 0;
const CALLBACK = 1;
const RESUME = 2;
const CANCELLED = 3;

class EventHandle implements ScheduledEvent {
  constructor(
    readonly sim: Simulation,
    readonly slot: number,
    readonly seq: number,
    readonly time: number,
    readonly priority: number,
  ) {}

  cancel(): boolean {
    return this.sim.cancel(this);
  }
}

function checkPriority(priority: number): void {
  if (!(Number.isInteger(priority) && priority >= -PRIORITY_LIMIT && priority <= PRIORITY_LIMIT)) {
    throw new RangeError(`priority must be an integer from -${PRIORITY_LIMIT} to ${PRIORITY_LIMIT}, got ${String(priority)}`);
  }
}

/** A macrotask boundary: once it resolves, every pending microtask (a resumed process's continuation) has run. */
const drainMicrotasks = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Why the runUntilSettled driver stopped. */
type DriverExit = 'idle' | 'empty';

/**
 * The discrete-event kernel (after SimPy's core): an event queue on a binary heap ordered by
 * (time, priority, insertion sequence), a virtual clock, and processes.
 *
 * Processes are async functions (`await sim.timeout(dt)`) or generators that yield delays. When
 * an event resumes an async process, `run` and `runUntilSettled` wait for a macrotask boundary
 * before popping the next event, so the process runs through all its chained awaits to its next
 * wait first: the trace is the same on every run. (A continuation that waits on something outside
 * the simulation, real I/O or a wall-clock timer, is not waited for.) Plain callback events need
 * no such wait, and `runSync` runs them as fast as the heap allows.
 */
export class Simulation {
  private readonly heap = new EventHeap();
  // Event slots: the heap holds slot numbers; a slot is reused once its event has run.
  private callbacks: ((() => void) | undefined)[] = [];
  private kind = new Uint8Array(1024);
  /** Insertion sequence of each slot's event: tells a live handle from a stale one after reuse. */
  private slotSeq = new Float64Array(1024);
  private freeSlots = new Int32Array(1024);
  private freeCount = 0;
  private clock: number;
  private seq = 0;
  /** Cancelled events still in the heap (lazy deletion). */
  private cancelledInHeap = 0;
  /**
   * The heap top is an event that has already been run; it stays until the callback schedules
   * its successor, which then replaces it in one sift (the usual case), or is popped after.
   */
  private topFired = false;
  /** Set while an event runs if it resumed a process (the loop then drains microtasks). */
  private woke = false;
  // A paced loop asleep until `sleepingFor_s`; scheduling anything earlier wakes it.
  private sleeper: Pacer | undefined;
  private sleepingFor_s = -Infinity;
  /** Callers of runUntilSettled still waiting; one driver loop serves them all. */
  private waiting = 0;
  private driver: Promise<DriverExit> | null = null;

  constructor(opts: { start_s?: number } = {}) {
    const start = opts.start_s ?? 0;
    if (typeof start !== 'number' || !Number.isFinite(start)) throw new RangeError(`Simulation: start_s must be a finite number, got ${String(start)}`);
    this.clock = start;
  }

  /** Virtual time, seconds. */
  get now(): number {
    return this.clock;
  }

  /** Events in the queue, cancelled ones excluded. */
  get pending(): number {
    return this.heap.size - this.cancelledInHeap - (this.topFired ? 1 : 0);
  }

  /** Time of the next live event, or Infinity. */
  peek(): number {
    this.settleTop();
    this.skipCancelled();
    return this.heap.topTime();
  }

  /** Runs `callback` at now + delay_s; among equal times, lower `priority` first, then scheduling order. */
  schedule(delay_s: number, callback: () => void, priority = 0): ScheduledEvent {
    if (typeof callback !== 'function') throw new TypeError(`schedule: callback must be a function, got ${typeof callback}`);
    if (priority !== 0) checkPriority(priority);
    const slot = this.enqueue(delay_s, callback, priority, CALLBACK);
    return new EventHandle(this, slot, this.seq - 1, this.clock + delay_s, priority);
  }

  /** Takes a scheduled event out of the queue; false if it already ran, was cancelled, or is not ours. */
  cancel(event: ScheduledEvent): boolean {
    if (!(event instanceof EventHandle) || event.sim !== this) return false;
    const slot = event.slot;
    if (this.kind[slot] !== CALLBACK || this.slotSeq[slot] !== event.seq) return false;
    this.kind[slot] = CANCELLED;
    this.callbacks[slot] = undefined;
    this.cancelledInHeap++;
    return true;
  }

  /** Resolves when the clock reaches now + delay_s (for async processes). */
  timeout(delay_s: number, priority = 0): Promise<void> {
    if (priority !== 0) checkPriority(priority);
    let resolve!: () => void;
    const resumed = new Promise<void>((r) => (resolve = r));
    // Outside the executor, so that a bad delay throws here rather than rejecting.
    this.enqueue(delay_s, resolve, priority, RESUME);
    return resumed;
  }

  /**
   * Call when code run by an event settles a promise that a process awaits by some other route
   * than `timeout` (a Resource grant does): `run` then lets that process finish before the next event.
   */
  markProcessResumed(): void {
    this.woke = true;
  }

  /**
   * Starts an async-function process at the current time. As in SimPy, the start comes before
   * other events due now, and the returned promise settles through an event scheduled when the
   * body finishes (so a waiter resumes after events already due at that time).
   */
  process<T>(body: () => Promise<T>): Promise<T> {
    if (typeof body !== 'function') throw new TypeError(`process: body must be a function, got ${typeof body}`);
    return new Promise<T>((resolve, reject) => {
      const finish = (settle: () => void) => this.enqueue(0, settle, 0, RESUME);
      const start = () => {
        let running: Promise<T>;
        try {
          running = body();
        } catch (e) {
          return finish(() => reject(e));
        }
        Promise.resolve(running).then(
          (v) => finish(() => resolve(v)),
          (e: unknown) => finish(() => reject(e)),
        );
      };
      this.enqueue(0, start, URGENT, RESUME);
    });
  }

  /**
   * Starts a generator process (SimPy style): yield a delay in seconds to be resumed,
   * synchronously, when it elapses; yield a promise to be resumed with its value when it
   * settles (a rejection is thrown into the generator, as is a bad yield).
   */
  processGenerator<T>(gen: Generator<number | Promise<unknown>, T, unknown>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const advance = (input: unknown, failed: boolean, error?: unknown): void => {
        let r: IteratorResult<number | Promise<unknown>, T>;
        try {
          r = failed ? gen.throw(error) : gen.next(input);
        } catch (e) {
          this.enqueue(0, () => reject(e), 0, RESUME);
          return;
        }
        if (r.done) {
          const value = r.value;
          this.enqueue(0, () => resolve(value), 0, RESUME);
          return;
        }
        const y = r.value;
        if (typeof y === 'number') {
          try {
            this.enqueue(y, () => advance(undefined, false), 0, CALLBACK);
          } catch (e) {
            advance(undefined, true, e);
          }
        } else if (y !== null && typeof (y as { then?: unknown }).then === 'function') {
          y.then(
            (v) => advance(v, false),
            (e: unknown) => advance(undefined, true, e),
          );
        } else {
          advance(undefined, true, new TypeError(`processGenerator: yield a delay in seconds or a promise, got ${String(y)}`));
        }
      };
      this.enqueue(0, () => advance(undefined, false), URGENT, CALLBACK);
    });
  }

  /** Pops and runs one event; false when the queue is empty. Does not wait for resumed processes. */
  step(): boolean {
    this.settleTop();
    this.skipCancelled();
    if (this.heap.size === 0) return false;
    this.fireNext();
    return true;
  }

  /**
   * Runs events due by `until_s` (inclusive) as fast as possible, then sets the clock to until_s
   * if finite. Async processes resumed meanwhile continue only after it returns: use `run` for them.
   */
  runSync(until_s = Infinity): void {
    this.checkUntil(until_s);
    this.settleTop();
    const heap = this.heap;
    while (heap.size > 0) {
      const time = heap.times[0]!;
      if (time > until_s) break;
      const slot = heap.slots[0]!;
      if (this.kind[slot] === CANCELLED) {
        heap.pop();
        this.release(slot);
        this.cancelledInHeap--;
        continue;
      }
      const callback = this.callbacks[slot]!;
      this.release(slot);
      this.clock = time;
      this.topFired = true;
      callback();
      if (this.topFired) {
        this.topFired = false;
        heap.pop();
      }
    }
    if (until_s !== Infinity && until_s > this.clock) this.clock = until_s;
  }

  /**
   * Runs events due by `until_s`, letting each resumed process run to its next wait before the
   * next event; paced against the wall clock if asked. With a finite until_s the clock ends there.
   */
  async run(until_s = Infinity, pacing?: Pacing): Promise<void> {
    this.checkUntil(until_s);
    const pacer = new Pacer(pacing, this.clock, 'reject');
    for (;;) {
      pacer.check();
      const t = this.peek();
      const due = t <= until_s;
      const next = due ? t : until_s;
      if (next === Infinity) return;
      if (!pacer.unpaced && !(await this.pace(pacer, next))) continue;
      if (!due) {
        if (this.peek() <= until_s) continue; // scheduled while we slept
        if (until_s > this.clock) this.clock = until_s;
        return;
      }
      if (this.fireNext()) await drainMicrotasks();
    }
  }

  /**
   * Advances the clock until `p` settles and returns its outcome. Several callers may wait at
   * once (concurrent clients of one twin): a single driver loop, paced as its first caller
   * asked, pops events for all of them and stops as soon as none is waiting. Rejects when the
   * queue empties while `p` is still pending (nothing in the simulation can settle it).
   */
  async runUntilSettled<T>(p: Promise<T>, pacing?: Pacing): Promise<T> {
    let settled = false;
    const watched = Promise.resolve(p).then(
      (v) => {
        settled = true;
        return v;
      },
      (e: unknown) => {
        settled = true;
        throw e;
      },
    );
    const settledSignal = watched.then(
      () => 'settled' as const,
      () => 'settled' as const,
    );
    checkPacing(pacing);
    this.waiting++;
    try {
      while (!settled) {
        this.driver ??= this.drive(new Pacer(pacing, this.clock, 'unpace'));
        const exit = await Promise.race([settledSignal, this.driver]);
        if (exit === 'empty' && !settled) {
          throw new Error(`simulation deadlock: the event queue is empty at t = ${this.clock} s but the awaited promise has not settled`);
        }
      }
      return await watched;
    } finally {
      this.waiting--;
    }
  }

  /** The driver: pops events while anyone waits and there is something to pop. */
  private async drive(pacer: Pacer): Promise<DriverExit> {
    // Never finish synchronously: `this.driver` must be assigned before it is cleared.
    await undefined;
    try {
      for (;;) {
        if (this.waiting === 0) return 'idle';
        const t = this.peek();
        if (t === Infinity) {
          // A settling promise may still schedule something once its continuations have run.
          await drainMicrotasks();
          if (this.peek() === Infinity) return this.waiting === 0 ? 'idle' : 'empty';
          continue;
        }
        if (!pacer.unpaced) {
          if (!(await this.pace(pacer, t))) continue;
          if (this.waiting === 0) return 'idle';
        }
        if (this.fireNext()) await drainMicrotasks();
      }
    } finally {
      this.driver = null;
    }
  }

  /** Sleeps until t_s is due on the wall clock; false if an earlier event arrived meanwhile. */
  private async pace(pacer: Pacer, t_s: number): Promise<boolean> {
    this.sleeper = pacer;
    this.sleepingFor_s = t_s;
    try {
      return await pacer.waitUntil(t_s);
    } finally {
      if (this.sleeper === pacer) {
        this.sleeper = undefined;
        this.sleepingFor_s = -Infinity;
      }
    }
  }

  /** Pops and runs the earliest live event; true when it resumed a process. */
  private fireNext(): boolean {
    this.settleTop();
    this.skipCancelled();
    const heap = this.heap;
    if (heap.size === 0) return false;
    const time = heap.times[0]!;
    const slot = heap.slots[0]!;
    const callback = this.callbacks[slot]!;
    this.woke = this.kind[slot] === RESUME;
    this.release(slot);
    this.clock = time;
    this.topFired = true;
    callback();
    this.settleTop();
    return this.woke;
  }

  /** Pops the already-run top entry if its callback scheduled nothing to replace it. */
  private settleTop(): void {
    if (this.topFired) {
      this.topFired = false;
      this.heap.pop();
    }
  }

  private skipCancelled(): void {
    const heap = this.heap;
    while (heap.size > 0 && this.kind[heap.slots[0]!] === CANCELLED) {
      this.release(heap.pop());
      this.cancelledInHeap--;
    }
  }

  private release(slot: number): void {
    this.callbacks[slot] = undefined;
    this.kind[slot] = FREE;
    this.freeSlots[this.freeCount++] = slot;
  }

  private checkUntil(until_s: number): void {
    if (typeof until_s !== 'number' || Number.isNaN(until_s) || until_s < this.clock) {
      throw new RangeError(`until_s must be a number >= now (${this.clock} s), got ${String(until_s)}`);
    }
  }

  /** Queues an event; `priority` is trusted (the public methods check theirs). */
  private enqueue(delay_s: number, callback: () => void, priority: number, kind: number): number {
    const time = this.clock + delay_s;
    // Also refuses NaN, and a sum that overflows to Infinity (the heap needs finite times).
    if (!(delay_s >= 0 && time < Infinity)) throw new RangeError(`delay_s must be a finite number >= 0, got ${String(delay_s)}`);
    const seq = this.seq;
    if (seq === SEQ_SPAN) throw new RangeError(`Simulation: more than ${SEQ_SPAN} events scheduled; start a new Simulation`);
    this.seq = seq + 1;
    let slot: number;
    if (this.freeCount > 0) slot = this.freeSlots[--this.freeCount]!;
    else {
      slot = this.callbacks.length;
      if (slot === this.kind.length) this.growSlots();
      this.callbacks.push(undefined);
    }
    this.callbacks[slot] = callback;
    this.kind[slot] = kind;
    this.slotSeq[slot] = seq;
    const tie = (priority - URGENT) * SEQ_SPAN + seq;
    if (this.topFired) {
      this.topFired = false;
      this.heap.replaceTop(time, tie, slot);
    } else this.heap.push(time, tie, slot);
    if (time < this.sleepingFor_s) this.sleeper!.wake();
    return slot;
  }

  private growSlots(): void {
    const n = this.kind.length * 2;
    const kind = new Uint8Array(n);
    kind.set(this.kind);
    const slotSeq = new Float64Array(n);
    slotSeq.set(this.slotSeq);
    const freeSlots = new Int32Array(n);
    freeSlots.set(this.freeSlots);
    this.kind = kind;
    this.slotSeq = slotSeq;
    this.freeSlots = freeSlots;
  }
}
