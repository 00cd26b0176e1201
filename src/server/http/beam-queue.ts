import { Subject, type Observable } from 'rxjs';
import { InstrumentError } from '../../protocol/instrument.js';

/** Who holds the instrument, and since when on the wall clock. */
export interface Holder {
  client: string;
  /** e.g. "DigitalTwin.move_stage" or "SCAN.dwell_time". */
  command: string;
  since_ms: number;
}

/**
 * One beam: work from every client (MCP sessions, REST callers) runs one job at a time, in
 * arrival order. The twin serialises its own commands too; queueing here as well keeps arrival
 * order across transports and lets clients see who holds the instrument and how many wait.
 */
export class BeamQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private waiting = 0;
  private current: Holder | null = null;
  private readonly changes = new Subject<Holder | null>();

  constructor(
    /** Refuse new work (InstrumentBusy) beyond this many queued jobs, so a flood cannot exhaust memory. */
    private readonly maxQueued = 1000,
    private readonly clock_ms: () => number = Date.now,
  ) {}

  get holder(): Holder | null {
    return this.current;
  }

  /** Jobs waiting behind the holder. */
  get queued(): number {
    return this.waiting;
  }

  /** Emits the holder each time it changes (null when the instrument falls idle). */
  get holder$(): Observable<Holder | null> {
    return this.changes.asObservable();
  }

  /** Runs `job` once every earlier job has settled; rejects with InstrumentBusy when the queue is full. */
  run<T>(client: string, command: string, job: () => Promise<T>): Promise<T> {
    if (this.waiting >= this.maxQueued) {
      return Promise.reject(new InstrumentError('InstrumentBusy', `${this.waiting} commands are already waiting for the instrument; retry later.`, command));
    }
    this.waiting++;
    const result = this.tail.then(async () => {
      this.waiting--;
      this.setHolder({ client, command, since_ms: this.clock_ms() });
      try {
        return await job();
      } finally {
        this.setHolder(null);
      }
    });
    // The chain must not break on a failed job; the caller sees the failure through `result`.
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Settles once every job queued so far has settled. */
  drain(): Promise<void> {
    return this.tail.then(() => undefined);
  }

  complete(): void {
    this.changes.complete();
  }

  private setHolder(h: Holder | null): void {
    this.current = h;
    this.changes.next(h);
  }
}
