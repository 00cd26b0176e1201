import { firstValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { TelemetryBus } from '../../src/events/index.js';

describe('TelemetryBus', () => {
  it('streams typed records to every subscriber, in order, until completed', async () => {
    const bus = new TelemetryBus<{ n: number }>();
    const a = firstValueFrom(bus.records$.pipe(toArray()));
    const b = firstValueFrom(bus.records$.pipe(toArray()));
    bus.emit({ n: 1 });
    bus.emit({ n: 2 });
    bus.complete();
    expect(await a).toEqual([{ n: 1 }, { n: 2 }]);
    expect(await b).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('drops records nobody listens to; a late subscriber sees only later ones', async () => {
    const bus = new TelemetryBus<string>();
    bus.emit('unheard');
    const late = firstValueFrom(bus.records$.pipe(toArray()));
    bus.emit('heard');
    bus.complete();
    expect(await late).toEqual(['heard']);
  });
});
