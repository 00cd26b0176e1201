import { performance } from 'node:perf_hooks';

/**
 * How fast virtual time runs against the wall clock: speed 1 = the instrument's own pace, 60 = a
 * minute per second, 'max' = unpaced. Aborting `signal` ends the pacing: `Simulation.run` stops
 * and rejects with the abort reason; `Simulation.runUntilSettled` finishes the awaited promise at
 * full speed (a command already under way completes, as the in-process adapter documents).
 */
export interface Pacing {
  speed: number | 'max';
  signal?: AbortSignal;
}

/** Returns the speed, or throws a RangeError naming pacing.speed. */
export function checkPacing(pacing: Pacing | undefined): number | 'max' {
  const s = pacing?.speed ?? 'max';
  if (s !== 'max' && !(typeof s === 'number' && s > 0 && Number.isFinite(s))) {
    throw new RangeError(`pacing.speed must be a finite number > 0 or 'max', got ${String(s)}`);
  }
  return s;
}

/** What a paced loop does when its signal aborts. */
export type OnAbort = 'reject' | 'unpace';

/** setTimeout cannot wait less than about a millisecond; shorter gaps are not worth a sleep. */
const MIN_SLEEP_MS = 0.5;

/**
 * Paces virtual time against the wall clock: virtual time t is due at wall time
 * wallStart + (t - virtualStart) / speed. Anchored once, so a run that falls behind (a slow
 * handler) catches up instead of drifting. A sleep can be cut short with `wake()` (an earlier
 * event was scheduled meanwhile).
 */
export class Pacer {
  private readonly wallStart_ms = performance.now();
  private readonly speed: number;
  private readonly signal: AbortSignal | undefined;
  private wakeSleeper: (() => void) | undefined;

  constructor(
    pacing: Pacing | undefined,
    private readonly virtualStart_s: number,
    private readonly onAbort: OnAbort = 'reject',
  ) {
    const s = checkPacing(pacing);
    this.speed = s === 'max' ? Infinity : s;
    this.signal = pacing?.signal;
  }

  /** True when waits return at once (speed 'max', or aborted in 'unpace' mode). */
  get unpaced(): boolean {
    return this.speed === Infinity || (this.onAbort === 'unpace' && this.signal?.aborted === true);
  }

  /** In 'reject' mode, throws the abort reason once the signal has aborted. */
  check(): void {
    if (this.onAbort === 'reject') this.signal?.throwIfAborted();
  }

  /** Resolves true once virtual time `t_s` is due on the wall clock, false if woken earlier. */
  waitUntil(t_s: number): Promise<boolean> {
    this.check();
    if (this.unpaced) return Promise.resolve(true);
    const wait_ms = this.wallStart_ms + ((t_s - this.virtualStart_s) * 1000) / this.speed - performance.now();
    if (wait_ms < MIN_SLEEP_MS) return Promise.resolve(true);
    return new Promise<boolean>((resolve, reject) => {
      const signal = this.signal;
      const cleanUp = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', aborted);
        this.wakeSleeper = undefined;
      };
      const finish = (reached: boolean) => {
        cleanUp();
        resolve(reached);
      };
      const aborted = () => {
        if (this.onAbort === 'unpace') return finish(true);
        cleanUp();
        reject(signal!.reason);
      };
      const timer = setTimeout(() => finish(true), wait_ms);
      signal?.addEventListener('abort', aborted, { once: true });
      this.wakeSleeper = () => finish(false);
    });
  }

  /** Ends a sleep in progress early (its waitUntil resolves false). */
  wake(): void {
    this.wakeSleeper?.();
  }
}
