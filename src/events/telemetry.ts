import { Subject, type Observable } from 'rxjs';

/** Typed telemetry records as an rxjs stream. Emitting with no subscriber costs nothing. */
export class TelemetryBus<T> {
  private readonly subject = new Subject<T>();
  readonly records$: Observable<T> = this.subject.asObservable();

  emit(record: T): void {
    if (this.subject.observed) this.subject.next(record);
  }

  complete(): void {
    this.subject.complete();
  }
}
