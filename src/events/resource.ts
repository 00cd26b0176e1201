import type { Simulation } from './simulation.js';

/**
 * Something that does one job at a time (the beam, the stage), or `capacity` at a time.
 * Waiters are served first come, first served; `holder` says who has it, for telemetry.
 */
export class Resource {
  private readonly holders: (string | undefined)[] = [];
  /** Waiters in arrival order; entries before `queueHead` have been served. */
  private readonly queue: ({ label: string | undefined; grant: () => void } | undefined)[] = [];
  private queueHead = 0;

  constructor(
    readonly sim: Simulation,
    readonly name: string,
    readonly capacity = 1,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`Resource ${name}: capacity must be an integer >= 1, got ${capacity}`);
  }

  get inUse(): number {
    return this.holders.length;
  }

  get queued(): number {
    return this.queue.length - this.queueHead;
  }

  /** Label of the longest-standing current holder. */
  get holder(): string | undefined {
    return this.holders[0];
  }

  /** Resolves with a release function once the resource is granted; releasing twice is harmless. */
  acquire(label?: string): Promise<() => void> {
    return new Promise((resolve) => {
      const grant = () => {
        this.holders.push(label);
        let released = false;
        // The grantee continues in a microtask: run() must let it finish before the next event.
        this.sim.markProcessResumed();
        resolve(() => {
          if (released) return;
          released = true;
          this.holders.splice(this.holders.indexOf(label), 1);
          this.grantNext();
        });
      };
      if (this.holders.length < this.capacity) grant();
      else this.queue.push({ label, grant });
    });
  }

  /** Runs fn holding the resource; releases it even when fn throws. */
  async use<T>(fn: () => Promise<T>, label?: string): Promise<T> {
    const release = await this.acquire(label);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private grantNext(): void {
    if (this.queueHead === this.queue.length) return;
    const next = this.queue[this.queueHead]!;
    this.queue[this.queueHead++] = undefined;
    // Compact now and then, so a long-lived resource does not keep a dead prefix.
    if (this.queueHead > 64 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    next.grant();
  }
}
