import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

/** speed 1 = the instrument's own pace, 60 = a minute per second, 'max' = unpaced. */
export interface Pacing {
  speed: number | 'max';
  signal?: AbortSignal;
}

/**
 * Paces virtual time against the wall clock: an event at virtual time t fires no earlier than
 * wallStart + (t - virtualStart) / speed. Anchored when created, so a paced run that falls
 * behind (a slow handler) catches up instead of drifting.
 */
export class Pacer {
  private readonly wallStart = performance.now();
  private readonly speed: number;

  constructor(
    private readonly pacing: Pacing | undefined,
    private readonly virtualStart: number,
  ) {
    const s = pacing?.speed ?? 'max';
    if (s !== 'max' && !(s > 0 && Number.isFinite(s))) throw new RangeError(`pacing.speed must be a number > 0 or 'max', got ${String(s)}`);
    this.speed = s === 'max' ? Infinity : s;
  }

  async waitUntil(t_s: number): Promise<void> {
    this.pacing?.signal?.throwIfAborted();
    if (this.speed === Infinity) return;
    const due = this.wallStart + ((t_s - this.virtualStart) * 1000) / this.speed;
    const wait = due - performance.now();
    if (wait > 0.5) await sleep(wait, undefined, { signal: this.pacing?.signal });
  }
}
